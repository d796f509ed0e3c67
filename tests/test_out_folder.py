"""--out never destroys what polit-sim did not write, and is refused up front when unusable.

Each row sets up a situation around the output folder; ``run`` must refuse it with exit 2 and one
line before simulating (nothing written, the folder's content untouched), or accept it (an empty
folder, an earlier run result, which it says it replaces).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import sim
from sim.cli.app import cli
from sim.experiments.compare import default_compare_folder
from sim.experiments.results import clean_stale_temporaries, result_folder_kind

ROOT = Path(__file__).resolve().parents[1]
SHORT = ("--set", "horizon_days=40", "--set", "warmup_days=0", "-r", "1", "-q")


@dataclass(frozen=True)
class OutCase:
    """A situation around ``--out``: ``make`` builds it in a folder and returns the --out text."""

    name: str
    make: Callable[[Path], str]
    refused: str | None  # a fragment of the one line, or None when the run goes ahead


def _folder_with_notes(base: Path) -> str:
    (base / "mine").mkdir()
    (base / "mine" / "notes.txt").write_text("precious", encoding="utf-8")
    return "mine"


def _symlink(base: Path) -> str:
    (base / "real").mkdir()
    (base / "link").symlink_to("real")
    return "link"


def _file(base: Path) -> str:
    (base / "afile").write_text("precious", encoding="utf-8")
    return "afile"


def _under_file(base: Path) -> str:
    (base / "afile").write_text("precious", encoding="utf-8")
    return "afile/out"


def _fake_manifest(base: Path) -> str:
    (base / "fake").mkdir()
    (base / "fake" / "manifest.json").write_text(json.dumps({"hello": 1}), encoding="utf-8")
    (base / "fake" / "data.csv").write_text("precious", encoding="utf-8")
    return "fake"


def _broken_manifest(base: Path) -> str:
    (base / "broken").mkdir()
    (base / "broken" / "manifest.json").write_text("{not json", encoding="utf-8")
    return "broken"


def _earlier_run(base: Path) -> str:
    _run(base, "prev")
    return "prev"


def _earlier_run_plus_notes(base: Path) -> str:
    _run(base, "prev")
    (base / "prev" / "notes.txt").write_text("precious", encoding="utf-8")
    return "prev"


def _compare_result(base: Path) -> str:
    (base / "cmp").mkdir()
    versions = {"polit-sim": "0.1.0"}
    manifest = {"kind": "compare", "baseline": "b", "scenarios": {}, "versions": versions}
    manifest["files"] = ["manifest.json"]
    (base / "cmp" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return "cmp"


def _empty(base: Path) -> str:
    (base / "empty").mkdir()
    return "empty"


def _new(base: Path) -> str:
    return "new/deeper"


def _run(base: Path, out: str) -> None:
    result = CliRunner().invoke(
        cli, ["run", str(ROOT / "scenarios" / "baseline.yaml"), *SHORT, "--out", str(base / out)]
    )
    assert result.exit_code == 0, result.output


CASES = [
    OutCase("existing_folder_not_a_result", _folder_with_notes, "not a polit-sim result"),
    OutCase("symbolic_link", _symlink, "symbolic link"),
    OutCase("existing_file", _file, "is a file"),
    OutCase("under_a_file", _under_file, "which is a file"),
    OutCase("current_folder", lambda b: ".", "current or a parent"),
    OutCase("current_folder_slash", lambda b: "./", "current or a parent"),
    OutCase("parent_folder", lambda b: "..", "current or a parent"),
    OutCase("ends_in_dotdot", lambda b: "x/..", "current or a parent"),
    OutCase("holds_the_current_folder", lambda b: str(b.parent), "holds the current folder"),
    OutCase("manifest_not_polit_sim", _fake_manifest, "not a polit-sim result"),
    OutCase("manifest_not_json", _broken_manifest, "not a polit-sim result"),
    OutCase("result_of_another_command", _compare_result, "compare result"),
    OutCase("result_with_files_added", _earlier_run_plus_notes, "notes.txt"),
    OutCase("empty_folder", _empty, None),
    OutCase("earlier_run_result", _earlier_run, None),
    OutCase("new_nested_folder", _new, None),
]


def _snapshot(base: Path) -> dict[str, bytes]:
    out = {}
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_symlink():
            out[str(path.relative_to(base))] = path.read_bytes()
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_run_out_folder(case: OutCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run refuses an unusable or foreign --out before simulating (exit 2, one line, nothing
    changed) and replaces only its own earlier result, saying so."""
    work = tmp_path / "work"
    work.mkdir()
    out = case.make(work)
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    simulated: list[int] = []
    real_simulate = sim.simulate

    def spy(*args: object, **kwargs: object) -> object:
        simulated.append(1)
        return real_simulate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("sim.experiments.replications.simulate", spy)
    result = CliRunner().invoke(
        cli, ["run", str(ROOT / "scenarios" / "baseline.yaml"), *SHORT, "--out", out]
    )
    if case.refused is not None:
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and case.refused in lines[0], lines
        assert not simulated
        assert _snapshot(tmp_path) == before
        assert not [p for p in tmp_path.rglob(".*") if p.name.startswith(".")]
    else:
        assert result.exit_code == 0, result.output
        assert result_folder_kind(work / out) == "run"
        replaced = case.name == "earlier_run_result"
        assert ("replacing the earlier run result" in result.stderr) == replaced


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        (["baseline", "reform_mentoring"], ["baseline", "reform_mentoring"], True),
        (["baseline", "reform_mentoring"], ["reform_mentoring", "baseline"], False),
        (["baseline", "reform_mentoring"], ["baseline", "reform_workload_reviews"], False),
        (
            ["baseline"] + [f"reform_{n}" for n in ("mentoring", "spread_on_leave")],
            ["baseline"],
            False,
        ),
    ],
)
def test_compare_default_folder_depends_on_the_scenario_set(
    first: list[str], second: list[str], same: bool
) -> None:
    """compare's default folder names the baseline and a hash of the scenario set, so another
    set with the same baseline never replaces it."""

    def folder(names: list[str]) -> str:
        scenarios = [sim.load_scenario(ROOT / "scenarios" / f"{n}.yaml") for n in names]
        return default_compare_folder(scenarios, 0)

    a, b = folder(first), folder(second)
    assert a.startswith(f"compare_{first[0]}_")
    assert (a == b) == same


@pytest.mark.parametrize(
    ("marker", "removed"),
    [
        ("dead", True),
        ("alive", False),
        ("other_host", False),
        ("none", False),
        ("garbage", False),
    ],
)
def test_stale_temporary_folders_of_killed_writes_are_cleaned(
    tmp_path: Path, marker: str, removed: bool
) -> None:
    """A hidden temporary folder left by a killed write is removed by the next write beside it;
    one still being written, from another host, or not polit-sim's, is left alone."""
    import platform

    from sim.experiments.results import TMP_MARKER

    out = tmp_path / "res"
    stale = tmp_path / ".other_result.abc123"  # left by a write of another folder
    stale.mkdir()
    (stale / "cases.parquet").write_text("x", encoding="utf-8")
    dead = 2**22 + 12345  # above the default pid_max of 4194304
    text = {
        "dead": f"{dead} {platform.node()}",
        "alive": f"{os.getpid()} {platform.node()}",
        "other_host": f"{dead} elsewhere.example",
        "garbage": "not a pid",
    }.get(marker)
    if text is not None:
        (stale / TMP_MARKER).write_text(text, encoding="utf-8")
    clean_stale_temporaries(out)
    assert stale.exists() != removed


SWEEP_CASES = [
    ("sweep", "current_folder", lambda b: ".", "current or a parent"),
    ("sweep", "symbolic_link", _symlink, "symbolic link"),
    ("sweep", "existing_file", _file, "is a file"),
    ("sweep", "under_a_file", _under_file, "which is a file"),
    ("sweep-report", "folder_with_other_files", _folder_with_notes, "notes.txt"),
    ("sweep-report", "symbolic_link", _symlink, "symbolic link"),
    ("sweep-report", "parent_folder", lambda b: "..", "current or a parent"),
]


@pytest.mark.parametrize(
    ("command", "name", "make", "refused"), SWEEP_CASES, ids=[f"{c[0]}-{c[1]}" for c in SWEEP_CASES]
)
def test_sweep_out_folders_are_checked_up_front(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    name: str,
    make: Callable[[Path], str],
    refused: str,
) -> None:
    """sweep and sweep-report refuse an unusable --out (and sweep-report one holding other
    files) with exit 2 and one line, changing nothing."""
    work = tmp_path / "work"
    work.mkdir()
    out = make(work)
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    if command == "sweep":
        args = ["sweep", str(ROOT / "scenarios" / "baseline.yaml")]
        args += ["--grid", "team.detectives.0.count=4,6", "-r", "1", "--out", out]
    else:
        (tmp_path / "sweep").mkdir()
        args = ["sweep-report", str(tmp_path / "sweep"), "--out", out]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and refused in lines[0], lines
    assert _snapshot(tmp_path) == before


COMPARE_CASES = [
    ("existing_folder_not_a_result", _folder_with_notes, "not a polit-sim result"),
    ("run_result", _earlier_run, "holds a polit-sim run result"),
    ("symbolic_link", _symlink, "symbolic link"),
]


@pytest.mark.parametrize(
    ("name", "make", "refused"), COMPARE_CASES, ids=[c[0] for c in COMPARE_CASES]
)
def test_compare_out_folder_is_checked_before_simulating(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[Path], str],
    refused: str,
) -> None:
    """compare refuses a foreign or unusable --out, or a run's result, before simulating."""
    work = tmp_path / "work"
    work.mkdir()
    out = make(work)
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    args = ["compare", str(ROOT / "scenarios" / "baseline.yaml")]
    args += [str(ROOT / "scenarios" / "reform_mentoring.yaml"), *SHORT, "-r", "2", "--out", out]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and refused in lines[0], lines
    assert _snapshot(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only folder")
@pytest.mark.parametrize("where", ["new_folder_in_read_only_parent", "read_only_result"])
def test_read_only_out_folders_are_refused_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """An --out that cannot be written (a read-only parent, or a read-only earlier result) is
    refused before simulating, with exit 2 and one line."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if where == "read_only_result":
        _run(locked, "prev")
        target, frozen = locked / "prev", locked / "prev"
    else:
        target, frozen = locked / "new", locked
    frozen.chmod(0o555)
    try:
        result = CliRunner().invoke(
            cli, ["run", str(ROOT / "scenarios" / "baseline.yaml"), *SHORT, "--out", str(target)]
        )
    finally:
        frozen.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert "cannot" in result.stderr and len(result.stderr.strip().splitlines()) == 1


FORECAST = [
    "forecast",
    str(ROOT / "examples" / "forecast" / "team.yaml"),
    *("--cases", str(ROOT / "examples" / "forecast" / "open_cases.csv")),
    *("--as-of", "2025-03-03", "--horizon-days", "30", "-r", "2", "-q"),
]
OPTIMISE = [
    "optimise",
    str(ROOT / "examples" / "optimise" / "mmc.yaml"),
    *("--space", str(ROOT / "examples" / "optimise" / "mmc_space.yaml"), "-q"),
]
OTHER_COMMANDS = [
    ("forecast", FORECAST, _folder_with_notes, "not a polit-sim result"),
    ("forecast", FORECAST, _earlier_run, "holds a polit-sim run result"),
    ("forecast", FORECAST, _symlink, "symbolic link"),
    ("optimise", OPTIMISE, _folder_with_notes, "notes.txt"),
    ("optimise", OPTIMISE, _under_file, "which is a file"),
]


@pytest.mark.parametrize(
    ("command", "args", "make", "refused"),
    OTHER_COMMANDS,
    ids=[f"{c[0]}-{c[2].__name__.strip('_')}" for c in OTHER_COMMANDS],
)
def test_forecast_and_optimise_out_folders_are_checked_before_running(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    args: list[str],
    make: Callable[[Path], str],
    refused: str,
) -> None:
    """forecast replaces only an earlier forecast and optimise writes only into a folder of its
    own files: anything else is refused (exit 2, one line) with nothing changed."""
    work = tmp_path / "work"
    work.mkdir()
    out = make(work)
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, [*args, "--out", out])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and refused in lines[0], lines
    assert _snapshot(tmp_path) == before


LOG = str(ROOT / "examples" / "calibration" / "log")


def _own_scenario(base: Path) -> str:
    (base / "mine.yaml").write_text("name: mine  # a planner's own scenario\n", encoding="utf-8")
    return "mine.yaml"


CALIBRATION_COMMANDS = [
    ("calibrate", ["calibrate", LOG, "-q", "--out"], _own_scenario, "not written by polit-sim"),
    ("calibrate", ["calibrate", LOG, "-q", "--out"], _symlink, "symbolic link"),
    ("calibrate", ["calibrate", LOG, "-q", "--out"], _empty, "is a folder"),
    (
        "export-log",
        ["export-log", str(ROOT / "scenarios" / "baseline.yaml"), "--out"],
        _folder_with_notes,
        "notes.txt",
    ),
    (
        "backtest",
        ["backtest", LOG, str(ROOT / "examples" / "calibration" / "fitted.yaml"), "--out"],
        _folder_with_notes,
        "notes.txt",
    ),
]


@pytest.mark.parametrize(
    ("command", "args", "make", "refused"),
    CALIBRATION_COMMANDS,
    ids=[f"{c[0]}-{c[2].__name__.strip('_')}" for c in CALIBRATION_COMMANDS],
)
def test_calibration_commands_never_overwrite_what_they_did_not_write(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    args: list[str],
    make: Callable[[Path], str],
    refused: str,
) -> None:
    """calibrate overwrites only a file calibrate wrote; export-log and backtest write only into
    folders of their own files: anything else is refused up front (exit 2, one line)."""
    work = tmp_path / "work"
    work.mkdir()
    out = make(work)
    before = _snapshot(tmp_path)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, [*args, out])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and refused in lines[0], lines
    assert _snapshot(tmp_path) == before
