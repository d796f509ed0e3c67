"""Regenerate the results table of docs/model.md §2.3: the IOPC scenarios side by side.

Every scenario runs with the same seed (common random numbers). Prints a Markdown table; the
figures in docs/model.md come from this script. Usage::

    python docs/gen_iopc_table.py [--replications 200] [--as-was-replications 400] [--workers 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

import sim

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
ORDER = ["polit_2016_as_was", "polit_after_reforms"]


def _interval(row: pd.Series) -> str:
    mean, low, high = (float(row[k]) for k in ("mean", "ci_low", "ci_high"))
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def main() -> None:
    """Run the scenarios and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replications", type=int, default=200)
    parser.add_argument("--as-was-replications", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    names = ORDER + sorted(p.stem for p in SCENARIOS.glob("reform_*.yaml"))
    print(
        "| scenario | reps | P(a case ≥ 600 d) [95% CI] | P(a case ≥ 365 d) [95% CI] "
        "| cases ≥ 365 d per rep. [95% CI] | worst neglect, mean (d) "
        "| 600+ cases: inherited / held by `dc_pt` / both |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in names:
        reps = args.as_was_replications if name in ORDER else args.replications
        result = sim.simulate(SCENARIOS / f"{name}.yaml", replications=reps, workers=args.workers)
        summary = result.summary.set_index("metric")
        over = result.cases[result.cases["longest_neglect_days"] >= 600]
        if len(over) >= 10:
            inherited = over["inherited"].to_numpy(dtype=bool)
            held = (over["neglect_holder"] == "dc_pt").to_numpy()
            pooled = (
                f"{inherited.mean():.0%} / {held.mean():.0%} / {(inherited & held).mean():.0%}"
                f" (n={len(over)})"
            )
        else:
            pooled = f"(n={len(over)})" if len(over) else "—"
        count = summary.loc["neglect_over_365"]
        print(
            f"| {name} | {reps} | {_interval(summary.loc['any_neglect_over_600'])} "
            f"| {_interval(summary.loc['any_neglect_over_365'])} "
            f"| {count['mean']:.2f} [{count['ci_low']:.2f}, {count['ci_high']:.2f}] "
            f"| {summary.loc['max_neglect_days', 'mean']:.0f} | {pooled} |"
        )


if __name__ == "__main__":
    main()
