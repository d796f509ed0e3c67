"""Sweep folders as a CI cache: incremental reruns, the folder lock, manifest repair on resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sim.analysis.region import point_summary
from sim.cli.app import cli
from sim.engine.records import ReplicationRecords
from sim.engine.replication import run_replication
from sim.experiments.locking import FolderLock
from sim.experiments.store import SweepStore
from sim.experiments.sweep import build_design, parse_grid, resolve_points, runs_of
from sim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
STAFF = "team.detectives.0.count"
HOURS = "team.hours_per_week"


@pytest.fixture
def short(tmp_path: Path) -> Path:
    """A one-year version of the baseline (a run takes a few hundredths of a second)."""
    path = tmp_path / "short.yaml"
    path.write_text(
        f"extends: {BASELINE}\nname: short\nhorizon_days: 365\nwarmup_days: 60\nreplications: 3\n"
    )
    return path


def _sweep(short: Path, out: Path, *grid: str, resume: bool = False) -> str:
    args = ["sweep", "-q", str(short), "--executor", "serial", "--out", str(out)]
    for axis in grid:
        args += ["--grid", axis]
    result = CliRunner().invoke(cli, [*args, *(["--resume"] if resume else [])])
    assert result.exit_code == 0, result.output
    return result.stdout


def _new_manifest_lines(folder: Path, before: int) -> list[dict[str, object]]:
    lines = (folder / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[before:]]


CHANGES = [
    # (grid of the cached sweep, grid of the resumed one, points whose runs must be simulated)
    ([f"{STAFF}=4,6"], [f"{STAFF}=4,5,6"], [{STAFF: 5}]),  # a point added in the middle
    ([f"{STAFF}=4,6"], [f"{STAFF}=6,8"], [{STAFF: 8}]),  # one point dropped, one added
    (
        [f"{STAFF}=4,6"],
        [f"{STAFF}=4,6", f"{HOURS}=37,30"],
        [{STAFF: 4, HOURS: 30}, {STAFF: 6, HOURS: 30}],
    ),
]


@pytest.mark.parametrize(("before", "after", "new_points"), CHANGES)
def test_a_resumed_cache_runs_only_new_points_and_equals_a_fresh_sweep(
    short: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    before: list[str],
    after: list[str],
    new_points: list[dict[str, int]],
) -> None:
    """Resuming a copy with a changed design simulates only the new points' runs (counted), and
    its tables equal those of the new design swept from scratch."""
    cached = tmp_path / "cached"
    _sweep(short, cached, *before)
    restored = tmp_path / "restored"
    shutil.copytree(cached, restored)  # as a CI cache restores it
    lines_before = len((restored / "manifest.jsonl").read_text().splitlines())
    simulated_counts: list[int] = []  # the staffing of each replication simulated

    def counted(scenario: Scenario, replication: int, seed: int) -> ReplicationRecords:
        simulated_counts.append(scenario.team.detectives[0].count)
        return run_replication(scenario, replication, seed)

    monkeypatch.setattr("sim.experiments.executors.run_replication", counted)
    out = _sweep(short, restored, *after, resume=True)
    monkeypatch.undo()

    base = load_scenario(short)
    design = build_design(base, grid=after)
    expected = {
        r.run_id
        for r in runs_of(design, resolve_points(base, design, "x"), 3, base.seed)
        if any(all(r.params[k] == v for k, v in p.items()) for p in new_points)
    }
    simulated = _new_manifest_lines(restored, lines_before)
    assert {line["run_id"] for line in simulated} == expected
    assert len(simulated) == len(expected) == len(simulated_counts) == 3 * len(new_points)
    assert sorted(simulated_counts) == sorted(p[STAFF] for p in new_points for _ in range(3))
    assert f"{len(design.points) * 3 - len(expected)} already stored, {len(expected)} run" in out

    fresh = tmp_path / "fresh"
    _sweep(short, fresh, *after)
    resumed_table, fresh_table = SweepStore(restored).table(), SweepStore(fresh).table()
    pd.testing.assert_frame_equal(resumed_table, fresh_table)
    params = [p.key for p in design.parameters]
    pd.testing.assert_frame_equal(
        point_summary(resumed_table, params), point_summary(fresh_table, params)
    )


def test_resume_completes_a_manifest_cut_between_storing_and_recording(
    short: Path, tmp_path: Path
) -> None:
    """Runs stored whose manifest lines were lost (a kill between the two writes, a torn last
    line) get their lines back on --resume; nothing is simulated again."""
    out = tmp_path / "sweep"
    _sweep(short, out, f"{STAFF}=4,6")
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    assert len(lines) == 6
    lost = {json.loads(line)["run_id"] for line in lines[-3:]}
    manifest.write_text("".join(lines[:-3]) + lines[-3][:25])  # 3 lines lost, one torn
    stdout = _resume_capture(short, out, f"{STAFF}=4,6")
    assert "6 already stored, 0 run" in stdout
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(entries) == 6  # the torn fragment is gone, each run has one line
    restored = {e["run_id"] for e in entries if e.get("restored")}
    assert restored == lost
    store = SweepStore(out)
    assert set(store.manifest()["run_id"]) == store.stored_ids()
    assert (store.manifest()["status"] == "ok").all()


def _resume_capture(short: Path, out: Path, grid: str) -> str:
    args = ["sweep", "-q", str(short), "--executor", "serial", "--out", str(out), "--grid", grid]
    result = CliRunner().invoke(cli, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert "manifest.jsonl: restored the lines of 3 runs" in result.stderr
    return result.stdout


def test_a_second_sweep_on_a_locked_folder_exits_2_with_one_line(
    short: Path, tmp_path: Path
) -> None:
    """While a sweep holds the folder, another on it exits 2 with one line; nothing changes."""
    out = tmp_path / "sweep"
    _sweep(short, out, f"{STAFF}=4,6")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != ".lock"}
    with FolderLock(out):
        args = ["sweep", "-q", str(short), "--out", str(out), "--grid", f"{STAFF}=4,6,8"]
        result = CliRunner().invoke(cli, [*args, "--executor", "serial", "--resume"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "in use by another sweep" in line and f"pid {os.getpid()}" in line
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.name != ".lock"} == before


HOLD = """
import sys, time
from pathlib import Path
from sim.experiments.locking import FolderLock
FolderLock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


def test_the_lock_of_a_killed_sweep_is_taken_over(short: Path, tmp_path: Path) -> None:
    """A lock whose holder was killed (SIGKILL) is detected as stale and taken over, and said."""
    out = tmp_path / "sweep"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        args = ["sweep", "-q", str(short), "--out", str(out), "--grid", f"{STAFF}=4"]
        args += ["--executor", "serial", "-r", "1"]
        busy = CliRunner().invoke(cli, args)
        assert busy.exit_code == 2 and f"pid {holder.pid}" in busy.stderr
        assert not (out / "sweep.json").exists()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    deadline = time.monotonic() + 5
    taken = CliRunner().invoke(cli, args)
    while taken.exit_code == 2 and time.monotonic() < deadline:  # pragma: no cover - slow kernel
        time.sleep(0.1)
        taken = CliRunner().invoke(cli, args)
    assert taken.exit_code == 0, taken.output
    assert "taking over the lock" in taken.stderr and f"pid {holder.pid}" in taken.stderr
    assert (out / ".lock").read_text() == ""  # released when the sweep ended


@pytest.mark.parametrize(
    ("item", "values"),
    [
        ("k=null,28", [None, 28]),
        ("k=None,~,7.5", [None, None, 7.5]),
        ("k=spread,keep", ["spread", "keep"]),
    ],
)
def test_grid_values_read_null_numbers_and_words(item: str, values: list[object]) -> None:
    """--grid reads null (a lever switched off, e.g. no workload reviews), numbers and words."""
    assert parse_grid(item) == ("k", values)


def test_a_grid_with_null_sweeps_and_stores(short: Path, tmp_path: Path) -> None:
    """A grid axis holding null runs (null becomes the scenario's null) and its rows store."""
    out = tmp_path / "sweep"
    _sweep(short, out, "policies.workload_review.every_days=null,28")
    table = SweepStore(out).table()
    assert table["policies.workload_review.every_days"].isna().sum() == 3
    assert len(table) == 6
