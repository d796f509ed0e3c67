"""Parameter sweeps: design shapes, bad input, executors agree, crashes, kill and resume, Dask."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.experiments.executors import CRASH_ENV
from sim.experiments.results import model_fingerprint
from sim.experiments.store import SweepStore
from sim.experiments.sweep import build_design, resolve_points, run_id, runs_of, same_as
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
GRID = ["--grid", "team.detectives.0.count=4,6", "--grid", "cases.arrivals.rate_per_year=200,400"]


@pytest.fixture
def short(tmp_path: Path) -> Path:
    """A two-year version of the baseline (a run takes a few hundredths of a second)."""
    path = tmp_path / "short.yaml"
    path.write_text(
        f"extends: {BASELINE}\nname: short\nhorizon_days: 730\nwarmup_days: 180\nreplications: 3\n"
    )
    return path


def sweep_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "sim", "sweep", "--quiet", *args]


def test_grid_is_the_full_factorial() -> None:
    """A grid design holds every combination of the axes' values, once."""
    base = load_scenario(BASELINE)
    design = build_design(
        base, grid=["team.detectives.0.count=4,5,6", "cases.arrivals.rate_per_year=200,300"]
    )
    assert len(design.points) == 6
    assert len({tuple(p.values()) for p in design.points}) == 6


def test_lhs_points_lie_in_their_ranges_and_integers_stay_integral() -> None:
    """LHS points fall within each range; an integer key gets integers covering lo..hi."""
    base = load_scenario(BASELINE)
    design = build_design(
        base,
        ranges=["team.detectives.0.count=3:7", "cases.arrivals.rate_per_year=150.5:450"],
        lhs=50,
    )
    counts = [p["team.detectives.0.count"] for p in design.points]
    rates = [p["cases.arrivals.rate_per_year"] for p in design.points]
    assert len(design.points) == 50
    assert all(isinstance(c, int) for c in counts)
    assert set(counts) == {3, 4, 5, 6, 7}
    assert all(150.5 <= r <= 450 for r in rates)
    # Latin hypercube: each tenth of the continuous range holds exactly 5 of the 50 points.
    bins = pd.cut(pd.Series(rates), bins=[150.5 + 29.95 * i for i in range(11)], right=False)
    assert (bins.value_counts() == 5).all()


def test_sobol_needs_a_power_of_two_and_makes_saltelli_points() -> None:
    """A Sobol design takes N = 2^m and holds N x (2k + 2) points; other N are refused."""
    base = load_scenario(BASELINE)
    ranges = ["team.detectives.0.count=3:7", "cases.arrivals.rate_per_year=150:450"]
    design = build_design(base, ranges=ranges, sobol=16)
    assert len(design.points) == 16 * (2 * 2 + 2)
    assert all(isinstance(p["team.detectives.0.count"], int) for p in design.points)
    with pytest.raises(Exception, match="power of 2"):
        build_design(base, ranges=ranges, sobol=12)


def test_points_share_seed_and_replications_and_run_ids_are_stable() -> None:
    """Every point uses the same seed and replication indices; run ids depend on the scenario."""
    base = load_scenario(BASELINE)
    design = build_design(base, grid=["team.detectives.0.count=4,6"])
    runs = runs_of(design, resolve_points(base, design, "x"), 3, 7)
    assert {(r.seed, r.replication) for r in runs[:3]} == {
        (r.seed, r.replication) for r in runs[3:]
    }
    again = runs_of(design, resolve_points(base, design, "x"), 5, 7)
    assert [r.run_id for r in runs] == [r.run_id for r in again if r.replication < 3]
    assert len({r.run_id for r in runs}) == len(runs)


def test_bad_parameters_exit_2_one_line_each_and_write_nothing(short: Path, tmp_path: Path) -> None:
    """An unknown key and an invalid value are each reported on one line; no folder is made."""
    out = tmp_path / "sweep"
    result = CliRunner().invoke(
        cli,
        [
            "sweep",
            str(short),
            "--grid",
            "team.no_such_key=1,2",
            "--grid",
            "team.hours_per_week=-1,37",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any("team.no_such_key" in line for line in lines)
    assert any("team.hours_per_week" in line for line in lines)
    assert not out.exists()


def test_serial_and_processes_store_identical_rows(short: Path, tmp_path: Path) -> None:
    """The process pool stores exactly the rows the serial executor stores."""
    tables = {}
    for executor in ("serial", "processes"):
        out = tmp_path / executor
        args = [str(short), *GRID, "--executor", executor, "--workers", "2", "--out", str(out)]
        subprocess.run(sweep_cmd(*args), check=True, cwd=tmp_path)
        tables[executor] = SweepStore(out).table()
    assert len(tables["serial"]) == 4 * 3
    pd.testing.assert_frame_equal(tables["serial"], tables["processes"])


def test_a_sweep_made_by_other_model_code_is_not_resumed(short: Path, tmp_path: Path) -> None:
    """--resume refuses a folder whose runs other model code made (exit 2, one line, untouched)."""
    out = tmp_path / "sweep"
    args = [str(short), "--grid", "team.detectives.0.count=4,6", "--executor", "serial"]
    assert CliRunner().invoke(cli, ["sweep", "--quiet", *args, "--out", str(out)]).exit_code == 0
    info_path = out / "sweep.json"
    info = json.loads(info_path.read_text())
    assert info["model_fingerprint"] == model_fingerprint()
    info["model_fingerprint"] = "0123456789abcdef"
    info_path.write_text(json.dumps(info))
    before = sorted(p.name for p in out.rglob("*"))
    result = CliRunner().invoke(cli, ["sweep", "--quiet", *args, "--out", str(out), "--resume"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model_fingerprint" in lines[0] and "0123456789abcdef" in lines[0]
    assert sorted(p.name for p in out.rglob("*")) == before


def test_a_run_that_always_kills_its_worker_fails_alone(short: Path, tmp_path: Path) -> None:
    """A run killing its worker process is tried 3 times, recorded failed; the rest are stored."""
    base = load_scenario(short)
    design = build_design(base, grid=["team.detectives.0.count=4,6"])
    runs = runs_of(design, resolve_points(base, design, str(short)), 3, base.seed)
    victim = runs[4].run_id
    out = tmp_path / "sweep"
    args = [str(short), "--grid", "team.detectives.0.count=4,6", "--out", str(out)]
    env = {**os.environ, CRASH_ENV: victim}
    done = subprocess.run(sweep_cmd(*args), env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert victim in done.stderr and "1 failed" in done.stdout
    manifest = SweepStore(out).manifest().set_index("run_id")
    assert manifest.loc[victim, "status"] == "failed"
    assert manifest.loc[victim, "attempts"] == 3
    assert (manifest.drop(victim)["status"] == "ok").all()
    stored = set(SweepStore(out).table()["run_id"])
    assert stored == {r.run_id for r in runs} - {victim}


def test_a_killed_sweep_resumed_stores_each_run_once(short: Path, tmp_path: Path) -> None:
    """SIGKILL mid-sweep, then --resume: the runs of an uninterrupted sweep, once each; a second
    sweep meanwhile is refused by the lock, which the resumed sweep takes over."""
    grid = ["--grid", "team.detectives.0.count=3,4,5,6,7", "--grid", "team.hours_per_week=30,37"]
    args = [str(short), *grid, "-r", "30", "--flush-every", "25"]
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        sweep_cmd(*args, "--out", str(out)), cwd=tmp_path, start_new_session=True
    )
    try:
        manifest = out / "manifest.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            lines = manifest.read_text().count("\n") if manifest.exists() else 0
            if lines >= 60:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be killed"
        # A second sweep on the folder while the first runs: refused, one line, exit 2.
        second = subprocess.run(
            sweep_cmd(*args, "--out", str(out), "--resume"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and f"pid {proc.pid}" in second.stderr
        assert proc.poll() is None, "the sweep ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        # The pool's worker processes share the sweep's process group (a new session).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    killed_at = len(SweepStore(out).stored_ids())
    assert 0 < killed_at < 300
    for part in SweepStore(out).parts():
        pq.read_table(part)  # no corrupt part
    resumed_run = subprocess.run(
        sweep_cmd(*args, "--out", str(out), "--resume"),
        check=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "taking over the lock" in resumed_run.stderr  # the killed sweep's lock was stale
    whole = tmp_path / "whole"
    subprocess.run(
        sweep_cmd(*args, "--out", str(whole), "--executor", "serial"), check=True, cwd=tmp_path
    )
    resumed = SweepStore(out)
    rows = pd.concat([pd.read_parquet(p) for p in resumed.parts()], ignore_index=True)
    assert rows["run_id"].is_unique, "a run was stored twice"
    assert not list(resumed.runs.glob(".part-*")) and not (resumed.runs / "journal.jsonl").exists()
    pd.testing.assert_frame_equal(resumed.table(), SweepStore(whole).table())
    assert len(resumed.table()) == 10 * 30
    manifest = resumed.manifest()  # every stored run has its line, whenever the kill came
    assert set(manifest["run_id"]) == resumed.stored_ids() and (manifest["status"] == "ok").all()


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@pytest.fixture
def dask_cluster(tmp_path: Path) -> Iterator[tuple[str, Path, list[subprocess.Popen[bytes]]]]:
    """A real Dask scheduler on 127.0.0.1 (workers added by the test); all stopped by pid."""
    pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            _start(
                [
                    *(sys.executable, "-m", "distributed.cli.dask_scheduler"),
                    *("--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                    *("--scheduler-file", str(scheduler_file)),
                ],
                tmp_path / "scheduler.log",
            )
        )
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        yield address, scheduler_file, procs
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _worker(scheduler_file: Path, log: Path) -> subprocess.Popen[bytes]:
    return _start(
        [
            *(sys.executable, "-m", "distributed.cli.dask_worker"),
            *("--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-nanny"),
            *("--host", "127.0.0.1", "--no-dashboard"),
        ],
        log,
    )


def test_dask_survives_a_killed_worker_and_matches_serial(
    short: Path, tmp_path: Path, dask_cluster: tuple[str, Path, list[subprocess.Popen[bytes]]]
) -> None:
    """A Dask worker killed mid-sweep, another started: rows identical to the serial sweep."""
    address, scheduler_file, procs = dask_cluster
    first = _worker(scheduler_file, tmp_path / "worker1.log")
    procs.append(first)
    args = [str(short), *GRID, "-r", "25"]
    out = tmp_path / "dask"
    sweep = subprocess.Popen(
        sweep_cmd(*args, "--executor", "dask", "--scheduler", address, "--out", str(out)),
        cwd=tmp_path,
    )
    procs.append(sweep)
    manifest = out / "manifest.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and sweep.poll() is None:
        if manifest.exists() and manifest.read_text().count("\n") >= 15:
            break
        time.sleep(0.05)
    assert sweep.poll() is None, "the sweep ended before the worker could be killed"
    _stop(first)
    procs.append(_worker(scheduler_file, tmp_path / "worker2.log"))
    assert sweep.wait(timeout=120) == 0
    serial = tmp_path / "serial"
    subprocess.run(
        sweep_cmd(*args, "--executor", "serial", "--out", str(serial)), check=True, cwd=tmp_path
    )
    pd.testing.assert_frame_equal(SweepStore(out).table(), SweepStore(serial).table())
    assert SweepStore(out).manifest()["run_id"].is_unique


def test_repeated_points_share_their_runs() -> None:
    """Points repeating a scenario (integer axes of a Sobol design) add no runs; ids are unique."""
    base = load_scenario(BASELINE)
    design = build_design(base, ranges=["team.detectives.0.count=4:5"], sobol=8)
    scenarios = resolve_points(base, design, "x")
    runs = runs_of(design, scenarios, 2, 1)
    assert len(design.points) == 8 * 4
    assert len(runs) == 2 * 2  # two distinct scenarios (4 or 5 detectives), two replications
    assert len({r.run_id for r in runs}) == len(runs)
    assert same_as(scenarios)[0] == 0


def test_run_ids_ignore_thresholds_but_not_the_model() -> None:
    """Editing expect: keeps a run's id (resume reuses it); changing the model changes it."""
    plain = load_scenario(BASELINE)
    with_expect = load_scenario(BASELINE, ["expect.utilisation.max=0.9"])
    other = load_scenario(BASELINE, ["team.hours_per_week=36"])
    assert run_id(plain, 1, 0) == run_id(with_expect, 1, 0)
    assert run_id(plain, 1, 0) != run_id(other, 1, 0)
    assert run_id(plain, 1, 0) != run_id(plain, 2, 0) != run_id(plain, 1, 1)
