"""A generated corpus of hostile scenario files, each through ``validate`` and ``run`` in a real
process with a memory cap and a timeout.

The corpus covers the classes a careless user or an attacker produces: YAML bombs and deep
nesting, file-system traps behind ``extends`` (FIFOs, devices, directories, symlink loops, long
chains), keys that are not text, wrong types where numbers belong, absurd sizes, unknown keys and
broken distributions. Every file must end with exit 2, one line per problem naming the file, no
traceback, within seconds and under the memory cap, and ``run --out`` must write nothing.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
MEMORY_CAP = 1536 * 2**20  # bytes of address space per process
TIMEOUT_S = 60.0  # per process; a hang shows as a timeout, not as a slow pass
THREADS = 4

GOOD = {
    "name": "tiny",
    "horizon_days": 60,
    "warmup_days": 0,
    "replications": 2,
    "team": {"detectives": [{"name": "dc", "count": 2, "fte": 1.0}]},
    "cases": {
        "arrivals": {"rate_per_year": 50},
        "grades": {"medium": {"share": 1.0, "target_days": 14}},
        "stages": [{"name": "work", "effort_hours": {"dist": "exponential", "mean": 8}}],
    },
}


def _dump(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def _with(path: str, value: object) -> str:
    """GOOD with one dotted key set to ``value`` (written as YAML)."""
    data = yaml.safe_load(_dump(GOOD))
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value
    return _dump(data)


def _raw(path: str, text: str) -> str:
    """GOOD with one top-level key replaced by raw YAML text (for tags, anchors, quoting)."""
    data = yaml.safe_load(_dump(GOOD))
    data.pop(path, None)
    return _dump(data) + f"{path}: {text}\n"


def _bomb(levels: int, width: int) -> str:
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * width)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return _dump(GOOD) + "\n".join(lines) + "\n"


Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Hostile:
    """One corpus entry: the scenario text (or a setup that makes the folder) and what the one
    line of the complaint must mention."""

    name: str
    text: str | None
    mentions: str
    setup: Setup | None = None


def _fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.yaml")


def _loop(folder: Path) -> None:
    (folder / "a.yaml").symlink_to("b.yaml")
    (folder / "b.yaml").symlink_to("a.yaml")


def _dir(folder: Path) -> None:
    (folder / "sub.yaml").mkdir()


def _chain(depth: int) -> Setup:
    def make(folder: Path) -> None:
        (folder / "c0.yaml").write_text(_dump(GOOD), encoding="utf-8")
        for i in range(1, depth):
            (folder / f"c{i}.yaml").write_text(f"extends: c{i - 1}.yaml\n", encoding="utf-8")

    return make


def _big(folder: Path) -> None:
    (folder / "big.yaml").write_text(_dump(GOOD) + "# " + "x" * (300 * 1024) + "\n")


def _corpus() -> list[Hostile]:
    out = [
        # --- YAML bombs, nesting, aliases
        Hostile("bomb_9x10", _bomb(9, 10), "aliases"),
        Hostile("bomb_20x2", _bomb(20, 2), "aliases"),
        Hostile("bomb_6x30", _bomb(6, 30), "aliases"),
        Hostile("recursive_alias", "a: &a [*a]\n" + _dump(GOOD), "itself"),
        Hostile("undefined_alias", _dump(GOOD) + "x: *nothing\n", "YAML"),
        Hostile("flow_nesting_5000", "name: " + "[" * 5000 + "]" * 5000 + "\n", "deeply"),
        Hostile("flow_nesting_100", "name: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "deeply"),
        Hostile(
            "block_nesting_400",
            "x:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 400)),
            "deeply",
        ),
        Hostile(
            "block_nesting_60_narrow",
            "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 60)),
            "deeply",
        ),
        Hostile("python_tag", _raw("name", "!!python/object/apply:os.system ['true']"), "YAML"),
        Hostile("set_tag", _raw("name", "!!set {a, b}"), "name"),
        Hostile("binary_value", _raw("name", "!!binary aGVsbG8="), "name"),
        Hostile("date_key", _dump(GOOD) + "2024-01-01: 3\n", "2024-01-01"),
        Hostile("int_key", _dump(GOOD) + "12: 3\n", "12"),
        Hostile("bool_key", _dump(GOOD) + "yes: 3\n", "True"),
        Hostile("binary_key", _dump(GOOD) + "? !!binary aGVsbG8=\n: 1\n", "binary"),
        Hostile("null_key", _dump(GOOD) + "~: 1\n", "None"),
        Hostile("nested_date_key", _with("team.2020-02-02", 1), "team"),
        Hostile("complex_key", _dump(GOOD) + "? [a, b]\n: 1\n", "YAML"),
        Hostile("duplicate_key", _dump(GOOD) + "name: again\n", "duplicate"),
        Hostile("multi_document", _dump(GOOD) + "---\n" + _dump(GOOD), "YAML"),
        Hostile("not_utf8", "name: caf\xe9\n", "UTF-8"),
        Hostile("nul_bytes", "name: a\x00b\n", "YAML"),
        Hostile("tab_indent", "team:\n\tdetectives: []\n", "YAML"),
        Hostile("only_scalar", "42\n", "mapping"),
        Hostile("empty", "", "empty"),
        # --- file-system traps behind extends, and the file itself
        Hostile("extends_fifo", "extends: pipe.yaml\n", "extends", _fifo),
        Hostile("extends_dev_zero", "extends: /dev/zero\n", "extends"),
        Hostile("extends_dev_urandom", "extends: /dev/urandom\n", "extends"),
        Hostile("extends_directory", "extends: sub.yaml\n", "extends", _dir),
        Hostile("extends_dot", "extends: .\n", "extends"),
        Hostile("extends_symlink_loop", "extends: a.yaml\n", "extends", _loop),
        Hostile("extends_chain_1000", "extends: c999.yaml\n", "extends", _chain(1000)),
        Hostile("extends_chain_20", "extends: c19.yaml\n", "extends", _chain(20)),
        Hostile("extends_missing", "extends: nowhere.yaml\n", "extends"),
        Hostile("extends_number", "extends: 12\n" + _dump(GOOD), "extends"),
        Hostile("extends_list", "extends: [a.yaml]\n" + _dump(GOOD), "extends"),
        Hostile("extends_empty", "extends: ''\n" + _dump(GOOD), "extends"),
        Hostile("extends_self", "extends: scenario.yaml\n", "cycle"),
        Hostile("extends_too_big", "extends: big.yaml\n", "bytes", _big),
        # --- strict types
        Hostile("count_yes", _with("team.detectives.0.count", True), "count"),
        Hostile("fte_true", _with("team.detectives.0.fte", True), "fte"),
        Hostile("horizon_string", _with("horizon_days", "120"), "horizon_days"),
        Hostile("rate_string", _with("cases.arrivals.rate_per_year", "300"), "rate_per_year"),
        Hostile("replications_float", _with("replications", 2.5), "replications"),
        Hostile("seed_string", _with("seed", "42"), "seed"),
        Hostile(
            "effort_mean_string",
            _with("cases.stages.0.effort_hours", {"dist": "exponential", "mean": "8"}),
            "mean",
        ),
        Hostile(
            "policy_cap_yes",
            _with(
                "policies", {"allocation": {"rule": "team_queue", "max_cases_per_detective": True}}
            ),
            "max_cases_per_detective",
        ),
        Hostile(
            "review_every_string",
            _with("policies", {"workload_review": {"every_days": "28"}}),
            "every_days",
        ),
        Hostile("name_list", _with("name", ["a"]), "name"),
        # --- absurd sizes
        Hostile("horizon_1e9", _with("horizon_days", 1e9), "horizon_days"),
        Hostile("horizon_inf", _raw("horizon_days", ".inf"), "horizon_days"),
        Hostile("horizon_nan", _raw("horizon_days", ".nan"), "horizon_days"),
        Hostile("rate_1e12", _with("cases.arrivals.rate_per_year", 1e12), "rate_per_year"),
        Hostile("growth_1e6", _with("cases.arrivals.growth_per_year", 1e6), "growth_per_year"),
        Hostile("count_1e9", _with("team.detectives.0.count", 10**9), "count"),
        Hostile("replications_1e9", _with("replications", 10**9), "replications"),
        Hostile("seed_huge", _with("seed", 10**30), "seed"),
        Hostile(
            "gamma_sd_1e200",
            _with("cases.stages.0.effort_hours", {"dist": "gamma", "mean": 8, "sd": 1e200}),
            "sd",
        ),
        Hostile("block_hours_tiny", _with("team.block_hours", 1e-9), "block_hours"),
        Hostile("backlog_step_tiny", _with("outputs.backlog_every_days", 1e-9), "backlog"),
        Hostile(
            "strain_update_tiny",
            _with("policies", {"wellbeing": {"update_every_days": 1e-9}}),
            "update_every_days",
        ),
        Hostile(
            "review_every_tiny",
            _with("policies", {"workload_review": {"every_days": 1e-9}}),
            "every_days",
        ),
        Hostile(
            "too_much_work",
            _with("cases.arrivals.rate_per_year", 900_000).replace(
                "horizon_days: 60", "horizon_days: 36000"
            ),
            "events",
        ),
        Hostile(
            "external_capacity_huge",
            _with(
                "cases.stages.0",
                {
                    "name": "x",
                    "external": {"capacity": 10**12, "days": {"dist": "fixed", "value": 1}},
                },
            ),
            "capacity",
        ),
        Hostile("int_5000_digits", _raw("seed", "9" * 5000), "digits"),
        Hostile("float_overflow", _raw("horizon_days", "1e99999"), "horizon_days"),
        Hostile(
            "detectives_2000_groups",
            _with(
                "team.detectives", [{"name": f"g{i}", "count": 10, "fte": 1.0} for i in range(2000)]
            ),
            "detectives",
        ),
        Hostile("date_for_number", _raw("horizon_days", "2024-01-01"), "horizon_days"),
        # --- plain mistakes
        Hostile("unknown_key", _with("colour", "red"), "colour"),
        Hostile(
            "unknown_distribution", _with("cases.stages.0.effort_hours", {"dist": "cauchy"}), "dist"
        ),
        Hostile("plugin_missing_file", _with("plugins", ["nowhere.py"]), "plugins"),
    ]
    return out


CORPUS = _corpus()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _polit_sim(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        preexec_fn=_limit_memory,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def _make(case: Hostile, base: Path) -> Path:
    folder = base / case.name
    folder.mkdir()
    if case.setup is not None:
        case.setup(folder)
    if case.text is not None:
        (folder / "scenario.yaml").write_text(case.text, encoding="utf-8", errors="surrogateescape")
    if case.name == "not_utf8":
        (folder / "scenario.yaml").write_bytes(b"name: caf\xe9\n")
    return folder


def _check(case: Hostile, code: int, stderr: str, lines: list[str]) -> list[str]:
    """What is wrong with a command's answer to ``case`` (its exit code and its lines)."""
    problems = []
    if code != 2:
        problems.append(f"{case.name}: exit {code}: {stderr[-500:]}")
    if "Traceback" in stderr:
        problems.append(f"{case.name}: traceback on stderr")
    if not lines:
        problems.append(f"{case.name}: no line names the file")
    if case.mentions.lower() not in "\n".join(lines).lower():
        problems.append(f"{case.name}: stderr does not mention {case.mentions!r}: {lines[:3]}")
    return problems


def test_corpus_is_large_and_distinct() -> None:
    """The corpus holds at least 60 distinct hostile files."""
    assert len(CORPUS) >= 60
    assert len({c.name for c in CORPUS}) == len(CORPUS)


def _through_run(cases: list[Hostile], folders: dict[str, Path], out_root: Path) -> list[str]:
    """Run each case in its own capped process (in threads); what went wrong, if anything."""

    def run(case: Hostile) -> list[str]:
        folder = folders[case.name]
        out = out_root / case.name
        args = ["run", str(folder / "scenario.yaml"), "-q", "--out", str(out)]
        try:
            done = _polit_sim(args, folder)
        except subprocess.TimeoutExpired:
            return [f"run {case.name}: did not finish in {TIMEOUT_S} s"]
        lines = done.stderr.strip().splitlines()
        problems = [f"run {p}" for p in _check(case, done.returncode, done.stderr, lines)]
        if not all(line.startswith(f"{folder}/") for line in lines):
            problems.append(f"run {case.name}: a line does not name the file: {lines[:3]}")
        if out.exists():
            problems.append(f"run {case.name}: wrote {out}")
        return problems

    with ThreadPoolExecutor(THREADS) as pool:
        return [p for ps in pool.map(run, cases) for p in ps]


def test_hostile_corpus_through_validate_and_run(tmp_path: Path) -> None:
    """Every hostile file through validate (all in one capped process): exit 2 within the
    timeout, lines naming each file and what is wrong, no traceback; a third of the corpus (every
    class) also through run, one capped process each, writing nothing."""
    folders = {case.name: _make(case, tmp_path) for case in CORPUS}
    out_root = tmp_path / "out"
    out_root.mkdir()
    found: list[str] = []

    scenarios = [str(folders[c.name] / "scenario.yaml") for c in CORPUS]
    result = _polit_sim(["validate", *scenarios], tmp_path)
    lines = result.stderr.strip().splitlines()
    stray = [line for line in lines if not line.startswith(str(tmp_path))]
    assert not stray, f"lines that name no file: {stray[:5]}"
    for case in CORPUS:
        mine = [line for line in lines if line.startswith(f"{folders[case.name]}/")]
        found += [f"validate {p}" for p in _check(case, result.returncode, result.stderr, mine)]
    found += _through_run(CORPUS[::3], folders, out_root)
    assert not list(out_root.iterdir()), "run wrote into the output folder"
    assert not found, "\n".join(found)


@pytest.mark.slow
def test_whole_hostile_corpus_through_run(tmp_path: Path) -> None:
    """Every hostile file through run, one capped process each: exit 2, lines naming the file,
    no traceback, nothing written."""
    folders = {case.name: _make(case, tmp_path) for case in CORPUS}
    out_root = tmp_path / "out"
    out_root.mkdir()
    found = _through_run(CORPUS, folders, out_root)
    assert not list(out_root.iterdir()), "run wrote into the output folder"
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "override",
    [
        "horizon_days=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "horizon_days=&a [*a]",
        "team.detectives.0.count=yes",
        "horizon_days='120'",
        "horizon_days=1e12",
        "team.block_hours=1e-9",
    ],
)
def test_hostile_overrides_exit_2(tmp_path: Path, override: str) -> None:
    """A hostile --set value is refused like the same value in the file (exit 2, one line)."""
    (tmp_path / "s.yaml").write_text(_dump(GOOD), encoding="utf-8")
    result = _polit_sim(["validate", "s.yaml", "--set", override], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[0].startswith("s.yaml: ")
