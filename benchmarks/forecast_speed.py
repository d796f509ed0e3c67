"""Time a forecast of 200 open cases, 12 months ahead, on a few workers.

The snapshot is made the way a planner's test would: `scenarios/baseline.yaml` with referrals at
355 a year is run for three years and its state pictured (``capture_at``); the first 200 open
cases are kept. The forecast then runs `scenarios/baseline.yaml` from that snapshot. Prints the
wall time, the CPU time of this process and its workers, and the replications needed for ±0.05
on every case's probabilities::

    python -m benchmarks.forecast_speed --replications 500 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from dataclasses import replace
from pathlib import Path

from sim.engine.replication import run_replication
from sim.experiments.forecast import forecast, replications_for_precision
from sim.scenario import load_scenario
from sim.state.initial import snapshot_from_captured

ROOT = Path(__file__).resolve().parents[1]


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--replications", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--horizon-days", type=float, default=365.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    baseline = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    busier = load_scenario(
        ROOT / "scenarios" / "baseline.yaml", ["cases.arrivals.rate_per_year=355"]
    )
    captured = run_replication(busier, 0, 1, capture_at=1095.0).extra["captured"]
    snapshot = snapshot_from_captured(captured, baseline)
    snapshot = replace(snapshot, cases=snapshot.cases[: args.cases])

    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = forecast(
        [baseline],
        snapshot,
        horizon_days=args.horizon_days,
        replications=args.replications,
        seed=1,
        workers=args.workers,
    )
    wall, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    risk = result.scenarios[0].case_risk
    probabilities = [
        p
        for column in ("p_neglect_over_180", "p_neglect_over_365", "p_closed_by_horizon")
        for p in risk[column]
    ]
    out = {
        "open_cases": len(snapshot.cases),
        "replications": args.replications,
        "workers": args.workers,
        "horizon_days": args.horizon_days,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "replications_for_0.05": replications_for_precision(probabilities, 0.05),
        "load_average": list(__import__("os").getloadavg()),
    }
    print(json.dumps(out, indent=2))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
