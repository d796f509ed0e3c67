"""The ``sweep`` and ``sweep-report`` commands (assembled into the group by :mod:`sim.cli.app`).

Exit status as for every command: 0 every run stored; 1 the sweep finished but some runs failed
(each is listed); 2 bad input (one line per problem, nothing written).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sim.cli.common import set_option, workers_option, xlsx_options

if TYPE_CHECKING:
    from sim.experiments.store import SweepStore

__all__ = ["sweep", "sweep_report"]


class SweepProgress:
    """A tqdm bar on standard error with done / failed counts and an ETA."""

    def __init__(self, total: int, initial: int, enabled: bool) -> None:
        self.done = 0
        self.failed = 0
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=initial, desc="sweep", unit="run", file=sys.stderr
            )

    def update(self, ok: bool) -> None:
        """Count one finished run."""
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.set_postfix(done=self.done, failed=self.failed, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()


@click.command(short_help="Run a scenario over a design of parameter values (grid, LHS, Sobol).")
@click.argument("file")
@click.option(
    "--grid",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="A full-factorial axis: the field KEY takes each value in turn (repeatable; axes "
    "multiply). List items by name or index, e.g. team.detectives.dc.count=4,6,8.",
)
@click.option(
    "--lhs",
    type=int,
    metavar="N",
    help="A Latin hypercube of N points over the --range axes.",
)
@click.option(
    "--sobol",
    type=int,
    metavar="N",
    help="A Saltelli design for Sobol indices over the --range axes, N (a power of 2) base "
    "samples, N x (2 x axes + 2) points.",
)
@click.option(
    "--range",
    "ranges",
    multiple=True,
    metavar="KEY=LO:HI",
    help="A sampled axis for --lhs or --sobol: the field KEY between LO and HI (repeatable).",
)
@set_option("the scenario at every design point")
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1),
    help="Replications per design point (default: the scenario's replications:).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed shared by all points, so that points are compared under common random "
    "numbers (default: the scenario's seed:).",
)
@click.option(
    "--executor",
    type=click.Choice(["serial", "processes", "dask"]),
    default="processes",
    show_default=True,
    help="Where runs execute: this process, a pool of --workers processes, or a Dask "
    "distributed cluster at --scheduler.",
)
@workers_option("runs")
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    help="The Dask scheduler's address (with --executor dask).",
)
@click.option(
    "--out",
    type=click.Path(),
    help="Sweep folder (default results/sweeps/NAME).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Keep the runs already stored in --out and run only the missing ones (a changed "
    "design keeps the runs it shares with the stored one; runs made by other model code are "
    "refused).",
)
@click.option(
    "--flush-every",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Runs per Parquet part (finished runs are journalled at once in between).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def sweep(
    file: str,
    grid: tuple[str, ...],
    lhs: int | None,
    sobol: int | None,
    ranges: tuple[str, ...],
    overrides: tuple[str, ...],
    replications: int | None,
    seed: int | None,
    executor: str,
    workers: int,
    scheduler: str | None,
    out: str | None,
    resume: bool,
    flush_every: int,
    quiet: bool,
) -> None:
    """Run a scenario over a design of parameter values; store one row per run in --out.

    Read the results with sweep-report. Exits 1 when some runs failed (each is listed).
    """
    from sim.cli.common import fail_input, load_or_exit
    from sim.cli.safety import check_folder_path, preflight_or_exit
    from sim.experiments.executors import Done, ExecutorError, run_sweep
    from sim.experiments.locking import FolderBusy, FolderLock
    from sim.experiments.results import model_fingerprint, package_versions
    from sim.experiments.store import SweepStore
    from sim.experiments.sweep import build_design, model_key, resolve_points, runs_of, same_as
    from sim.scenario import ScenarioError, scenario_dump

    base = load_or_exit(file, overrides)
    root_seed = base.seed if seed is None else seed
    n_reps = replications or base.replications
    try:
        design = build_design(base, grid=grid, ranges=ranges, lhs=lhs, sobol=sobol)
        scenarios = resolve_points(base, design, file)
        # The base scenario's work, for every run of the design (points vary around it).
        preflight_or_exit(base, n_reps * len(scenarios), workers, file, keeps_cases=False)
    except ScenarioError as error:
        fail_input(error.problems)
    if executor == "dask" and not scheduler:
        fail_input(["--executor dask needs --scheduler tcp://HOST:PORT"])
    folder = check_folder_path(out if out else str(Path("results") / "sweeps" / base.name))
    store = SweepStore(folder, flush_rows=flush_every)
    info: dict[str, Any] = {
        "name": base.name,
        "file": file,
        "seed": root_seed,
        "replications": n_reps,
        "base_hash": model_key(base),
        "design": design.as_dict(),
        "same_as": same_as(scenarios),
        "base_scenario": scenario_dump(base),
        "command": ["polit-sim", *sys.argv[1:]],
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "model_fingerprint": model_fingerprint(),
        "point_keys": [model_key(s) for s in scenarios],
    }
    if (folder / "sweep.json").exists() and not resume:
        fail_input([f"{folder}: holds a sweep already; add --resume or choose another --out"])
    folder.mkdir(parents=True, exist_ok=True)
    try:
        lock = FolderLock(folder).acquire()  # released when the command ends, however it ends
    except FolderBusy as busy:
        fail_input([str(busy)])
    click.get_current_context().call_on_close(lock.release)
    if lock.stale:
        click.echo(
            f"{folder}: taking over the lock of a sweep that ended without releasing it"
            f" (pid {lock.stale.get('pid')} on {lock.stale.get('host')},"
            f" since {lock.stale.get('started_utc')})",
            err=True,
        )
    if (folder / "sweep.json").exists():
        if not resume:  # another sweep made it between the check above and the lock
            fail_input([f"{folder}: holds a sweep already; add --resume or choose another --out"])
        _check_resumable(store, info)
    runs = runs_of(design, scenarios, n_reps, root_seed)
    store.write_info(info)
    restored = store.open()
    if restored:
        click.echo(
            f"{folder}: manifest.jsonl: restored the lines of {restored} runs stored before"
            " an interruption",
            err=True,
        )
    stored = store.stored_ids() if resume else set()
    todo = [run for run in runs if run.run_id not in stored]
    bar = SweepProgress(len(runs), len(runs) - len(todo), enabled=not quiet)
    failures: list[Done] = []

    def on_done(done: Done) -> None:
        if done.row is not None:
            store.add(done.row)
        else:
            failures.append(done)
        store.record(
            {
                "run_id": done.run.run_id,
                "point": done.run.point,
                "replication": done.run.replication,
                "status": "ok" if done.ok else "failed",
                "attempts": done.attempts,
                "host": done.host,
                "seconds": round(done.seconds, 4),
                "error": done.error,
            }
        )
        bar.update(done.ok)

    start = time.perf_counter()
    try:
        if todo:  # a folder with every run stored (a CI cache hit) needs no pool nor cluster
            run_sweep(todo, on_done, executor, workers=workers, scheduler=scheduler)
    except ExecutorError as error:
        fail_input([str(error)])
    finally:
        bar.close()
        store.close()
    seconds = time.perf_counter() - start
    click.echo(
        f"{base.name}: {len(design.points)} points ({len(runs) // n_reps} distinct) x {n_reps}"
        f" replications = {len(runs)} runs;"
        f" {len(runs) - len(todo)} already stored, {len(todo) - len(failures)} run,"
        f" {len(failures)} failed in {seconds:.1f} s -> {folder}"
    )
    if failures:
        for done in failures:
            click.echo(
                f"  failed: run {done.run.run_id} (point {done.run.point}, replication"
                f" {done.run.replication}) after {done.attempts} attempts: {done.error}",
                err=True,
            )
        sys.exit(1)


def _check_resumable(store: SweepStore, info: dict[str, Any]) -> None:
    """Refuse a folder whose runs other model code made; say when the design has changed.

    A changed design (points added or removed, the base scenario edited, another seed) is
    resumed: the runs it shares with the stored ones are kept, only the others run, and the
    folder's tables are those of the new design (``SweepStore.table``).
    """
    from sim.cli.common import fail_input

    old = store.sweep_info()
    if old.get("model_fingerprint", info["model_fingerprint"]) != info["model_fingerprint"]:
        fail_input(
            [
                f"{store.root}: sweep.json: model_fingerprint: its runs were made by other model "
                f"code ({old['model_fingerprint']}, this is {info['model_fingerprint']}); "
                "resume with that code or choose another --out"
            ]
        )
    info["created_utc"] = old.get("created_utc", info["created_utc"])
    same = all(old.get(k) == info[k] for k in ("seed", "base_hash"))
    if not same or old.get("design", {}).get("points") != info["design"]["points"]:
        click.echo(
            f"{store.root}: the design differs from the stored sweep's: keeping the runs they"
            " share, running the others",
            err=True,
        )


# What sweep-report writes in its folder: it may rewrite a folder holding only these.
REPORT_FILES = frozenset({"*.csv", "*.png", "*.svg", "*.html", "*.xlsx"})


@click.command(
    "sweep-report",
    short_help="Tables, figures and report.html of a stored sweep; a gate for CI.",
)
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--out",
    type=click.Path(),
    help="Report folder (default FOLDER/report).",
)
@click.option(
    "--expect",
    "expect",
    multiple=True,
    metavar="METRIC:max=X",
    help="A threshold to map instead of the scenario's expect: (repeatable), e.g. "
    "any_neglect_over_365:max=0.05 or target_met_share:min=0.9.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["broken", "uncertain"]),
    help="Make the report a gate for CI: exit 1 when a design point in scope breaks a "
    "threshold (broken), or does not surely meet every one (uncertain).",
)
@click.option(
    "--point",
    "points",
    multiple=True,
    metavar="KEY=VALUE,...",
    help="Gate only the design points with these swept values, e.g. today's staffing "
    "team.detectives.dc.count=7 (repeatable; with --fail-on or --min-met-share).",
)
@click.option(
    "--min-met-share",
    type=click.FloatRange(0, 1),
    metavar="X",
    help="Exit 1 when less than this share (0 to 1) of the design points in scope surely "
    "meets every threshold.",
)
@xlsx_options(
    "each design point's summary, each parameter's effect and the per-run table",
    "per-run table",
    "runs.csv",
)
def sweep_report(
    folder: str,
    out: str | None,
    expect: tuple[str, ...],
    fail_on: str | None,
    points: tuple[str, ...],
    min_met_share: float | None,
    xlsx: bool,
    cases_csv: bool,
) -> None:
    """Tables, figures and report.html of a stored sweep; a gate for CI on request.

    Each metric against each swept parameter, Sobol indices for Sobol designs, and the region
    where the expect: thresholds hold; axes and tables are labelled in words (e.g. "number of
    detectives dc"), the keys stay in the CSV files.

    With --fail-on or --min-met-share it is also a gate for CI: it prints every failing design
    point (its levers, each threshold's metric, estimate and 95% CI) and exits 1 when the gate
    fails; 2 on bad input (nothing written); 3 on an internal error.
    """
    from sim.analysis.region import ThresholdError, parse_expect_option
    from sim.cli.common import fail_input, internal_error
    from sim.cli.safety import check_folder_path
    from sim.experiments.gate import GateError, GateResult, evaluate_gate, parse_point_option
    from sim.report.sweep import write_sweep_report

    gated = fail_on is not None or min_met_share is not None
    if points and not gated:
        fail_input(["--point needs --fail-on or --min-met-share"])
    report = check_folder_path(out if out else str(Path(folder) / "report"), allowed=REPORT_FILES)
    try:
        thresholds = parse_expect_option(expect) if expect else None
        gate: GateResult | None = None
        if gated:
            gate = evaluate_gate(
                Path(folder),
                expect=thresholds,
                fail_on=fail_on,  # type: ignore[arg-type]
                selectors=[parse_point_option(p) for p in points],
                min_met_share=min_met_share,
            )
        written = write_sweep_report(
            Path(folder),
            report,
            thresholds,
            xlsx=xlsx,
            runs_csv=cases_csv,
        )
    except (ThresholdError, GateError) as error:
        fail_input([str(error)])
    except Exception as error:
        internal_error(error)
    for path in written:
        click.echo(str(path))
    if gate is None:
        return
    for point in gate.failing:
        click.echo(point.describe(), err=True)
    if gate.share_too_low:
        click.echo(
            f"met share {gate.met_share:.3g} is below --min-met-share {min_met_share:g}"
            f" ({gate.count('met')} of {len(gate.points)} points meet every threshold)",
            err=True,
        )
    click.echo(gate.summary())
    if not gate.passed:
        sys.exit(1)
