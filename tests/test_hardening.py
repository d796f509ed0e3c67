"""Hardening, class by class: absurd sizes, figures that cannot be drawn, plugins, exit codes,
orphaned workers, Dask exposure in the docs, byte-identical outputs, the warm-up check."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
from click.testing import CliRunner

import sim
from sim.analysis.warmup import mser5_truncation, warmup_check
from sim.cli.app import cli
from sim.engine.budget import WorkLimitExceeded, estimate_events, run_bounded
from sim.experiments.budget import preflight_problems

ROOT = Path(__file__).resolve().parents[1]
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
SHORT = ("--set", "horizon_days=60", "--set", "warmup_days=0", "-r", "2", "-q")

# --- 2. absurd sizes ----------------------------------------------------------------------------

SIZES = [
    # (override, fragment of the one line): schema bounds, in the planner's units
    ("horizon_days=1e7", "horizon_days"),
    ("cases.arrivals.rate_per_year=1e9", "rate_per_year"),
    ("cases.arrivals.growth_per_year=50", "growth_per_year"),
    ("team.detectives.0.count=100000", "count"),
    ("team.block_hours=1e-9", "block_hours"),
    ("team.hours_per_week=1e6", "hours_per_week"),
    ("outputs.backlog_every_days=1e-9", "backlog_every_days"),
    ("replications=10000000", "replications"),
    ("seed=1e30", "seed"),
    ("cases.stages.0.effort_hours={dist: gamma, mean: 8, sd: 1e200}", "sd"),
    ("leave.short_sickness.episodes_per_year=1e9", "episodes_per_year"),
    ("policies.workload_review.every_days=1e-9", "every_days"),
    ("cases.grades.medium.target_days=1e12", "target_days"),
    # within the bounds, but too much work or memory: the pre-flight estimate
    ("horizon_days=36500", "simulation events"),
    ("cases.arrivals.rate_per_year=900000", "simulation events"),
]


@pytest.mark.parametrize(("override", "fragment"), SIZES, ids=[s[0][:40] for s in SIZES])
def test_absurd_sizes_are_refused_with_one_line(override: str, fragment: str) -> None:
    """validate refuses an absurd size with exit 2 and one line naming the field or the work."""
    extra = ["--set", "cases.arrivals.rate_per_year=900000"] if "36500" in override else []
    result = CliRunner().invoke(cli, ["validate", BASELINE, "--set", override, *extra])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines


@pytest.mark.parametrize("replications", [100_000, 50_000])
def test_preflight_refuses_runs_that_would_take_hours(replications: int) -> None:
    """run refuses, before simulating, a replication count whose work would take hours."""
    result = CliRunner().invoke(
        cli, ["run", BASELINE, "-r", str(replications), "-q", "--out", "/nonexistent/x"]
    )
    assert result.exit_code == 2, result.output
    assert "simulation events" in result.stderr or "memory" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", BASELINE, "--grid", "team.detectives.0.count=4,6", "-r", "100000000"],
        ["compare", BASELINE, BASELINE.replace("baseline", "reform_mentoring"), "-r", "90000"],
        ["compare", BASELINE, "--precision", "0.01", "--max-replications", "90000"],
    ],
    ids=["sweep", "compare", "compare-precision"],
)
def test_preflight_refuses_absurd_sweeps_and_comparisons(tmp_path: Path, args: list[str]) -> None:
    """sweep and compare refuse, before anything runs, a run count that would take hours."""
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "simulation events" in result.stderr or "memory" in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["baseline", "polit_2016_as_was", "reform_mentoring"])
def test_event_estimate_errs_high(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The estimate of events per replication is above what a shipped scenario schedules, and
    within a factor of 20 (the running bound's slack)."""
    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.yaml", ["horizon_days=400"])
    environments: list[simpy.Environment] = []

    class Recorded(simpy.Environment):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            environments.append(self)

    from sim.engine import replication

    monkeypatch.setattr(replication.simpy, "Environment", Recorded)
    replication.run_replication(scenario, 0)
    (env,) = environments
    counted = [next(env._eid)]  # type: ignore[attr-defined]  # events scheduled, SimPy's count
    assert counted[0] > 100
    estimate = estimate_events(scenario)
    assert counted[0] <= estimate <= 20 * max(counted[0], 1000), (counted[0], estimate)
    assert not preflight_problems(scenario, 30)


@pytest.mark.parametrize("limit", [0, 5_000, 20_000])
def test_a_replication_stops_cleanly_past_its_event_bound(limit: int) -> None:
    """A run that schedules events without end stops with WorkLimitExceeded, not a hang."""
    env = simpy.Environment()

    def busy(env: simpy.Environment) -> object:
        while True:
            yield env.timeout(1e-9)

    env.process(busy(env))
    started = time.perf_counter()
    with pytest.raises(WorkLimitExceeded, match="stopped after"):
        run_bounded(env, 10.0, limit, "replication 0")
    assert time.perf_counter() - started < 10


# --- 4. figures that cannot be drawn; strict types ----------------------------------------------

FIGURE_FAILURES = [
    ("backlog_figure", ValueError("Data cannot be log-scaled")),
    ("neglect_survival_figure", ValueError("Data cannot be log-scaled")),
    ("backlog_figure", OverflowError("cannot convert float infinity to integer")),
    ("neglect_survival_figure", RuntimeError("no font")),
]


@pytest.mark.parametrize(("figure", "error"), FIGURE_FAILURES)
def test_a_figure_that_cannot_be_drawn_never_loses_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figure: str, error: Exception
) -> None:
    """A failing figure skips the report with a warning naming the error; the data files are
    written and the run exits 0."""

    def broken(*args: object, **kwargs: object) -> object:
        raise error

    monkeypatch.setattr(f"sim.report.figures.{figure}", broken)
    monkeypatch.setattr(f"sim.report.compare.{figure}", broken)
    out = tmp_path / "o"
    result = CliRunner().invoke(cli, ["run", BASELINE, *SHORT, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "warning: figure" in result.stderr and str(error) in result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"cases.parquet", "summary.csv", "manifest.json"} <= names


def test_a_report_that_cannot_be_written_never_loses_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the comparison's report fails, compare warns and still writes comparison.csv and each
    scenario's data."""

    def broken(*args: object, **kwargs: object) -> str:
        raise ValueError("cannot render")

    monkeypatch.setattr("sim.report.compare.comparison_figures", broken)
    out = tmp_path / "o"
    args = ["compare", BASELINE, BASELINE.replace("baseline", "reform_mentoring"), *SHORT]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    assert "warning: figure report: cannot render" in result.stderr
    assert (out / "comparison.csv").exists()
    assert (out / "scenarios" / "baseline" / "cases.parquet").exists()


@pytest.mark.parametrize("rate", ["1", "0.5", "3"])
def test_low_rate_runs_write_their_results(tmp_path: Path, rate: str) -> None:
    """A valid scenario with almost no referrals runs to the end and writes its data files."""
    out = tmp_path / "o"
    args = ["run", BASELINE, *SHORT, "--set", f"cases.arrivals.rate_per_year={rate}"]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "cases.parquet").exists()


STRICT = [
    ("team.detectives.0.count=yes", "count"),
    ("team.detectives.0.fte=true", "fte"),
    ("horizon_days='120'", "horizon_days"),
    ("cases.arrivals.rate_per_year='300'", "rate_per_year"),
    ("replications=2.5", "replications"),
    ("seed='7'", "seed"),
    ("policies.workload_review.every_days='28'", "every_days"),
    ("policies.workload_review.act_probability=yes", "act_probability"),
    ("cases.stages.0.effort_hours.mean='8'", "mean"),
    ("leave.annual_days=no", "annual_days"),
]


@pytest.mark.parametrize(("override", "field"), STRICT, ids=[s[0] for s in STRICT])
def test_booleans_and_strings_are_not_numbers(override: str, field: str) -> None:
    """A boolean or a quoted string where a number belongs is refused, naming the field."""
    result = CliRunner().invoke(cli, ["validate", BASELINE, "--set", override])
    assert result.exit_code == 2, result.output
    assert field in result.stderr


@pytest.mark.parametrize("value", ["1e3", "1.5e3", "1000", "1_000"])
def test_numbers_in_exponent_notation_are_numbers(value: str) -> None:
    """1e3 is a number (as YAML 1.2 reads it), not text that strict types would refuse."""
    result = CliRunner().invoke(
        cli, ["validate", BASELINE, "--set", f"cases.arrivals.rate_per_year={value}"]
    )
    assert result.exit_code == 0, result.output


# --- 5. plugins -----------------------------------------------------------------------------------

SHADOWS = ["tqdm", "numpy", "yaml", "click", "pandas", "simpy", "scipy", "pydantic", "sim"]


def test_modules_next_to_a_scenario_are_never_imported(tmp_path: Path) -> None:
    """Neither tqdm.py nor any other module lying next to a scenario runs when the scenario is
    run; the plugin file it lists does."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    marker = tmp_path / "ran"
    for name in SHADOWS:
        (folder / f"{name}.py").write_text(
            f"open({str(marker)!r}, 'a').write('{name}\\n')\n", encoding="utf-8"
        )
    (folder / "rules.py").write_text(
        f"open({str(marker)!r}, 'a').write('rules\\n')\n", encoding="utf-8"
    )
    text = Path(BASELINE).read_text(encoding="utf-8")
    (folder / "with_plugin.yaml").write_text(text + "\nplugins: [rules.py]\n", encoding="utf-8")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    for scenario in ("with_plugin.yaml",):
        result = subprocess.run(
            [sys.executable, "-m", "sim", "run", str(folder / scenario), *SHORT],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        assert result.returncode == 0, result.stderr
    ran = marker.read_text(encoding="utf-8").split() if marker.exists() else []
    assert [r for r in ran if r in SHADOWS] == []
    assert "rules" in ran


RAISING_PLUGIN = """
from dataclasses import dataclass

from sim.policies import WORK_ORDER


@WORK_ORDER.register("raising_order")
@dataclass(frozen=True)
class RaisingOrder:
    def key(self, case):
        if case.case_id > 20:
            raise ValueError("no key for this case")
        return (float(case.grade), case.case_id)
"""


def run_with_plugin(
    tmp_path: Path, plugin: str, file_name: str, workers: str
) -> subprocess.CompletedProcess[str]:
    """``polit-sim run`` (short) of the baseline ordered by the ``raising_order`` rule that
    ``plugin`` (source text) registers from ``file_name``, in a fresh process."""
    (tmp_path / file_name).write_text(plugin, encoding="utf-8")
    text = Path(BASELINE).read_text(encoding="utf-8")
    text = text.replace(
        "work_order: {rule: grade_then_oldest}", "work_order: {rule: raising_order}"
    )
    assert "raising_order" in text
    (tmp_path / "s.yaml").write_text(text + f"\nplugins: [{file_name}]\n", encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            str(tmp_path / "s.yaml"),
            *SHORT,
            "--workers",
            workers,
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)},
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_error_in_a_plugin_names_the_plugin_and_exits_2(tmp_path: Path, workers: str) -> None:
    """A plugin that raises while the model runs is the scenario's fault: one line naming the
    plugin file and line, exit 2 (not 3, an internal error), nothing written; in a worker too."""
    result = run_with_plugin(tmp_path, RAISING_PLUGIN, "raising.py", workers)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "raising.py") in last and "line 12, in key" in last, last
    assert "ValueError: no key for this case" in last and "internal error" not in last
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_a_crash_on_what_a_plugin_returned_names_the_loaded_plugins(tmp_path: Path) -> None:
    """Keys that cannot be compared fail inside the engine, not in the plugin: still exit 3,
    but the one line names the plugins loaded, as where to look."""
    plugin = RAISING_PLUGIN.replace(
        """        if case.case_id > 20:
            raise ValueError("no key for this case")
        return (float(case.grade), case.case_id)""",
        """        return (None,) if case.grade == 1 else (1.0,)""",
    )
    assert "None" in plugin
    result = run_with_plugin(tmp_path, plugin, "odd_keys.py", "1")
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "internal error: TypeError" in last and "plugins loaded: odd_keys.py" in last, last
    assert not (tmp_path / "o").exists()


# --- 6. exit codes --------------------------------------------------------------------------------

CRASHES = [
    RuntimeError("boom"),
    MemoryError(),
    OSError(28, "No space left on device"),
    KeyError("x"),
]


@pytest.mark.parametrize("error", CRASHES, ids=[type(e).__name__ for e in CRASHES])
def test_internal_errors_exit_3_with_one_line_and_a_saved_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """An unexpected exception exits 3 (not 1, a broken threshold), prints one line naming the
    error and the file holding the full traceback, and shows no traceback."""

    def crash(*args: object, **kwargs: object) -> object:
        raise error

    monkeypatch.setattr("sim.experiments.replications.simulate", crash)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = CliRunner().invoke(cli, ["run", BASELINE, *SHORT, "--out", str(tmp_path / "o")])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and type(error).__name__ in lines[0]
    saved = Path(re.search(r"traceback in (\S+)\)", lines[0]).group(1))  # type: ignore[union-attr]
    assert saved.is_file() and "Traceback" in saved.read_text(encoding="utf-8")
    assert not (tmp_path / "o").exists()


def test_an_interrupted_command_exits_130_not_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during a run exits 130 with one line, never 1 (a broken threshold) or 3."""

    def interrupt(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.experiments.replications.simulate", interrupt)
    result = CliRunner().invoke(cli, ["run", BASELINE, *SHORT, "--out", str(tmp_path / "o")])
    assert result.exit_code == 130, result.output
    assert result.stderr.strip() == "interrupted (nothing written)"
    assert not (tmp_path / "o").exists()


# --- 7. pool workers end with their parent ------------------------------------------------------


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.add(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize(
    "command",
    [
        ["run", BASELINE, "-r", "40", "-w", "2", "-q"],
        ["compare", BASELINE, str(ROOT / "scenarios" / "reform_mentoring.yaml"), "-r", "40"],
    ],
    ids=["run", "compare"],
)
def test_pool_workers_end_when_their_parent_is_killed(tmp_path: Path, command: list[str]) -> None:
    """SIGKILL of a command running a process pool leaves no orphaned worker behind."""
    args = [*command, "--out", str(tmp_path / "o")]
    if command[0] == "compare":
        args += ["-w", "2", "-q"]
    parent = subprocess.Popen(
        [sys.executable, "-m", "sim", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            # spawned workers (the resource tracker is a child too, and exits on its own)
            workers = {p for p in _children(parent.pid) if _alive(p)}
            workers = {
                p
                for p in workers
                if "spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
            }
        assert len(workers) >= 2, "the pool never started"
        time.sleep(1.0)  # let the workers start their watchdog
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    survivors = [p for p in workers if _alive(p)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived their parent"


# --- 9. Dask exposure in the documented commands ------------------------------------------------

DASK_COMMAND = re.compile(r"dask (scheduler|worker)\b[^\n]*(?:\\\n[^\n]*)*")


def _dask_commands() -> list[str]:
    out = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for block in re.findall(r"```(?:bash|sh|console)?\n(.*?)```", text, flags=re.S):
            out += [m.group(0) for m in DASK_COMMAND.finditer(block)]
    return out


@pytest.mark.parametrize("command", _dask_commands())
def test_documented_dask_commands_bind_to_an_address_and_keep_dashboards_private(
    command: str,
) -> None:
    """Every documented dask scheduler / worker command names the address it listens on (never
    0.0.0.0) and has its dashboard off or on loopback."""
    assert "--host" in command, command
    assert "0.0.0.0" not in command
    assert "--no-dashboard" in command or "--dashboard-address 127.0.0.1" in command, command


def test_there_are_documented_dask_commands() -> None:
    """docs/scaling.md documents scheduler and worker commands (so the test above checks some)."""
    kinds = {c.split()[1] for c in _dask_commands()}
    assert kinds == {"scheduler", "worker"}


# --- 10. every output file identical for the same seed and code ---------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["run", BASELINE, *SHORT],
        pytest.param(
            [
                "compare",
                BASELINE,
                str(ROOT / "scenarios" / "reform_mentoring.yaml"),
                *("-r", "2", "-q", "--svg", "--set", "horizon_days=60", "--set", "warmup_days=0"),
            ],
            marks=pytest.mark.slow,
        ),
    ],
    ids=["run", "compare"],
)
def test_every_output_file_is_identical_for_the_same_seed(
    tmp_path: Path, command: list[str]
) -> None:
    """Two runs with the same seed write byte-identical files: data, manifest, PNG, SVG, HTML."""
    trees = []
    for k in (1, 2):
        out = tmp_path / f"o{k}"
        result = CliRunner().invoke(cli, [*command, "--seed", "5", "--out", str(out)])
        assert result.exit_code in (0, 1), result.output
        trees.append(
            {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert trees[0].keys() == trees[1].keys()
    assert any(name.endswith((".svg", ".png")) for name in trees[0])
    differ = [name for name in trees[0] if trees[0][name] != trees[1][name]]
    assert not differ, differ


# --- 13. warm-up -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ramp", "low", "high"),
    [(0, 0, 25), (100, 80, 160), (250, 220, 320)],
)
def test_mser5_truncates_near_the_end_of_the_initial_transient(
    ramp: int, low: int, high: int
) -> None:
    """MSER-5 on a series that climbs for ``ramp`` samples and then fluctuates around a level
    truncates close to where the climb ends."""
    rng = np.random.default_rng(ramp + 1)
    noise = rng.normal(0.0, 2.0, 1000)
    level = np.minimum(np.arange(1000) / max(ramp, 1), 1.0) * 50.0 if ramp else np.full(1000, 50.0)
    cut = mser5_truncation(level + noise)
    assert cut is not None and low <= cut <= high, cut


def test_mser5_finds_no_truncation_in_a_series_that_never_settles() -> None:
    """A backlog that grows steadily is reported as not settled."""
    days = np.arange(0.0, 700.0, 7.0)
    backlog = pd.DataFrame({"day": days, "open_cases": days * 0.5, "replication": 0})
    check = warmup_check(backlog, 100.0)
    assert check is not None and not check.settled and check.too_short


@pytest.mark.parametrize(("warmup", "warned"), [("0", True), ("1500", False)])
def test_run_warns_when_the_warmup_is_shorter_than_mser5_suggests(
    tmp_path: Path, warmup: str, warned: bool
) -> None:
    """run says on stderr and in the manifest when MSER-5 puts the warm-up past warmup_days."""
    out = tmp_path / "o"
    args = ["run", BASELINE, "-r", "4", "-q", "--set", "horizon_days=3000"]
    result = CliRunner().invoke(cli, [*args, "--set", f"warmup_days={warmup}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("MSER-5" in result.stderr) == warned, result.stderr
    import json

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["warmup_check"]["too_short"] == warned


# --- 3. the snapshot files of forecast: regular files of bounded size only ----------------------

SNAPSHOT_TRAPS = ["fifo", "dev_zero", "directory", "symlink_loop"]


@pytest.mark.parametrize("trap", SNAPSHOT_TRAPS)
def test_forecast_reads_only_regular_snapshot_files(tmp_path: Path, trap: str) -> None:
    """A snapshot that is a FIFO, a device, a directory or a symlink loop is refused with one
    line naming it (exit 2), without blocking or reading without end."""
    cases = tmp_path / "open_cases.csv"
    if trap == "fifo":
        os.mkfifo(cases)
    elif trap == "dev_zero":
        cases = Path("/dev/zero")
    elif trap == "directory":
        cases.mkdir()
    else:
        cases.symlink_to(tmp_path / "loop.csv")
        (tmp_path / "loop.csv").symlink_to(cases)
    args = ["forecast", BASELINE, "--cases", str(cases), "--as-of", "2024-01-01"]
    result = subprocess.run(
        [sys.executable, "-m", "sim", *args, "--out", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert str(cases) in result.stderr
    assert not (tmp_path / "o").exists()
