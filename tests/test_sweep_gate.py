"""sweep-report as a CI gate: exit codes, the failing points it prints, and the --point scope."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from sim.cli.app import cli
from sim.experiments.gate import GateError, parse_point_option
from sim.experiments.store import SweepStore
from sim.experiments.sweep import run_id_of

STAFF = "team.detectives.0.count"
CADENCE = "policies.workload_review.every_days"
REPS = 10
# The stored sweep: 2 x 2 points, each with a known verdict against utilisation <= 0.9 and
# mean_wait_days <= 30 (CIs from 10 replications: about +-0.01 for the narrow ones).
VERDICT = {(4, 28): "uncertain", (4, 56): "broken", (6, 28): "met", (6, 56): "met"}
SPREAD = np.linspace(-1.0, 1.0, REPS)


def _metrics(staff: int, cadence: int, r: int) -> dict[str, float]:
    verdict = VERDICT[(staff, cadence)]
    if verdict == "met":
        return {"utilisation": 0.5 + 0.01 * SPREAD[r], "mean_wait_days": 10 + SPREAD[r]}
    if verdict == "broken":  # both thresholds broken, beyond any doubt
        return {"utilisation": 0.97 + 0.01 * SPREAD[r], "mean_wait_days": 60 + SPREAD[r]}
    # utilisation straddles its threshold: the CI of a mean of 0.9 holds 0.9
    return {"utilisation": 0.9 + 0.1 * SPREAD[r], "mean_wait_days": 12 + SPREAD[r]}


@pytest.fixture(autouse=True)
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip drawing the report's figures: these tests are about the gate (test_sweep_report
    draws them)."""

    def close(fig: Figure, *args: object) -> list[Path]:
        plt.close(fig)
        return []

    monkeypatch.setattr("sim.report.sweep.save_figure", close)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep folder holding the four points above, with the scenario's expect: thresholds."""
    folder = tmp_path_factory.mktemp("gate") / "sweep"
    points = [{STAFF: s, CADENCE: c} for s in (4, 6) for c in (28, 56)]
    keys = [f"key{i}" for i in range(len(points))]
    info: dict[str, Any] = {
        "name": "gate",
        "seed": 1,
        "replications": REPS,
        "design": {
            "kind": "grid",
            "samples": None,
            "seed": 0,
            "parameters": [
                {"key": STAFF, "values": [4, 6], "low": None, "high": None, "integer": False},
                {"key": CADENCE, "values": [28, 56], "low": None, "high": None, "integer": False},
            ],
            "points": points,
        },
        "same_as": list(range(len(points))),
        "base_scenario": {"expect": {"utilisation": {"max": 0.9}, "mean_wait_days": {"max": 30.0}}},
        "point_keys": keys,
    }
    store = SweepStore(folder)
    store.write_info(info)
    store.open()
    for index, (point, key) in enumerate(zip(points, keys, strict=True)):
        for r in range(REPS):
            row = {"run_id": run_id_of(key, 1, r), "point": index, **point, "replication": r}
            store.add(row | _metrics(point[STAFF], point[CADENCE], r))
    store.close()
    return folder


def _failing(stderr: str) -> set[tuple[int, int]]:
    """The (staff, cadence) of each point line the gate printed."""
    found = set()
    for line in stderr.splitlines():
        match = re.match(rf"(broken|uncertain): point \d+ \({STAFF}=(\d+), {CADENCE}=(\d+)\)", line)
        if match:
            found.add((int(match.group(2)), int(match.group(3))))
    return found


BROKEN = {k for k, v in VERDICT.items() if v == "broken"}
NOT_MET = {k for k, v in VERDICT.items() if v != "met"}

GATES = [
    # (options, exit code, points printed)
    ([], 0, set()),
    (["--fail-on", "broken"], 1, BROKEN),
    (["--fail-on", "uncertain"], 1, NOT_MET),
    (["--fail-on", "broken", "--point", f"{STAFF}=6,{CADENCE}=28"], 0, set()),
    (["--fail-on", "broken", "--point", f"{STAFF}=4,{CADENCE}=28"], 0, set()),
    (["--fail-on", "uncertain", "--point", f"{STAFF}=4,{CADENCE}=28"], 1, {(4, 28)}),
    (["--fail-on", "uncertain", "--point", f"{STAFF}=6"], 0, set()),
    (["--fail-on", "broken", "--point", f"{CADENCE}=56"], 1, {(4, 56)}),
    (
        ["--fail-on", "uncertain", "--point", f"{STAFF}=6,{CADENCE}=28", "--point", f"{STAFF}=4"],
        1,
        NOT_MET,
    ),
    (["--min-met-share", "0.5"], 0, set()),
    (["--min-met-share", "0.75"], 1, set()),
    (["--min-met-share", "1", "--point", f"{STAFF}=6"], 0, set()),
    (["--fail-on", "broken", "--expect", "utilisation:max=0.99"], 0, set()),
    (["--fail-on", "uncertain", "--expect", "mean_wait_days:max=100"], 0, set()),
]


@pytest.mark.parametrize(("options", "code", "printed"), GATES)
def test_gate_exit_code_and_printed_points(
    stored: Path, tmp_path: Path, options: list[str], code: int, printed: set[tuple[int, int]]
) -> None:
    """The gate exits 0/1 as its rules say and prints exactly the failing points."""
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["sweep-report", str(stored), "--out", str(out), *options])
    assert result.exit_code == code, result.output
    assert _failing(result.stderr) == printed
    assert (out / "target_region.csv").exists()  # the report is written, failing or not
    if "--fail-on" in options or "--min-met-share" in options:
        assert ("FAILED" in result.stdout) == (code == 1)


def test_a_failing_point_line_names_levers_metric_estimate_and_ci(
    stored: Path, tmp_path: Path
) -> None:
    """A broken point's line holds its levers and, per threshold broken, the estimate and CI."""
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["sweep-report", str(stored), "--out", str(out), "--fail-on", "broken"]
    )
    (line,) = [ln for ln in result.stderr.splitlines() if ln.startswith("broken:")]
    assert f"{STAFF}=4, {CADENCE}=56" in line
    assert re.search(
        r"utilisation expected <= 0\.9: estimate 0\.97, 95% CI \[0\.96\d*, 0\.97\d*\]", line
    )
    assert re.search(
        r"mean_wait_days expected <= 30: estimate 60, 95% CI \[59\.\d+, 60\.\d+\]", line
    )
    assert (
        "gate (--fail-on broken): points in scope: 4: 2 met, 1 uncertain, 1 broken" in result.stdout
    )


def test_gate_counts_a_point_without_runs_as_not_met(stored: Path, tmp_path: Path) -> None:
    """A design point with no stored run is uncertain: --fail-on uncertain fails on it."""
    folder = tmp_path / "partial"
    store = SweepStore(stored)
    info = store.sweep_info()
    info["design"]["points"].append({STAFF: 8, CADENCE: 28})
    info["same_as"].append(4)
    info["point_keys"].append("key4")
    partial = SweepStore(folder)
    partial.write_info(info)
    partial.open()
    for row in store.table().to_dict("records"):
        partial.add({str(k): v for k, v in row.items()})
    partial.close()
    args = ["sweep-report", str(folder), "--fail-on", "uncertain", "--point", f"{STAFF}=8"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert f"uncertain: point 4 ({STAFF}=8, {CADENCE}=28): no stored runs" in result.stderr


BAD = [
    (["--point", f"{STAFF}=6"], "--point needs --fail-on"),
    (["--fail-on", "broken", "--point", "team.nothing=3"], "not a swept parameter"),
    (["--fail-on", "broken", "--point", f"{STAFF}=5"], "no design point has these values"),
    (["--fail-on", "broken", "--point", f"{STAFF}"], "expected key=value"),
    (["--fail-on", "broken", "--expect", "no_such_metric:max=1"], "not a metric of this sweep"),
    (["--fail-on", "broken", "--expect", "utilisation:below=1"], "expected METRIC:max=X"),
    (["--fail-on", "sometimes"], "sometimes"),
    (["--min-met-share", "1.5"], "1.5"),
]


@pytest.mark.parametrize(("options", "message"), BAD)
def test_bad_gate_input_exits_2_with_one_line_and_writes_nothing(
    stored: Path, tmp_path: Path, options: list[str], message: str
) -> None:
    """Malformed gate options exit 2 with one line naming the problem; no report is written."""
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["sweep-report", str(stored), "--out", str(out), *options])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_gate_without_thresholds_exits_2(stored: Path, tmp_path: Path) -> None:
    """A gate on a sweep whose scenario has no expect: (and no --expect) is bad input."""
    folder = tmp_path / "plain"
    info = SweepStore(stored).sweep_info()
    info["base_scenario"] = {}
    SweepStore(folder).write_info(info)
    result = CliRunner().invoke(cli, ["sweep-report", str(folder), "--fail-on", "broken"])
    assert result.exit_code == 2
    assert "no thresholds" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_internal_error_exits_3_not_1(stored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while reporting exits 3 with one line, so a CI gate never mistakes it for a fail."""

    def crash(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr("sim.report.sweep.write_sweep_report", crash)
    result = CliRunner().invoke(cli, ["sweep-report", str(stored), "--fail-on", "broken"])
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert "ZeroDivisionError: boom" in line and "traceback in" in line


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("a=1", {"a": 1}),
        ("a.b=2.5,c=null", {"a.b": 2.5, "c": None}),
        (
            "team.detectives.0.count=7,policies.x=28",
            {"team.detectives.0.count": 7, "policies.x": 28},
        ),
        ("rule=spread", {"rule": "spread"}),
    ],
)
def test_point_option_reads_keys_and_values(text: str, parsed: dict[str, Any]) -> None:
    """--point reads key=value pairs, numbers as numbers and null as None."""
    assert parse_point_option(text) == parsed


@pytest.mark.parametrize("text", ["", "a", "a=", "=1", "a=1,a=2", "a=1,,b=2"])
def test_point_option_refuses_malformed_items(text: str) -> None:
    """A --point item that is not key=value pairs (each key once) is refused."""
    with pytest.raises(GateError):
        parse_point_option(text)
