"""Variance of a paired difference under common random numbers (CRN) against independent seeds.

Two scenarios are run for the same replications twice: once with the same root seed (CRN: the
same referrals, case attributes and leave draws) and once with the second scenario on another
root seed (independent). For each headline metric the script reports the variance of the
per-replication difference in both cases and their ratio, with a bootstrap 95% interval of the
ratio (replications resampled jointly). The target is a ratio of at least 5.

``--diagnose`` then finds which random stream breaks the synchronisation: for each family of
streams (``arrivals``, ``cases.*``, ``leave.annual``, ``leave.short``, ``leave.long``,
``policy.*``, ``wellbeing.*``) the second scenario is run with only that family on an
independent seed and the variance of the difference is compared with full CRN: a family whose
desynchronisation barely raises the variance was not contributing common randomness (or is
already drifting apart under CRN).

    python benchmarks/crn_variance.py                       # as-was against after-reforms
    python benchmarks/crn_variance.py A.yaml B.yaml --replications 300 --workers 2 --diagnose
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.random import PCG64, Generator, SeedSequence

import sim.engine.replication
from sim.engine.streams import Streams, stable_hash
from sim.experiments.replications import simulate
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
METRICS = (
    "any_neglect_over_365",
    "share_neglect_over_180",
    "share_neglect_over_365",
    "neglect_over_180",
    "max_neglect_days",
    "mean_wait_days",
    "mean_backlog",
    "utilisation",
)
FAMILIES: dict[str, Callable[[str], bool]] = {
    "arrivals": lambda name: name == "arrivals",
    "cases.*": lambda name: name.startswith("cases."),
    "leave.annual": lambda name: name.startswith("leave.annual."),
    "leave.short": lambda name: name.startswith("leave.short."),
    "leave.long": lambda name: name.startswith("leave.long."),
    "policy.*": lambda name: name.startswith("policy."),
    "wellbeing.*": lambda name: name.startswith("wellbeing."),
}
OFFSET = 7_919
"""Added to the root seed of a stream that is to be independent of the other scenario's."""


def partly_independent(family: Callable[[str], bool]) -> type[Streams]:
    """A :class:`Streams` whose streams in ``family`` draw from a different root seed."""

    class PartlyIndependent(Streams):
        def __getitem__(self, name: str) -> Generator:
            if not family(name):
                return super().__getitem__(name)
            rng = self._cache.get(name)
            if rng is None:
                sequence = SeedSequence(
                    self.root_seed + OFFSET, spawn_key=(self.replication, stable_hash(name))
                )
                rng = self._cache[name] = Generator(PCG64(sequence))
            return rng

    return PartlyIndependent


def metrics_of(
    scenario: Scenario, n: int, seed: int, workers: int, streams: type[Streams] = Streams
) -> pd.DataFrame:
    """Per-replication metrics, with ``streams`` standing in for :class:`Streams` if given."""
    if streams is Streams:
        return simulate(scenario, n, seed, workers=workers).replications.set_index("replication")
    original = sim.engine.replication.Streams
    sim.engine.replication.Streams = streams  # type: ignore[misc]
    try:  # a patched class does not reach spawned workers: run here
        return simulate(scenario, n, seed).replications.set_index("replication")
    finally:
        sim.engine.replication.Streams = original  # type: ignore[misc]


def correlation(x: pd.Series, y: pd.Series) -> float:
    """Pearson correlation, NaN when either side is constant (say always 0)."""
    a, b = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def variance_ratio(
    crn: np.ndarray, independent: np.ndarray, rng: Generator, resamples: int = 2000
) -> tuple[float, float, float]:
    """var(independent) / var(crn) with a bootstrap 95% interval (pairs resampled together)."""
    v_crn = float(np.var(crn, ddof=1))
    v_ind = float(np.var(independent, ddof=1))
    ratio = v_ind / v_crn if v_crn > 0 else float("inf")
    idx = rng.integers(0, len(crn), size=(resamples, len(crn)))
    num = np.var(independent[idx], axis=1, ddof=1)
    den = np.var(crn[idx], axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.where(den > 0, num / den, np.inf)
    low, high = np.quantile(boot, [0.025, 0.975])
    return ratio, float(low), float(high)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("baseline", nargs="?", default="scenarios/polit_2016_as_was.yaml")
    parser.add_argument("other", nargs="?", default="scenarios/polit_after_reforms.yaml")
    parser.add_argument("--replications", "-r", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", "-w", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--diagnose", action="store_true", help="per stream family")
    args = parser.parse_args(argv)

    a = load_scenario(ROOT / args.baseline, args.overrides)
    b = load_scenario(ROOT / args.other, args.overrides)
    seed = a.seed if args.seed is None else args.seed
    n = args.replications
    started = time.perf_counter()
    base = metrics_of(a, n, seed, args.workers)
    crn = metrics_of(b, n, seed, args.workers)
    ind = metrics_of(b, n, seed + OFFSET, args.workers)
    rng = Generator(PCG64(SeedSequence(seed)))
    rows = []
    for metric in METRICS:
        d_crn = (crn[metric] - base[metric]).to_numpy(dtype=float)
        d_ind = (ind[metric] - base[metric]).to_numpy(dtype=float)
        keep = ~(np.isnan(d_crn) | np.isnan(d_ind))
        ratio, low, high = variance_ratio(d_crn[keep], d_ind[keep], rng)
        rows.append(
            {
                "metric": metric,
                "mean_difference": float(np.mean(d_crn[keep])),
                "var_diff_crn": float(np.var(d_crn[keep], ddof=1)),
                "var_diff_independent": float(np.var(d_ind[keep], ddof=1)),
                "ratio": ratio,
                "ratio_ci_low": low,
                "ratio_ci_high": high,
                "corr_crn": correlation(base[metric][keep], crn[metric][keep]),
            }
        )
    table = pd.DataFrame(rows)
    print(f"{a.name} vs {b.name}: {n} replications, seed {seed}")
    with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
        print(table.to_string(index=False))
    if args.diagnose:
        diag = []
        for family, member in FAMILIES.items():
            part = metrics_of(b, n, seed, 1, partly_independent(member))
            row: dict[str, object] = {"independent stream family": family}
            for metric in METRICS:
                d_part = (part[metric] - base[metric]).to_numpy(dtype=float)
                d_crn = (crn[metric] - base[metric]).to_numpy(dtype=float)
                keep = ~(np.isnan(d_part) | np.isnan(d_crn))
                v_crn = float(np.var(d_crn[keep], ddof=1))
                row[metric] = float(np.var(d_part[keep], ddof=1)) / v_crn if v_crn else np.nan
            diag.append(row)
        print("\nvariance of the difference with one family independent, over full CRN:")
        with pd.option_context("display.width", 200, "display.float_format", "{:.3g}".format):
            print(pd.DataFrame(diag).to_string(index=False))
    print(f"\n{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
