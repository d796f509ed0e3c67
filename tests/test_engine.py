"""Unit tests of the engine in SimPy's style: tiny teams, fixed efforts, exact timelines.

Each test wires a :class:`~sim.engine.team.TeamState` by hand, schedules a handful of referrals at
fixed
days (and, where needed, leave at fixed days), runs the clock and compares the timeline the
engine traces with the one worked out by hand in the test. Unless a test says otherwise,
``hours_per_week = 7`` so that a 1.0-FTE detective supplies exactly one hour of case work per
day, and hours and days can be read off one another.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import simpy

from sim.domain.entities import Case, Detective, Grade
from sim.engine.roster import WeeklyClock
from sim.engine.streams import Streams
from sim.engine.team import ExternalUnit, TeamState
from sim.policies import (
    AllocationPolicy,
    ReallocationPolicy,
    WorkOrderPolicy,
)
from sim.policies.allocation import FixedOwner, LeastLoadedFte, RoundRobin, TeamQueue
from sim.policies.reallocation import Keep, SergeantPool, SingleColleague, Spread
from sim.policies.work_order import GradeThenOldest, OldestFirst

Event = tuple[Any, ...]


@dataclass
class Referral:
    """A referral of a test: arrival day, grade, hours per stage, external days per stage."""

    day: float
    efforts: list[float]
    external_days: list[float] = field(default_factory=list)
    grade: Grade = Grade.MEDIUM


def run_team(
    referrals: Sequence[Referral],
    detectives: Sequence[tuple[str, float]] = (("dc", 1.0),),
    *,
    allocation: AllocationPolicy | None = None,
    work_order: WorkOrderPolicy | None = None,
    reallocation: ReallocationPolicy | None = None,
    stage_is_team: Sequence[bool] = (True,),
    external_capacity: int | None = None,
    block_hours: float = 1.0,
    hours_per_week: float = 7.0,
    leave: Sequence[tuple[str, float, float]] = (),
    until: float = 1000.0,
    roster: Sequence[str] | None = None,
    day_0_weekday: str = "mon",
) -> tuple[TeamState, list[Event]]:
    """Run a hand-made team and return it with its timeline.

    Args:
        referrals: the referrals, in order of arrival (their index is the case id).
        detectives: (name, fte) of each detective, in scenario order.
        leave: (detective name, start day, length in days) of each absence.
        until: the day the clock stops.
        roster: the weekdays every detective works (None: every day alike).
    """
    env = simpy.Environment()
    clock = None if roster is None else WeeklyClock(roster, day_0_weekday)
    team_members = [
        Detective(i, name, "dc", fte, hours_per_week, clock)
        for i, (name, fte) in enumerate(detectives)
    ]
    trace: list[Event] = []
    team = TeamState(
        env,
        team_members,
        allocation=allocation or LeastLoadedFte(),
        work_order=work_order or OldestFirst(),
        reallocation=reallocation or Keep(),
        stage_is_team=list(stage_is_team),
        enforcement_stage=0,
        block_hours=block_hours,
        rng=Streams(1, 0)["policy.allocation"],
        trace=trace,
    )
    for s, is_team in enumerate(stage_is_team):
        if not is_team:
            team.units[s] = ExternalUnit(env, s, external_capacity, False, team.external_done)

    def make_case(i: int) -> Case:
        r = referrals[i]
        days = r.external_days or [0.0] * len(r.efforts)
        return Case(i, r.day, int(r.grade), list(r.efforts), list(days))

    new_referral = map(make_case, range(len(referrals))).__next__

    def takes_leave(name: str, start: float, days: float) -> Generator[simpy.Event, Any, None]:
        """Process: detective ``name`` is away for ``days`` from ``start``."""
        detective = team.by_name(name)
        assert detective is not None
        yield env.timeout(start)
        team.start_absence(detective, "long")
        yield env.timeout(days)
        team.end_absence(detective, "long")

    for name, start, days in leave:
        env.process(takes_leave(name, start, days))
    team.start([r.day for r in referrals], new_referral)
    env.run(until=until)
    return team, trace


def assert_timeline(actual: Sequence[Event], expected: Sequence[Event]) -> None:
    """Timelines equal, with days and hours compared to 1e-9."""
    assert len(actual) == len(expected), f"{actual}\n!=\n{expected}"
    for got, want in zip(actual, expected, strict=True):
        assert len(got) == len(want), f"{got} != {want}"
        for g, w in zip(got, want, strict=True):
            if isinstance(w, float) and not isinstance(w, bool):
                assert g == pytest.approx(w, abs=1e-9), f"{got} != {want}"
            else:
                assert g == w, f"{got} != {want}"


def of_kind(trace: Sequence[Event], kind: str) -> list[Event]:
    """The events of one kind (``"work"``, ``"own"``, ...)."""
    return [event for event in trace if event[0] == kind]


def test_one_case_of_one_working_day_is_worked_and_closed() -> None:
    """One detective, one case of 7.4 h at 37 h/week: owned on arrival, worked 1.4 days, closed."""
    _team, trace = run_team([Referral(2.0, [7.4])], hours_per_week=37.0, block_hours=7.4)
    assert_timeline(
        trace,
        [
            ("own", 2.0, 0, "dc", False),
            ("work", 2.0, 3.4, "dc", 0, 7.4),
            ("close", 3.4, 0),
        ],
    )


def test_work_is_cut_into_blocks_only_when_another_case_competes() -> None:
    """A lone case is worked to the end; a new case cuts the run at the next block boundary."""
    _team, trace = run_team([Referral(0.0, [3.0]), Referral(0.5, [3.0])], block_hours=1.0)
    assert_timeline(
        of_kind(trace, "work"),
        [
            ("work", 0.0, 1.0, "dc", 0, 1.0),
            ("work", 1.0, 2.0, "dc", 0, 1.0),
            ("work", 2.0, 3.0, "dc", 0, 1.0),
            ("work", 3.0, 6.0, "dc", 1, 3.0),
        ],
    )


def test_grade_then_oldest_takes_the_urgent_case_at_the_next_block() -> None:
    """A later very-high case is taken up at the next block boundary: priority, non-preemptive."""
    referrals = [Referral(0.0, [3.0], grade=Grade.LOW), Referral(0.5, [3.0], grade=Grade.VERY_HIGH)]
    _team, trace = run_team(referrals, work_order=GradeThenOldest(), block_hours=1.0)
    assert_timeline(
        of_kind(trace, "work"),
        [
            ("work", 0.0, 1.0, "dc", 0, 1.0),
            ("work", 1.0, 2.0, "dc", 1, 1.0),
            ("work", 2.0, 3.0, "dc", 1, 1.0),
            ("work", 3.0, 4.0, "dc", 1, 1.0),
            ("work", 4.0, 6.0, "dc", 0, 2.0),
        ],
    )


def test_team_queue_is_pulled_in_work_order() -> None:
    """A detective pulling from the team queue takes the case grade_then_oldest ranks first."""
    referrals = [
        Referral(0.0, [2.0], grade=Grade.MEDIUM),
        Referral(0.5, [1.0], grade=Grade.LOW),
        Referral(0.6, [1.0], grade=Grade.VERY_HIGH),
        Referral(0.7, [1.0], grade=Grade.MEDIUM),
    ]
    _team, trace = run_team(
        referrals, allocation=TeamQueue(max_cases_per_detective=1), work_order=GradeThenOldest()
    )
    assert [(e[4], e[1], e[2]) for e in of_kind(trace, "work")] == [
        (0, 0.0, 2.0),
        (2, 2.0, 3.0),
        (3, 3.0, 4.0),
        (1, 4.0, 5.0),
    ]


def test_leave_interrupts_a_block_and_work_resumes_on_return() -> None:
    """Leave stops work at once; the rest of the case is worked when the detective returns."""
    _team, trace = run_team([Referral(0.0, [5.0])], leave=[("dc", 2.0, 3.0)], block_hours=1.0)
    assert_timeline(
        trace,
        [
            ("own", 0.0, 0, "dc", False),
            ("absent", 2.0, "dc", "long"),
            ("work", 0.0, 2.0, "dc", 0, 2.0),
            ("present", 5.0, "dc"),
            ("work", 5.0, 8.0, "dc", 0, 3.0),
            ("close", 8.0, 0),
        ],
    )


def test_a_case_at_an_external_unit_is_parked_and_costs_no_detective_time() -> None:
    """While one case waits on an external unit the detective works another, then resumes it."""
    referrals = [
        Referral(0.0, [2.0, 0.0, 1.0], [0.0, 4.0, 0.0]),
        Referral(0.5, [3.0, 0.0, 1.0], [0.0, 10.0, 0.0]),
    ]
    _team, trace = run_team(referrals, stage_is_team=(True, False, True), block_hours=1.0)
    assert_timeline(
        [e for e in trace if e[0] != "own"],
        [
            ("work", 0.0, 1.0, "dc", 0, 1.0),
            ("work", 1.0, 2.0, "dc", 0, 1.0),
            ("work", 2.0, 5.0, "dc", 1, 3.0),
            ("external", 6.0, 0, 1),
            ("work", 6.0, 7.0, "dc", 0, 1.0),
            ("close", 7.0, 0),
            ("external", 15.0, 1, 1),
            ("work", 15.0, 16.0, "dc", 1, 1.0),
            ("close", 16.0, 1),
        ],
    )


def test_a_capacity_limited_external_unit_queues_cases() -> None:
    """A unit of capacity one starts the second case only when the first is done."""
    referrals = [Referral(0.0, [1.0, 0.0], [0.0, 4.0]), Referral(0.0, [1.0, 0.0], [0.0, 4.0])]
    _team, trace = run_team(
        referrals, [("a", 1.0), ("b", 1.0)], stage_is_team=(True, False), external_capacity=1
    )
    assert_timeline(of_kind(trace, "close"), [("close", 5.0, 0), ("close", 9.0, 1)])


def test_least_loaded_fte_picks_the_lowest_caseload_per_fte() -> None:
    """least_loaded_fte weighs caseloads by FTE and breaks ties by scenario order."""
    referrals = [Referral(float(i), [100.0]) for i in range(6)]
    detectives = [("a", 1.0), ("b", 0.5), ("c", 1.0)]
    _team, trace = run_team(referrals, detectives, until=10.0)
    owners = [e[3] for e in of_kind(trace, "own")]
    # loads before each pick (a, b, c): 0 0 0 | 1 0 0 | 1 2 0 | 1 2 1 | 2 2 1 | 2 2 2
    assert owners == ["a", "b", "c", "a", "c", "a"]


def test_round_robin_takes_turns_and_skips_the_absent() -> None:
    """round_robin gives case k to detective k mod n, or the next one present."""
    referrals = [Referral(1.0 + i, [100.0]) for i in range(6)]
    detectives = [("a", 1.0), ("b", 1.0), ("c", 1.0)]
    _team, trace = run_team(
        referrals, detectives, allocation=RoundRobin(), leave=[("b", 0.5, 50.0)], until=10.0
    )
    assert [e[3] for e in of_kind(trace, "own")] == ["a", "c", "c", "a", "c", "c"]


REALLOCATION_CASES = [
    pytest.param(Keep(after_days=10.0), [], id="keep"),
    pytest.param(
        SingleColleague(after_days=10.0, colleague="b"),
        [(0, "b"), (3, "b"), (6, "b")],
        id="single_colleague-named",
    ),
    # b holds 2 cases at 0.5 FTE (load 4), c holds 2 at 1.0 FTE (load 2)
    pytest.param(SingleColleague(after_days=10.0), [(0, "c"), (3, "c"), (6, "c")], id="single"),
    pytest.param(Spread(after_days=10.0), [(0, "c"), (3, "c"), (6, "b")], id="spread"),
]


@pytest.mark.parametrize(("rule", "moves"), REALLOCATION_CASES)
def test_cases_of_an_absent_detective_move_after_after_days(
    rule: ReallocationPolicy, moves: list[tuple[int, str]]
) -> None:
    """After after_days of absence the rule's chosen colleagues inherit the cases, at that day."""
    referrals = [Referral(0.1 * i, [100.0]) for i in range(7)]
    detectives = [("a", 1.0), ("b", 0.5), ("c", 1.0)]
    team, trace = run_team(
        referrals,
        detectives,
        allocation=RoundRobin(),
        reallocation=rule,
        leave=[("a", 1.0, 50.0)],
        until=30.0,
    )
    later = [e for e in of_kind(trace, "own") if e[1] > 1.0]
    assert_timeline(later, [("own", 11.0, case, name, True) for case, name in moves])
    held_by_a = [c.case_id for c in team.detectives[0].caseload]
    assert held_by_a == sorted({0, 3, 6} - {case for case, _ in moves})


def test_sergeant_pool_returns_cases_to_the_allocation_rule() -> None:
    """sergeant_pool releases the absent detective's cases, then allocation re-assigns them."""
    referrals = [Referral(0.1 * i, [100.0]) for i in range(7)]
    detectives = [("a", 1.0), ("b", 0.5), ("c", 1.0)]
    _team, trace = run_team(
        referrals,
        detectives,
        allocation=RoundRobin(),
        reallocation=SergeantPool(after_days=10.0),
        leave=[("a", 1.0, 50.0)],
        until=30.0,
    )
    later = [e for e in of_kind(trace, "own") if e[1] > 1.0]
    # round_robin sends cases 0, 3 and 6 (turn: a) to the next one present, b
    assert_timeline(
        later,
        [("own", 11.0, case, None, True) for case in (0, 3, 6)]
        + [("own", 11.0, case, "b", False) for case in (0, 3, 6)],
    )


@pytest.mark.parametrize("pulls", [False, True])
def test_a_released_case_that_an_external_unit_finishes_closes_once(pulls: bool) -> None:
    """A case at an external unit, released from an absent caseload, closes where it waits.

    The case's team work ends on day 0.25 and forensics keep it until day 10.25. Its detective
    goes on leave on day 1 and, with nobody else present, sergeant_pool releases it to the pool
    (or the team queue). Forensics finish it while it is unowned: it closes then, leaves the
    pool, and is not handed back (and closed again) when the detective returns on day 21.
    """
    team, trace = run_team(
        [Referral(0.0, [0.25, 0.0], [0.0, 10.0])],
        allocation=TeamQueue(max_cases_per_detective=5) if pulls else None,
        reallocation=SergeantPool(after_days=0.0),
        stage_is_team=(True, False),
        leave=[("dc", 1.0, 20.0)],
        until=40.0,
    )
    assert [e[1:] for e in of_kind(trace, "close")] == [(10.25, 0)]
    assert [e[3] for e in of_kind(trace, "own")] == ["dc", None]
    assert team.pool == [] and team.queue == []
    assert team.detectives[0].caseload == []
    assert team.open_cases == 0


def test_no_case_moves_when_the_detective_returns_before_after_days() -> None:
    """An absence shorter than after_days leaves the caseload where it was."""
    referrals = [Referral(0.0, [100.0]), Referral(0.1, [100.0])]
    _team, trace = run_team(
        referrals,
        [("a", 1.0), ("b", 1.0)],
        allocation=FixedOwner(owner="a"),
        reallocation=Spread(after_days=10.0),
        leave=[("a", 1.0, 9.0)],
        until=30.0,
    )
    assert [e[3] for e in of_kind(trace, "own")] == ["a", "a"]


@pytest.mark.parametrize(("penalty", "first_after_move"), [(0.0, 0), (5.0, 1)])
def test_inherited_penalty_days_ranks_an_inherited_case_later(
    penalty: float, first_after_move: int
) -> None:
    """An inherited case ranks as if it had arrived inherited_penalty_days later."""
    referrals = [Referral(0.0, [10.0]), Referral(1.0, [10.0])]
    _team, trace = run_team(
        referrals,
        [("a", 1.0), ("b", 1.0)],
        allocation=RoundRobin(),
        work_order=OldestFirst(inherited_penalty_days=penalty),
        reallocation=SingleColleague(after_days=2.0, colleague="b"),
        leave=[("a", 0.5, 100.0)],
        until=40.0,
    )
    b_work = [e for e in of_kind(trace, "work") if e[3] == "b"]
    # b works case 1 alone from day 1; case 0 arrives at 2.5 and cuts the run at day 3
    assert_timeline(b_work[:1], [("work", 1.0, 3.0, "b", 1, 2.0)])
    assert b_work[1][4] == first_after_move
    assert b_work[1][1] == pytest.approx(3.0)


def test_gap_and_neglect_count_external_waits_differently() -> None:
    """Time parked at an external unit is a gap in progress but not neglect by the team."""
    referrals = [
        Referral(0.0, [2.0, 0.0, 1.0], [0.0, 4.0, 0.0]),
        Referral(0.5, [3.0, 0.0, 1.0], [0.0, 10.0, 0.0]),
    ]
    team, _trace = run_team(referrals, stage_is_team=(True, False, True), block_hours=1.0)
    first, second = team.cases
    # first: worked 0-2, at the unit 2-6, worked 6-7; second: waits 0.5-2, at the unit 5-15
    assert (first.longest_gap_days, first.longest_neglect_days) == (4.0, 0.0)
    assert (second.longest_gap_days, second.longest_neglect_days) == (10.0, 1.5)
    assert (first.closed_day, second.closed_day) == (7.0, 16.0)
    assert (first.first_work_day, second.first_work_day) == (0.0, 2.0)


def test_leave_counts_as_neglect_and_reallocation_as_an_owner_change() -> None:
    """A case frozen with an absent owner is neglected; moving it counts one owner change."""
    referrals = [Referral(0.0, [5.0])]
    team, _trace = run_team(
        referrals,
        [("a", 1.0), ("b", 1.0)],
        allocation=FixedOwner(owner="a"),
        reallocation=SingleColleague(after_days=3.0, colleague="b"),
        leave=[("a", 2.0, 30.0)],
    )
    (case,) = team.cases
    # worked by a 0-2, frozen 2-5, inherited by b at 5 and finished 5-8
    assert case.longest_neglect_days == pytest.approx(3.0)
    assert (case.owner_changes, case.inherited) == (1, True)
    assert case.closed_day == pytest.approx(8.0)


# --- weekly rosters ---------------------------------------------------------------------------

MON_FRI = ["mon", "tue", "wed", "thu", "fri"]


def test_a_rostered_detective_works_weekdays_only() -> None:
    """7 h a week over Mon-Fri is 1.4 h a working day: 10 h from Thursday end a week on Monday.

    Day 0 is a Monday. Thursday and Friday (days 3, 4) give 2.8 h, the weekend nothing, the next
    week (days 7-11) 7 h, the weekend nothing, and the last 0.2 h take until day 14 + 0.2/1.4.
    """
    _team, trace = run_team([Referral(3.0, [10.0])], block_hours=10.0, roster=MON_FRI)
    assert_timeline(
        trace,
        [
            ("own", 3.0, 0, "dc", False),
            ("work", 3.0, 14.0 + 0.2 / 1.4, "dc", 0, 10.0),
            ("close", 14.0 + 0.2 / 1.4, 0),
        ],
    )


def test_a_referral_at_the_weekend_waits_for_monday() -> None:
    """Arriving on Saturday (day 5), the case is owned at once but first worked on Monday."""
    team, trace = run_team([Referral(5.5, [1.4])], block_hours=1.4, roster=MON_FRI)
    assert_timeline(
        trace,
        [
            ("own", 5.5, 0, "dc", False),
            ("work", 7.0, 8.0, "dc", 0, 1.4),
            ("close", 8.0, 0),
        ],
    )
    case = team.cases[0]
    assert case.first_work_day == pytest.approx(7.0)


def test_a_block_cut_by_leave_counts_only_working_hours() -> None:
    """Leave on Tuesday of week 2 cuts a block begun on Friday: Fri + Mon + 0.5 Tue worked."""
    _team, trace = run_team(
        [Referral(4.0, [20.0])], block_hours=20.0, roster=MON_FRI, leave=[("dc", 8.5, 2.0)]
    )
    work = of_kind(trace, "work")
    assert (work[0][1], work[0][2]) == pytest.approx((4.0, 8.5))
    assert work[0][5] == pytest.approx(2.5 * 1.4)
    # Back on Thursday (day 10.5): the remaining 16.5 h take 11.79 working days.
    assert work[1][1] == pytest.approx(10.5)
    assert work[1][5] == pytest.approx(20.0 - 3.5)


def test_competing_cases_are_cut_at_working_time_block_boundaries() -> None:
    """Blocks of 1.4 h are one working day each: a second case cuts the first at a day's end."""
    _team, trace = run_team(
        [Referral(4.0, [4.2]), Referral(4.5, [1.4])],
        block_hours=1.4,
        roster=MON_FRI,
        work_order=OldestFirst(),
    )
    work = [(e[1], e[2], e[4], e[5]) for e in of_kind(trace, "work")]
    # Case 0 runs alone from Friday; case 1 arrives, so case 0's run is cut at the end of its
    # first working day (Friday evening, day 5); oldest first keeps choosing case 0 on Monday.
    assert work[0] == pytest.approx((4.0, 5.0, 0, 1.4))
    assert work[1][0] == pytest.approx(7.0) and work[1][2] == 0


def test_the_neglect_holder_is_who_held_the_case_longest_in_its_longest_wait() -> None:
    """Waits are credited to each holder in turn; the longest wait names its main holder."""
    a, b = Detective(0, "a", "dc", 1.0, 7.0), Detective(1, "b", "dc", 1.0, 7.0)
    case = Case(0, 0.0, int(Grade.MEDIUM), [10.0], [0.0])
    assert case.neglect_holder == ""
    case.owner, case.idle_since = a, 0.0
    case.hand_over(10.0)  # a held it 10 days of the wait, then b 30
    case.owner = b
    case.end_wait(40.0)
    assert (case.longest_neglect_days, case.neglect_holder) == (40.0, "b")
    case.idle_since = 50.0  # a shorter wait, partly unowned: the record stands
    case.hand_over(60.0)
    case.owner = None
    case.end_wait(70.0)
    assert (case.longest_neglect_days, case.neglect_holder) == (40.0, "b")
    case.owner, case.held_since, case.idle_since = a, 95.0, 100.0  # held before the wait began
    case.hand_over(105.0)  # a 5 days, b 45, a 10: b again, over 60 days
    case.owner = b
    case.hand_over(150.0)
    case.owner = a
    case.end_wait(160.0)
    assert (case.longest_neglect_days, case.neglect_holder) == (60.0, "b")
    assert case.idle_since is None and case.spell_held is None


def test_a_case_inherited_during_its_wait_names_the_colleague_who_held_it() -> None:
    """a's case waits behind a's long case; a goes on leave and b (busy) inherits it."""
    referrals = [Referral(0.0, [30.0]), Referral(0.1, [1.0]), Referral(0.2, [20.0])]
    team, _trace = run_team(
        referrals,
        [("a", 1.0), ("b", 1.0)],
        allocation=FixedOwner(owner="a"),
        reallocation=SingleColleague(after_days=2.0, colleague="b"),
        leave=[("a", 5.0, 100.0)],
        until=200.0,
    )
    case = team.cases[1]
    # Waiting from day 0.1: a held it to day 7 (leave from day 5, handed over after 2 days),
    # then b, who works a's long case first (25 h left: to day 32) and this one from day 32.
    assert case.inherited and case.neglect_holder == "b"
    assert case.longest_neglect_days == pytest.approx(32.0 - 0.1)
