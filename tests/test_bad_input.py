"""Bad input: malformed scenario files and overrides make ``validate`` and ``run`` exit 2.

Every row of the table is a scenario written to ``tmp_path`` (or a missing one) with the problems
it must report. For each, the command exits 2, prints one line per problem on standard error, each
naming the file and the dotted field, shows no traceback, and ``run --out DIR`` writes nothing.
Most rows go through click's ``CliRunner``; a few go through a real ``python -m sim`` process.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from sim.cli.app import cli
from sim.policies import ALLOCATION

ROOT = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = {
    "name": "tiny",
    "horizon_days": 120,
    "warmup_days": 10,
    "replications": 2,
    "team": {"detectives": [{"name": "dc", "count": 2, "fte": 1.0}]},
    "cases": {
        "arrivals": {"rate_per_year": 100},
        "grades": {
            "very_high": {"share": 0.1, "target_days": 1},
            "high": {"share": 0.2, "target_days": 7},
            "medium": {"share": 0.3, "target_days": 14},
            "low": {"share": 0.4, "target_days": 30},
        },
        "stages": [
            {"name": "research", "effort_hours": {"dist": "exponential", "mean": 8}},
            {"name": "forensics", "external": {"days": {"dist": "exponential", "mean": 10}}},
        ],
    },
    "leave": {"short_sickness": {"episodes_per_year": 1, "days": {"dist": "fixed", "value": 2}}},
    "policies": {"allocation": {"rule": "least_loaded_fte"}},
}
"""A valid, fast scenario that the rows below break one way or another."""

REMOVE = object()
"""A value for :func:`scenario_with` meaning 'delete this key'."""

SCENARIO = "scenario.yaml"
"""The file every row passes to the command."""

Content = str | bytes | Mapping[str, Any]


def scenario_with(*changes: tuple[str, Any]) -> dict[str, Any]:
    """A copy of :data:`BASE` with ``(dotted.key, value)`` changes applied (list items by index)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes:
        *parents, last = dotted.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key: Any = int(last) if isinstance(node, list) else last
        if value is REMOVE:
            del node[key]
        else:
            node[key] = value
    return data


@dataclass(frozen=True)
class BadInput:
    """One malformed input and the problems it must report.

    Attributes:
        id: the test id.
        files: file name -> content (text, bytes, or a mapping written as YAML) in the input folder.
        problems: one ``(dotted field or None, fragment of the message)`` per expected stderr line;
            ``None`` for problems of the file as a whole (empty, not YAML, ...).
        overrides: ``--set`` values.
        reported: the file the lines must name (default the scenario passed to the command).
        via_process: also run the row through a real ``python -m sim`` process.
    """

    id: str
    files: dict[str, Content]
    problems: list[tuple[str | None, str]]
    overrides: tuple[str, ...] = ()
    reported: str = SCENARIO
    via_process: bool = False


def one(data: Content, problems: list[tuple[str | None, str]], **kw: Any) -> dict[str, Any]:
    """Keyword arguments of a :class:`BadInput` whose only file is the scenario."""
    return {"files": {SCENARIO: data}, "problems": problems, **kw}


KNOWN_ALLOCATION = ALLOCATION.names()

CASES = [
    BadInput(
        "wrong_type_horizon",
        **one(scenario_with(("horizon_days", "ten years")), [("horizon_days", "number")]),
        via_process=True,
    ),
    BadInput(
        "wrong_type_detectives",
        **one(scenario_with(("team.detectives", "six")), [("team.detectives", "list")]),
    ),
    BadInput(
        "negative_rate",
        **one(
            scenario_with(("cases.arrivals.rate_per_year", -300)),
            [("cases.arrivals.rate_per_year", "greater than 0")],
        ),
    ),
    BadInput(
        "negative_sickness_rate",
        **one(
            scenario_with(("leave.short_sickness.episodes_per_year", -1)),
            [("leave.short_sickness.episodes_per_year", "greater than or equal to 0")],
        ),
    ),
    BadInput(
        "infinite_horizon",
        **one(scenario_with(("horizon_days", float("inf"))), [("horizon_days", "finite")]),
    ),
    BadInput(
        "shares_not_one",
        **one(
            scenario_with(("cases.grades.low.share", 0.9)), [("cases.grades", "sum to 1.5, not 1")]
        ),
        via_process=True,
    ),
    BadInput(
        "fte_zero",
        **one(scenario_with(("team.detectives.0.fte", 0)), [("team.detectives.0.fte", "than 0")]),
    ),
    BadInput(
        "fte_over_one",
        **one(
            scenario_with(("team.detectives.0.fte", 1.5)),
            [("team.detectives.0.fte", "less than or equal to 1")],
        ),
    ),
    BadInput(
        "unknown_top_level_key",
        **one(scenario_with(("colour", "red")), [("colour", "not permitted")]),
    ),
    BadInput(
        "unknown_nested_key",
        **one(scenario_with(("team.sergants", 2)), [("team.sergants", "not permitted")]),
    ),
    BadInput(
        "unknown_distribution_parameter",
        **one(
            scenario_with(("cases.stages.0.effort_hours.sd", 3)),
            [("cases.stages.0.effort_hours.sd", "not permitted")],
        ),
    ),
    BadInput(
        "unknown_distribution",
        **one(
            scenario_with(("cases.stages.0.effort_hours.dist", "pareto")),
            [("cases.stages.0.effort_hours.dist", "unknown distribution 'pareto'")],
        ),
    ),
    BadInput(
        "per_grade_effort_with_unknown_grade",
        **one(
            scenario_with(
                (
                    "cases.stages.0.effort_hours",
                    {
                        g: {"dist": "fixed", "value": 1}
                        for g in ("very_high", "high", "medium", "low", "urgent")
                    },
                )
            ),
            [("cases.stages.0.effort_hours.urgent", "'very_high', 'high', 'medium' or 'low'")],
        ),
    ),
    BadInput(
        "unknown_rule",
        **one(
            scenario_with(("policies.allocation.rule", "most_experienced")),
            [("policies.allocation.rule", "known rules: " + ", ".join(KNOWN_ALLOCATION))],
        ),
        via_process=True,
    ),
    BadInput(
        "unknown_policy_parameter",
        **one(
            scenario_with(("policies.allocation.max_cases", 3)),
            [("policies.allocation.max_cases", "unknown parameter 'max_cases'")],
        ),
    ),
    BadInput(
        "policy_parameter_wrong_type",
        **one(
            scenario_with(("policies.on_long_leave", {"rule": "spread", "after_days": "soon"})),
            [("policies.on_long_leave.after_days", "valid number")],
        ),
    ),
    BadInput(
        "fits_no_member_of_a_union",
        **one(
            scenario_with(("team.sergeants", "two")),
            [("team.sergeants", "valid integer, unable to parse string as an integer; or ")],
        ),
    ),
    BadInput(
        "bad_key_inside_a_union_member",
        **one(
            scenario_with(("team.sergeants", {"count": -1})),
            [("team.sergeants.count", "greater than or equal to 0")],
        ),
    ),
    BadInput(
        "missing_required_field",
        **one(scenario_with(("cases.arrivals", REMOVE)), [("cases.arrivals", "required")]),
    ),
    BadInput(
        "warmup_not_below_horizon",
        **one(scenario_with(("warmup_days", 120)), [("warmup_days", "must be below horizon_days")]),
    ),
    BadInput(
        "stage_with_effort_and_external",
        **one(
            scenario_with(("cases.stages.0.external", {"days": {"dist": "fixed", "value": 1}})),
            [("cases.stages.0", "exactly one of effort_hours (team) or external")],
        ),
    ),
    BadInput(
        "plugin_not_importable",
        **one(
            scenario_with(("plugins", ["no_such_polit_plugin"])),
            [("plugins", "'no_such_polit_plugin' cannot be imported")],
        ),
    ),
    BadInput(
        "several_problems_one_line_each",
        **one(
            scenario_with(
                ("team.detectives.0.fte", 0),
                ("cases.arrivals.rate_per_year", -1),
                ("colour", "red"),
            ),
            [
                ("team.detectives.0.fte", "than 0"),
                ("cases.arrivals.rate_per_year", "than 0"),
                ("colour", "not permitted"),
            ],
        ),
    ),
    BadInput(
        "missing_extends_target",
        **one("extends: nowhere.yaml\nname: child\n", [("extends", "not found: nowhere.yaml")]),
    ),
    BadInput(
        "cyclic_extends",
        files={SCENARIO: "extends: other.yaml\n", "other.yaml": f"extends: {SCENARIO}\n"},
        problems=[("extends", f"cycle {SCENARIO} -> other.yaml -> {SCENARIO}")],
        via_process=True,
    ),
    BadInput(
        "extends_itself",
        **one(f"extends: {SCENARIO}\nname: me\n", [("extends", "cycle")]),
    ),
    BadInput(
        "invalid_parent_named",
        files={SCENARIO: "extends: parent.yaml\nname: child\n", "parent.yaml": "name: [a\n"},
        problems=[(None, "invalid YAML")],
        reported="parent.yaml",
    ),
    BadInput(
        "duplicate_key",
        **one("name: a\nname: b\nhorizon_days: 10\n", [(None, "duplicate key 'name'")]),
    ),
    BadInput("empty_file", **one("", [(None, "empty")])),
    BadInput("comments_only", **one("# nothing here\n", [(None, "empty")])),
    BadInput("list_not_mapping", **one("- name: tiny\n- horizon_days: 3\n", [(None, "mapping")])),
    BadInput("scalar_not_mapping", **one("just words\n", [(None, "mapping")])),
    BadInput("not_utf8", **one(b"name: caf\xe9\n", [(None, "not UTF-8")])),
    BadInput("invalid_yaml_syntax", **one("name: tiny\nteam: {detectives: [\n", [(None, "YAML")])),
    BadInput("missing_file", files={}, problems=[(None, "file not found")]),
    BadInput(
        "set_unknown_key",
        **one(BASE, [("team.sergants", "not permitted")], overrides=("team.sergants=2",)),
    ),
    BadInput(
        "set_wrong_type",
        **one(BASE, [("horizon_days", "number")], overrides=("horizon_days=soon",)),
        via_process=True,
    ),
    BadInput(
        "set_without_equals",
        **one(BASE, [("--set horizon_days", "key.path=value")], overrides=("horizon_days",)),
    ),
    BadInput(
        "set_missing_list_item",
        **one(
            BASE,
            [("cases.stages.7.name", "no item 7")],
            overrides=("cases.stages.7.name=extra",),
        ),
    ),
    BadInput(
        "set_into_a_value",
        **one(BASE, [("name.first", "not a mapping")], overrides=("name.first=x",)),
    ),
]


def _write(folder: Path, files: Mapping[str, Content]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(dict(content), sort_keys=False), encoding="utf-8")


def _check_stderr(stderr: str, case: BadInput, folder: Path) -> None:
    """One line per expected problem, in order, each naming the file and the dotted field."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == len(case.problems), stderr
    reported = str(folder / case.reported)
    for line, (dotted, fragment) in zip(lines, case.problems, strict=True):
        prefix = f"{reported}: " if dotted is None else f"{reported}: {dotted}: "
        assert line.startswith(prefix), (line, prefix)
        assert fragment in line, (line, fragment)


def _arguments(case: BadInput, folder: Path, out: Path, command: str) -> list[str]:
    sets = [arg for value in case.overrides for arg in ("--set", value)]
    if command == "validate":
        return ["validate", str(folder / SCENARIO), *sets]
    return ["run", str(folder / SCENARIO), "--out", str(out), "--quiet", *sets]


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_with_one_line_per_problem(case: BadInput, tmp_path: Path) -> None:
    """validate and run exit 2, print one located line per problem, and write nothing."""
    folder, outputs = tmp_path / "in", tmp_path / "outputs"
    _write(folder, case.files)
    for command in ("validate", "run"):
        result = _invoke(_arguments(case, folder, outputs / "result", command))
        assert result.exit_code == 2, (command, result.output)
        assert isinstance(result.exception, SystemExit), result.exception
        assert result.stdout == ""
        _check_stderr(result.stderr, case, folder)
        # Nothing written: neither the folder nor a temporary sibling of it.
        assert not outputs.exists()


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.via_process], ids=[c.id for c in CASES if c.via_process]
)
def test_bad_input_through_a_real_process(case: BadInput, tmp_path: Path) -> None:
    """``python -m sim`` itself exits 2 with located lines and no traceback."""
    folder, outputs = tmp_path / "in", tmp_path / "outputs"
    _write(folder, case.files)
    for command in ("validate", "run"):
        args = _arguments(case, folder, outputs / "result", command)
        proc = subprocess.run(
            [sys.executable, "-m", "sim", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert proc.returncode == 2, (command, proc.stderr)
        _check_stderr(proc.stderr, case, folder)
        assert not outputs.exists()
        assert not (tmp_path / "results").exists()


def test_yaml_tag_constructing_python_objects_is_refused(tmp_path: Path) -> None:
    """A ``!!python/object/apply`` tag is a YAML error, and the command it names never runs."""
    marker = tmp_path / "ran"
    text = f'name: !!python/object/apply:os.system ["touch {marker}"]\nhorizon_days: 10\n'
    case = BadInput("python_tag", **one(text, [(None, "could not determine a constructor")]))
    folder = tmp_path / "in"
    _write(folder, case.files)
    for command in ("validate", "run"):
        result = _invoke(_arguments(case, folder, tmp_path / "outputs" / "result", command))
        assert result.exit_code == 2
        _check_stderr(result.stderr, case, folder)
    assert not marker.exists()
    assert not (tmp_path / "outputs").exists()


def test_validate_reports_every_bad_file_and_accepts_good_ones(tmp_path: Path) -> None:
    """validate checks all its files: the good one is reported valid, the bad ones located."""
    _write(tmp_path, {"good.yaml": BASE, "bad.yaml": scenario_with(("horizon_days", -1))})
    result = _invoke(["validate", str(tmp_path / "good.yaml"), str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2
    assert result.stdout.strip() == f"{tmp_path / 'good.yaml'}: valid"
    assert result.stderr.strip().startswith(f"{tmp_path / 'bad.yaml'}: horizon_days: ")


def test_valid_file_validates_and_runs(tmp_path: Path) -> None:
    """A valid file: validate exits 0, and run writes its folder (so the checks above can fail)."""
    _write(tmp_path, {SCENARIO: BASE})
    result = _invoke(["validate", str(tmp_path / SCENARIO)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{tmp_path / SCENARIO}: valid"
    out = tmp_path / "outputs" / "result"
    result = _invoke(["run", str(tmp_path / SCENARIO), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["result"]


def test_schema_prints_json_schema(tmp_path: Path) -> None:
    """``schema`` prints a valid JSON Schema of the scenario that the baseline satisfies."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "schema"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    schema = json.loads(proc.stdout)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    for key in ("name", "horizon_days", "warmup_days", "team", "cases", "leave", "policies"):
        assert key in schema["properties"], key
    assert {"name", "horizon_days", "team", "cases"} <= set(schema["required"])
    jsonschema.Draft202012Validator.check_schema(schema)
    baseline = yaml.safe_load((ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(schema).validate(baseline)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate({**baseline, "colour": "red"})


def test_module_help_works() -> None:
    """``python -m sim --help`` exits 0 and lists the commands."""
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("validate", "run", "schema"):
        assert command in proc.stdout
