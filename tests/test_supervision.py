"""Workload reviews: the policy against scripted team views, the process's exact effects, extremes
(``act_probability: 0`` equals no reviews; unlimited sergeant time reviews every flagged case),
and the direction of effect under common random numbers."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from numpy.random import Generator

from sim.analysis.statistics import mean_ci, replication_metrics
from sim.domain.entities import Case, Detective
from sim.engine.replication import ReplicationRecords, run_replication
from sim.policies import WORKLOAD_REVIEW
from sim.policies.review import GapThreshold, combined_probability
from sim.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
AS_WAS = SCENARIOS / "polit_2016_as_was.yaml"


class ScriptedTeam:
    """A read-only team view with a fixed clock and detectives."""

    def __init__(self, detectives: Sequence[Detective], now: float = 0.0) -> None:
        self._detectives = list(detectives)
        self._now = now

    @property
    def now(self) -> float:
        return self._now

    @property
    def detectives(self) -> Sequence[Detective]:
        return self._detectives

    def present(self) -> list[Detective]:
        return [d for d in self._detectives if d.absences == 0]

    def by_name(self, name: str) -> Detective | None:
        return next((d for d in self._detectives if d.name == name), None)


def _detective(index: int, fte: float = 1.0, cases: int = 0) -> Detective:
    d = Detective(index, f"dc_{index}", "dc", fte, 35.0)
    d.caseload.extend(Case(1000 * index + k, 0.0, 3, [1.0], [0.0]) for k in range(cases))
    return d


def _idle_case(owner: Detective, idle_since: float | None) -> Case:
    case = Case(1, 0.0, 3, [10.0], [0.0])
    case.idle_since = idle_since
    case.owner = owner
    owner.caseload.append(case)
    return case


def _rng() -> Generator:
    return np.random.Generator(np.random.PCG64(7))


# --- the policy ----------------------------------------------------------------------------------


def test_a_case_is_flagged_only_when_it_has_waited_on_the_team_past_the_threshold() -> None:
    """Flagging uses the time the case has waited on the team, not time parked elsewhere."""
    policy = GapThreshold(every_days=28, gap_threshold_days=90)
    owner = _detective(0)
    waiting = _idle_case(owner, idle_since=10.0)
    assert not policy.flags(waiting, now=100.0)  # exactly 90 days: not over
    assert policy.flags(waiting, now=100.5)
    parked = _idle_case(owner, idle_since=None)  # at forensics or being worked
    assert not policy.flags(parked, now=1000.0)


def test_the_sergeant_reallocates_to_the_least_loaded_present_colleague_by_fte() -> None:
    """A reallocation goes to the present colleague with the fewest cases per FTE, not the owner."""
    owner = _detective(0, cases=1)
    full_time = _detective(1, fte=1.0, cases=4)  # 4 per FTE
    part_time = _detective(2, fte=0.5, cases=1)  # 2 per FTE: the least loaded
    absent = _detective(3, cases=0)
    absent.absences = 1
    case = _idle_case(owner, idle_since=0.0)
    team = ScriptedTeam([owner, full_time, part_time, absent], now=200.0)
    decision = GapThreshold(act_probability=1.0).decide(case, team, _rng(), 1.0)
    assert decision.action == "reallocate"
    assert decision.target is part_time


def test_a_decision_draws_exactly_one_uniform_whatever_the_outcome() -> None:
    """Deciding consumes one draw whether or not the sergeant acts (common random numbers)."""
    owner = _detective(0)
    case = _idle_case(owner, idle_since=0.0)
    team = ScriptedTeam([owner, _detective(1)], now=200.0)
    for p in (0.0, 0.5, 1.0):
        rng, reference = _rng(), _rng()
        GapThreshold().decide(case, team, rng, p)
        reference.random()
        assert rng.random() == reference.random()


def test_act_probability_zero_never_acts_and_one_always_acts() -> None:
    """The chance to act is exactly the probability given, at both ends."""
    owner = _detective(0)
    case = _idle_case(owner, idle_since=0.0)
    team = ScriptedTeam([owner, _detective(1)], now=200.0)
    rng = _rng()
    policy = GapThreshold(action="action_plan")
    assert all(policy.decide(case, team, rng, 0.0).action is None for _ in range(200))
    assert all(policy.decide(case, team, rng, 1.0).action == "action_plan" for _ in range(200))


def test_inspector_and_hr_raise_the_chance_of_action() -> None:
    """Independent prompts combine as 1 − (1 − p) Π (1 − boost)."""
    assert combined_probability(0.2) == pytest.approx(0.2)
    assert combined_probability(0.2, 0.5) == pytest.approx(0.6)
    assert combined_probability(0.2, 0.5, 0.5) == pytest.approx(0.8)
    assert combined_probability(0.0, 0.0) == 0.0


def test_the_review_rule_is_registered_and_the_spec_shape_builds() -> None:
    """SPEC's mapping (no rule named) builds the default review rule with its parameters."""
    policy = WORKLOAD_REVIEW.build(
        {
            "every_days": None,
            "gap_threshold_days": 90,
            "act_probability": 0.5,
            "action": "reallocate",
        }
    )
    assert isinstance(policy, GapThreshold)
    assert policy.every_days is None
    with pytest.raises(ValueError, match="act_probability"):
        WORKLOAD_REVIEW.build({"act_probability": 1.5})


# --- the process ---------------------------------------------------------------------------------

ONE_OWNER = """
name: one_owner
horizon_days: 400
warmup_days: 0
seed: 3
team:
  hours_per_week: 35
  detectives:
    - {name: a, fte: 1.0}
    - {name: b, fte: 1.0}
  sergeants: {count: 1, review_hours_per_week: null, span_of_control: null}
cases:
  arrivals: {rate_per_year: 365}
  grades:
    low: {share: 1.0, target_days: 30}
  stages:
    - {name: work, effort_hours: {dist: fixed, value: 14}}
policies:
  allocation: {rule: fixed_owner, owner: a}
  work_order: {rule: oldest_first}
  workload_review: {every_days: 30, gap_threshold_days: 20, act_probability: 1.0,
                    action: reallocate, days_to_act: 0}
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reviews_move_flagged_cases_at_review_times_only(tmp_path: Path) -> None:
    """Cases move only on review days, only after waiting past the threshold, and get worked."""
    scenario = load_scenario(_write(tmp_path, ONE_OWNER))
    records = run_replication(scenario, 0, trace=True)
    assert records.trace is not None
    moves = [e for e in records.trace if e[0] == "own" and e[4]]
    assert moves, "a detective given twice the work they can do must have cases moved"
    assert moves[0][3] == "b"  # the first moves relieve the overloaded owner
    assert all(abs(e[1] / 30.0 - round(e[1] / 30.0)) < 1e-9 for e in moves)
    arrival = dict(zip(records.cases["case_id"], records.cases["arrival_day"], strict=True))
    assert all(e[1] - arrival[e[2]] > 20.0 for e in moves)  # waited past the threshold
    moved_ids = {e[2] for e in moves}
    worked_by_b = {e[4] for e in records.trace if e[0] == "work" and e[3] == "b"}
    assert worked_by_b <= moved_ids
    assert worked_by_b  # the moved cases are progressed
    metrics = replication_metrics(records, scenario)
    assert metrics["review_reallocations"] == len(moves)
    assert metrics["reviews_held"] == 13  # days 30, 60, ..., 390


def test_without_reviews_nothing_moves(tmp_path: Path) -> None:
    """The same team without reviews keeps every case with its owner."""
    scenario = load_scenario(
        _write(tmp_path, ONE_OWNER), ["policies.workload_review.every_days=null"]
    )
    records = run_replication(scenario, 0)
    assert records.cases["owner_changes"].sum() == 0
    assert replication_metrics(records, scenario)["reviews_held"] == 0


# --- extremes ------------------------------------------------------------------------------------


def _same_cases(a: ReplicationRecords, b: ReplicationRecords) -> bool:
    return all(
        np.array_equal(a.cases[k], b.cases[k], equal_nan=a.cases[k].dtype.kind == "f")
        for k in a.cases
    )


@pytest.mark.parametrize("action", ["reallocate", "action_plan", "escalate"])
def test_act_probability_zero_equals_reviews_off_exactly(action: str) -> None:
    """Reviews by a sergeant who never acts change no case: identical records, same seed."""
    off = load_scenario(AS_WAS)
    never = load_scenario(
        AS_WAS,
        [
            "policies.workload_review.every_days=28",
            "policies.workload_review.act_probability=0",
            f"policies.workload_review.action={action}",
        ],
    )
    for replication in (0, 1, 2):
        a, b = run_replication(off, replication), run_replication(never, replication)
        assert replication_metrics(b, never)["cases_flagged"] > 0  # reviews did run
        assert _same_cases(a, b)
        assert a.detectives == b.detectives


def _capacity(review_hours: str, span: str) -> Scenario:
    return load_scenario(
        AS_WAS,
        [
            "policies.workload_review.every_days=28",
            f"team.sergeants.review_hours_per_week={review_hours}",
            f"team.sergeants.span_of_control={span}",
        ],
    )


def test_unlimited_sergeant_time_leaves_no_flagged_case_unreviewed() -> None:
    """With unlimited review hours and span, every case over the threshold is reviewed."""
    unlimited = _capacity("null", "null")
    scarce = _capacity("0.5", "2")  # the contrast shows the check can fail
    missed_unlimited = missed_scarce = flagged = 0.0
    for replication in range(4):
        m = replication_metrics(run_replication(unlimited, replication), unlimited)
        missed_unlimited += m["flagged_unreviewed"]
        flagged += m["cases_flagged"]
        missed_scarce += replication_metrics(run_replication(scarce, replication), scarce)[
            "flagged_unreviewed"
        ]
    assert flagged > 0
    assert missed_unlimited == 0
    assert missed_scarce > 0


# --- direction of effect under common random numbers --------------------------------------------

REPS = 30


def _metrics(scenario: Scenario, *names: str, reps: int = REPS) -> list[np.ndarray]:
    rows = [replication_metrics(run_replication(scenario, r), scenario) for r in range(reps)]
    return [np.array([row[name] for row in rows]) for name in names]


def _metric(scenario: Scenario, name: str) -> np.ndarray:
    return _metrics(scenario, name)[0]


def _reviews(every_days: str, act_probability: float = 0.6) -> Scenario:
    return load_scenario(
        AS_WAS,
        [
            f"policies.workload_review.every_days={every_days}",
            f"policies.workload_review.act_probability={act_probability}",
        ],
    )


def _upper(diff: np.ndarray) -> float:
    return mean_ci(diff)[3]


@pytest.mark.validation
def test_more_frequent_reviews_never_make_mean_neglect_worse() -> None:
    """Paired over replications, no step to more frequent reviews raises mean or worst neglect."""
    runs = [
        _metrics(_reviews(e), "mean_neglect_days", "max_neglect_days")
        for e in ("null", "91", "28", "14")
    ]
    for (mean_rare, worst_rare), (mean_frequent, worst_frequent) in pairwise(runs):
        # Never significantly worse on the mean, and clearly better on the worst case.
        assert mean_ci(mean_frequent - mean_rare)[2] < 0
        assert _upper(worst_frequent - worst_rare) < 0


@pytest.mark.validation
def test_a_higher_act_probability_reduces_neglect() -> None:
    """Paired over replications, a sergeant more likely to act leaves less neglect."""
    reluctant = _metric(_reviews("28", 0.1), "mean_neglect_days")
    confident = _metric(_reviews("28", 0.8), "mean_neglect_days")
    assert _upper(confident - reluctant) < 0


@pytest.mark.validation
def test_spreading_an_absent_colleagues_cases_beats_one_part_timer() -> None:
    """Spreading by FTE-weighted load leaves less neglect than handing all to the part-timer."""
    one = load_scenario(AS_WAS)
    spread = load_scenario(SCENARIOS / "reform_spread_on_leave.yaml")
    names = ("max_neglect_days", "mean_neglect_days")
    # The worst case varies a lot between replications: the paired differences of
    # max_neglect_days have an sd of about 175 days against an effect of about 40, so 60 pairs
    # detect it about half the time (whatever the seed); 200 pairs give the comparison its power.
    pairs = zip(_metrics(spread, *names, reps=200), _metrics(one, *names, reps=200), strict=True)
    for a, b in pairs:
        assert _upper(a - b) < 0


@pytest.mark.parametrize("pulls", [True, False])
def test_a_supervisor_directing_a_waiting_case_takes_it_out_of_the_queue(pulls: bool) -> None:
    """A flagged case released to the team queue (or pool) before the inspector's direction
    takes effect leaves the queue for its new owner, so it is held once and closes once."""
    import simpy

    from sim.engine.streams import Streams
    from sim.engine.supervision import move_case
    from sim.engine.team import TeamState
    from sim.policies.allocation import LeastLoadedFte, TeamQueue
    from sim.policies.reallocation import SergeantPool
    from sim.policies.work_order import OldestFirst

    a, b = _detective(0), _detective(1)
    team = TeamState(
        simpy.Environment(),
        [a, b],
        allocation=TeamQueue(max_cases_per_detective=1) if pulls else LeastLoadedFte(),
        work_order=OldestFirst(),
        reallocation=SergeantPool(after_days=0.0),
        stage_is_team=[True],
        enforcement_stage=0,
        block_hours=7.0,
        rng=Streams(1, 0)["policy.allocation"],
    )
    case = Case(1, 0.0, 3, [10.0], [0.0])
    team.open_cases += 1
    team.enqueue(case)
    assert len(team.queue) + len(team.pool) == 1
    assert move_case(team, case, b)
    assert team.queue == [] and team.pool == []
    assert b.caseload == [case] and case.owner is b and case.inherited
    team.close(case)
    assert b.caseload == [] and team.open_cases == 0


def test_single_colleague_hands_over_even_when_every_colleague_is_fully_relieved() -> None:
    """Relief steers the hand-over to an unrelieved colleague; with none, the least loaded of the
    relieved ones takes the cases (they must be held by someone at work), never the absent one."""
    from sim.policies.reallocation import SingleColleague

    absent, relieved_busy, relieved_idle, free = (
        _detective(0, cases=1),
        _detective(1, cases=5),
        _detective(2, cases=1),
        _detective(3, cases=9),
    )
    absent.absences = 1
    for d in (relieved_busy, relieved_idle):
        d.relief = 1.0
    cases = list(absent.caseload)
    rule = SingleColleague(after_days=0.0)
    team = ScriptedTeam([absent, relieved_busy, relieved_idle, free])
    assert rule.reassign(cases, absent, team, _rng()) == [free]
    free.absences = 1
    assert rule.reassign(cases, absent, team, _rng()) == [relieved_idle]
    relieved_busy.absences = relieved_idle.absences = 1
    assert rule.reassign(cases, absent, team, _rng()) == [absent]
