"""``optimise`` on the simulation: against Erlang C, against exhaustive simulation, and the CLI.

The configurations are SPEC's M/M/c team (leave off, one exponential stage, a team queue with
one case per detective, oldest first), with horizons of a few hundred days so that a replication
takes a few hundredths of a second.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result
from test_sweep import _worker as dask_worker
from test_sweep import dask_cluster  # noqa: F401  (a fixture: a real Dask scheduler)

from sim.analysis.theory import mmc_mean_wait
from sim.cli.app import cli
from sim.experiments.feasibility import bounds_of, screen
from sim.experiments.optimise import Settings, optimise
from sim.experiments.optimise_runs import SimulationEvaluator
from sim.experiments.sweep import model_key
from sim.scenario import Scenario, load_scenario, validate_mapping
from sim.scenario.schema import Threshold
from sim.scenario.space import Space, parse_space

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "optimise"


def mmc(
    arrival_rate: float, effort_mean: float, *, cases: int = 700, part_time: bool = False
) -> Scenario:
    """An M/M/c team: λ per day, mean effort in days at 1.0 FTE; about ``cases`` per replication."""
    detectives: list[dict[str, Any]] = [{"name": "dc", "count": 1, "fte": 1.0}]
    if part_time:
        detectives.append({"name": "dc_pt", "count": 1, "fte": 0.5})
    return validate_mapping(
        {
            "name": "mmc",
            "horizon_days": cases / arrival_rate,
            "warmup_days": 20 * effort_mean,
            "seed": 314159,
            "team": {"hours_per_week": 7, "detectives": detectives, "sergeants": 0},
            "cases": {
                "arrivals": {"rate_per_year": arrival_rate * 365.0},
                "grades": {"medium": {"share": 1.0, "target_days": 30}},
                "stages": [
                    {"name": "work", "effort_hours": {"dist": "exponential", "mean": effort_mean}}
                ],
            },
            "policies": {
                "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
                "work_order": {"rule": "oldest_first"},
            },
        },
        "mmc",
    )


def detectives_space(low: int, high: int) -> Space:
    return Space.model_validate(
        {
            "levers": [
                {
                    "key": "team.detectives.0.count",
                    "values": {"from": low, "to": high, "step": 1},
                    "cost_per_unit": 55000,
                    "better": "higher",
                }
            ]
        }
    )


def erlang_answer(arrival_rate: float, effort_mean: float, wait: float) -> int:
    """The fewest detectives with an Erlang C mean wait ≤ ``wait`` (and a clear margin)."""
    c = int(arrival_rate * effort_mean) + 1
    while mmc_mean_wait(arrival_rate, 1 / effort_mean, c) > wait:
        c += 1
    below = (
        mmc_mean_wait(arrival_rate, 1 / effort_mean, c - 1)
        if c - 1 > arrival_rate * effort_mean
        else float("inf")
    )
    at = mmc_mean_wait(arrival_rate, 1 / effort_mean, c)
    # The case is only a fair test if the neighbours are clearly on either side of W.
    assert below > 1.6 * wait and at < wait / 1.6, (below, at, wait)
    return c


ERLANG_CASES = [
    # (λ per day, mean effort days, W days): the answer from Erlang C
    pytest.param(2.4, 1.0, 0.09, id="lam2.4-mu1-W0.09"),
    pytest.param(0.6, 4.0, 0.35, id="lam0.6-mu0.25-W0.35", marks=pytest.mark.slow),
    pytest.param(4.0, 1.0, 0.28, id="lam4-mu1-W0.28", marks=pytest.mark.slow),
    pytest.param(1.5, 2.0, 0.5, id="lam1.5-mu0.5-W0.5", marks=pytest.mark.slow),
]


@pytest.mark.validation
@pytest.mark.parametrize(("arrival_rate", "effort_mean", "wait"), ERLANG_CASES)
def test_fewest_detectives_for_a_mean_wait_is_erlang_c(
    arrival_rate: float, effort_mean: float, wait: float
) -> None:
    """optimise's minimum team for mean wait ≤ W is the one Erlang C gives."""
    expected = erlang_answer(arrival_rate, effort_mean, wait)
    base = mmc(arrival_rate, effort_mean)
    space = detectives_space(1, 12)
    constraints = {"mean_wait_days": Threshold(max=wait)}
    evaluate = SimulationEvaluator(base, space, base.seed)
    outcome = optimise(space, constraints, evaluate, Settings(initial=10, maximum=40))
    assert outcome.recommended is not None
    print(f"answer {outcome.recommended.values}, Erlang C {expected}, {outcome.spent} replications")
    assert outcome.recommended.values == {"team.detectives.0.count": expected}


def two_lever_space(counts: list[int], ftes: list[float]) -> Space:
    return Space.model_validate(
        {
            "levers": [
                {
                    "key": "team.detectives.0.count",
                    "values": counts,
                    "cost_per_unit": 55000,
                    "better": "higher",
                },
                {
                    "key": "team.detectives.1.fte",
                    "values": ftes,
                    "cost_per_unit": 55000,
                    "better": "higher",
                },
            ],
            "confidence": 0.95,
        }
    )


def exhaustive_answer(
    base: Scenario, space: Space, constraints: dict[str, Threshold], n: int
) -> tuple[dict[str, Any], float]:
    """Every configuration simulated with ``n`` replications; the cheapest met at 95%."""
    evaluate = SimulationEvaluator(base, space, base.seed)
    bounds = bounds_of(constraints)
    best: tuple[float, float, dict[str, Any]] | None = None
    sizes = [len(lv.value_list()) for lv in space.levers]
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            rows = evaluate([((i, j), r) for r in range(n)])
            data = {m: [float(row[m]) for row in rows] for m in constraints}
            verdict, _ = screen(data, bounds, space.confidence)
            cost = sum(
                lv.cost_of(lv.ordered()[k]) for lv, k in zip(space.levers, (i, j), strict=True)
            )
            risk = sum(data["mean_wait_days"]) / n
            if verdict == "met" and (best is None or (cost, risk) < best[:2]):
                best = (cost, risk, evaluate.params((i, j)))
    assert best is not None
    return best[2], best[0]


TWO_LEVER_CASES = [
    pytest.param([2, 3, 4], [0.5, 1.0], 0.4, 20, id="small"),
    pytest.param([2, 3, 4, 5], [0.25, 0.5, 0.75, 1.0], 0.15, 40, id="4x4", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("counts", "ftes", "wait", "maximum"), TWO_LEVER_CASES)
def test_two_lever_space_finds_what_exhaustive_simulation_finds(
    counts: list[int], ftes: list[float], wait: float, maximum: int
) -> None:
    """Detectives and a part-timer's hours: the cheapest feasible point of exhaustive simulation."""
    base = mmc(2.0, 1.0, part_time=True, cases=500)
    space = two_lever_space(counts, ftes)
    constraints = {"mean_wait_days": Threshold(max=wait)}
    settings = Settings(initial=10, maximum=maximum)
    outcome = optimise(space, constraints, SimulationEvaluator(base, space, base.seed), settings)
    expected, cost = exhaustive_answer(base, space, constraints, settings.maximum)
    assert outcome.recommended is not None
    print(f"optimise {outcome.recommended.values}, exhaustive {expected} (cost {cost})")
    assert outcome.recommended.values == expected


# --- the command ---------------------------------------------------------------------------------


def run_cli(*args: str) -> Result:
    """``polit-sim optimise ARGS`` in this process."""
    return CliRunner().invoke(cli, ["optimise", *args])


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documented M/M/c example, run once through the command (serial)."""
    out = tmp_path_factory.mktemp("optimise") / "out"
    done = run_cli(
        str(EXAMPLES / "mmc.yaml"),
        "--space",
        str(EXAMPLES / "mmc_space.yaml"),
        "--out",
        str(out),
        "--executor",
        "serial",
        "--max-replications",
        "20",
        "-q",
    )
    assert done.exit_code == 0, done.output
    assert "recommended team.detectives.0.count=5" in done.output
    return out


def test_recommended_yaml_extends_the_input_and_sets_only_the_levers(example_run: Path) -> None:
    """recommended.yaml loads as the input scenario with only the levers changed."""
    text = (example_run / "recommended.yaml").read_text()
    data = yaml.safe_load(text)
    assert set(data) == {"extends", "team"}
    recommended = load_scenario(example_run / "recommended.yaml")
    expected = load_scenario(EXAMPLES / "mmc.yaml", ["team.detectives.0.count=5"])
    assert model_key(recommended) == model_key(expected)


def test_frontier_csv_has_the_spec_columns(example_run: Path) -> None:
    """frontier.csv: levers, cost, each constrained metric's mean and CI, replications, feasible."""
    frontier = pd.read_csv(example_run / "frontier.csv")
    for column in (
        "team.detectives.0.count",
        "cost",
        "mean_wait_days_mean",
        "mean_wait_days_ci_low",
        "mean_wait_days_ci_high",
        "replications",
        "feasible",
    ):
        assert column in frontier.columns
    assert set(frontier["feasible"]) <= {"yes", "no", "undecided"}
    chosen = frontier[frontier["recommended"] == "yes"]
    assert list(chosen["team.detectives.0.count"]) == [5]
    assert (frontier["cost"] == frontier["team.detectives.0.count"] * 55000).all()
    assert len(frontier) < 12  # monotonicity: not every team size was simulated


def test_report_states_the_guarantee_and_the_replications(example_run: Path) -> None:
    """report.html has the frontier figure, the replications spent and the guarantee."""
    html = (example_run / "report.html").read_text()
    assert "With probability at least 95%, the recommended configuration meets every" in html
    assert "data:image/png;base64," in html
    assert "replications spent" in html and "exhaustive search" in html


def test_processes_executor_gives_the_serial_result() -> None:
    """The search on a process pool makes the same decisions from the same replications."""
    base = load_scenario(EXAMPLES / "mmc.yaml")
    space = detectives_space(3, 6)
    constraints = dict(base.expect)
    settings = Settings(initial=6, maximum=12)
    outcomes = []
    for executor, workers in (("serial", 1), ("processes", 2)):
        with SimulationEvaluator(base, space, base.seed, executor=executor, workers=workers) as ev:
            outcomes.append(optimise(space, constraints, ev, settings))
    serial, pooled = outcomes
    assert [(e.point, e.status, e.data) for e in serial.evaluated] == [
        (e.point, e.status, e.data) for e in pooled.evaluated
    ]
    assert serial.spent == pooled.spent


def test_no_feasible_configuration_exits_1(tmp_path: Path) -> None:
    """When no configuration can meet the constraints, exit 1 and no recommended.yaml."""
    space = tmp_path / "space.yaml"
    space.write_text(
        "levers:\n  - key: team.detectives.0.count\n    values: [5, 6]\n"
        "    cost_per_unit: 1\n    better: higher\n"
        "constraints:\n  mean_wait_days: {max: 0.0001}\n"
    )
    done = run_cli(
        str(EXAMPLES / "mmc.yaml"),
        "--space",
        str(space),
        "--out",
        str(tmp_path / "out"),
        "--executor",
        "serial",
        "--max-replications",
        "20",
        "-q",
    )
    assert done.exit_code == 1, done.output
    assert not (tmp_path / "out" / "recommended.yaml").exists()
    assert (tmp_path / "out" / "report.html").exists()


# --- bad input -----------------------------------------------------------------------------------

LEVER = "  - key: team.detectives.0.count\n    values: [3, 4]\n    cost_per_unit: 1\n"
BAD_SPACES = [
    ("levers: []\n", "levers: "),
    ("levers:\n" + LEVER + "colour: red\n", "colour: not an allowed key"),
    ("levers:\n" + LEVER + "    bogus: 1\n", "levers.0.bogus: not an allowed key"),
    ("levers:\n  - key: team.detectives.0.count\n    values: [3, 4]\n", "levers.0.cost_per_unit"),
    (
        "levers:\n  - key: team.detectives.0.count\n    values: [3, 4]\n    cost: {3: 1}\n",
        "levers.0.cost: no cost for value 4",
    ),
    (
        "levers:\n  - key: policies.workload_review.every_days\n    values: [null, 28]\n"
        "    cost: {null: 0, 28: 1}\n    better: higher\n",
        "levers.0.better: higher needs numbers; null is not one",
    ),
    (
        "levers:\n  - key: team.detectives.0.count\n    values: {from: 5, to: 2}\n"
        "    cost_per_unit: 1\n",
        "levers.0.values.to",
    ),
    (
        "levers:\n  - key: team.detectives.0.count\n    values: [0, -1]\n    cost_per_unit: 1\n",
        "levers.0.values: 0:",
    ),
    (
        "levers:\n  - key: team.nonsense\n    values: [1]\n    cost_per_unit: 1\n",
        "levers.0.values: 1:",
    ),
    (
        "levers:\n" + LEVER + "constraints:\n  no_such_metric: {max: 1}\n",
        "constraints.no_such_metric: unknown metric",
    ),
    ("levers:\n" + LEVER + "confidence: 1.5\n", "confidence"),
    ("levers:\n" + LEVER + LEVER, "levers.1.key: team.detectives.0.count is already a lever"),
    ("- just a list\n", "must be a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_SPACES)
def test_bad_space_file_exits_2_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    """A malformed space.yaml: exit 2, one line per problem naming file and field, no output."""
    space = tmp_path / "space.yaml"
    space.write_text(text)
    out = tmp_path / "out"
    done = run_cli(str(EXAMPLES / "mmc.yaml"), "--space", str(space), "--out", str(out), "-q")
    assert done.exit_code == 2, done.output
    assert "Traceback" not in done.output
    lines = done.output.strip().splitlines()
    assert all(line.startswith(f"{space}: ") for line in lines), lines
    assert any(expected in line for line in lines), lines
    assert not out.exists()


def test_bad_space_in_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """Through ``python -m sim``: exit 2, the file and field on stderr, nothing on stdout."""
    space = tmp_path / "space.yaml"
    space.write_text("levers:\n" + LEVER + "    bogus: 1\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "optimise",
            str(EXAMPLES / "mmc.yaml"),
            "--space",
            str(space),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"{space}: levers.0.bogus: not an allowed key"
    assert done.stdout == "" and not (tmp_path / "out").exists()


def test_space_defaults_to_the_scenario_expect() -> None:
    """Without constraints: the scenario's expect: thresholds are the constraints."""
    base = load_scenario(EXAMPLES / "mmc.yaml")
    data = yaml.safe_load((EXAMPLES / "mmc_space.yaml").read_text())
    space, constraints = parse_space(data, base, "mmc_space.yaml")
    assert constraints == dict(base.expect)
    assert space.levers[0].value_list() == list(range(1, 13))


@pytest.mark.parametrize(
    ("lever", "values", "ordered", "costs"),
    [
        (
            {"values": {"from": 4, "to": 12, "step": 4}, "cost_per_unit": 10, "better": "higher"},
            [4, 8, 12],
            [4, 8, 12],
            [40, 80, 120],
        ),
        (
            {"values": {"from": 0.5, "to": 1.0, "step": 0.25}, "cost_per_unit": 4},
            [0.5, 0.75, 1.0],
            [0.5, 0.75, 1.0],
            [2, 3, 4],
        ),
        (
            {
                "values": [None, 56, 28, 14],
                "cost": {None: 0, 56: 2, 28: 4, 14: 8},
                "better": "listed",
            },
            [None, 56, 28, 14],
            [None, 56, 28, 14],
            [0, 2, 4, 8],
        ),
        (
            {"values": [3, 1, 2], "cost_per_unit": 1, "better": "lower"},
            [3, 1, 2],
            [3, 2, 1],
            [3, 1, 2],
        ),
    ],
)
def test_lever_values_order_and_costs(
    lever: dict[str, Any], values: list[Any], ordered: list[Any], costs: list[float]
) -> None:
    """Ranges expand (integers stay integers), better: orders worst → best, costs per value."""
    space = Space.model_validate({"levers": [{"key": "team.detectives.0.count", **lever}]})
    parsed = space.levers[0]
    assert parsed.value_list() == values
    assert [type(v) for v in parsed.value_list()] == [type(v) for v in values]
    assert parsed.ordered() == ordered
    assert [parsed.cost_of(v) for v in values] == pytest.approx(costs)


@pytest.mark.slow
def test_dask_executor_gives_the_serial_result(
    tmp_path: Path,
    dask_cluster: tuple[str, Path, list[subprocess.Popen[bytes]]],  # noqa: F811 (the fixture)
) -> None:
    """The search on a real Dask scheduler makes the serial search's decisions."""
    address, scheduler_file, procs = dask_cluster
    procs.append(dask_worker(scheduler_file, tmp_path / "worker.log"))
    base = load_scenario(EXAMPLES / "mmc.yaml")
    space = detectives_space(3, 6)
    settings = Settings(initial=6, maximum=12)
    found = []
    for executor in ("serial", "dask"):
        ev = SimulationEvaluator(base, space, base.seed, executor=executor, scheduler=address)
        found.append(optimise(space, dict(base.expect), ev, settings))
    serial, dask = found
    assert [(e.point, e.status, e.data) for e in serial.evaluated] == [
        (e.point, e.status, e.data) for e in dask.evaluated
    ]


def test_recommended_scenario_sets_list_and_mapping_levers(tmp_path: Path) -> None:
    """Levers inside a list and inside a policy mapping both survive ``extends`` exactly."""
    from sim.experiments.optimise import Evaluated, Outcome
    from sim.experiments.optimise_runs import recommended_scenario
    from sim.scenario.space import load_space

    base_path = ROOT / "scenarios" / "polit_2016_as_was.yaml"
    base = load_scenario(base_path)
    space, constraints = load_space(EXAMPLES / "reviews_space.yaml", base)
    values = {
        "team.detectives.0.count": 8,
        "policies.workload_review.every_days": 28,
        "policies.workload_review.act_probability": 0.5,
    }
    chosen = Evaluated((1, 2, 1), values, 1.0)
    outcome = Outcome(space, constraints, [], 0.95, Settings(), [chosen], chosen, 0, 48, 0, False)
    mapping = recommended_scenario(base_path, base, outcome, tmp_path)
    (tmp_path / "recommended.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
    overrides = [f"{k}={v}" for k, v in values.items()]
    expected = load_scenario(base_path, overrides)
    assert model_key(load_scenario(tmp_path / "recommended.yaml")) == model_key(expected)
    assert set(mapping) == {"extends", "team", "policies"}
    assert mapping["policies"] == {"workload_review": {"every_days": 28, "act_probability": 0.5}}
