"""Invariants of the engine, checked with Hypothesis over small random scenarios.

Each example is a short, busy replication: a few detectives with random FTE, leave at rates far
above real life so that absences overlap work, reallocation and one another, random allocation,
work-order and reallocation rules, one to three stages of which some may be external, weekly
rosters, and workload reviews, inspector, HR and wellbeing switched on at random with busy
settings. The checks read the replication's timeline (``run_replication(..., trace=True)``), not
its outputs, so they do not share the bookkeeping they check.

The default run draws 60 examples per test, derandomized so that CI is repeatable. For a longer,
random search (each new search draws new examples)::

    POLIT_SIM_INVARIANT_EXAMPLES=5000 python -m pytest tests/test_invariants.py
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.replication import ReplicationRecords, build_detectives, run_replication
from sim.engine.roster import WEEKDAYS
from sim.policies import ALLOCATION
from sim.scenario import Scenario, validate_mapping

pytestmark = pytest.mark.validation

EPS = 1e-7
SETTINGS = settings(
    max_examples=int(os.environ.get("POLIT_SIM_INVARIANT_EXAMPLES", "60")),
    deadline=None,
    derandomize=os.environ.get("POLIT_SIM_INVARIANT_EXAMPLES") is None,
    suppress_health_check=[HealthCheck.too_slow],
)
MOVING_RULES = ("single_colleague", "spread", "sergeant_pool")


@st.composite
def stages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One to three stages; any may be external, but at least one needs detectives."""
    n = draw(st.integers(1, 3))
    external = [draw(st.booleans()) for _ in range(n)]
    if all(external):
        external[draw(st.integers(0, n - 1))] = False
    out: list[dict[str, Any]] = []
    for i, is_external in enumerate(external):
        if is_external:
            capacity = draw(st.one_of(st.none(), st.integers(1, 2)))
            days = {"dist": "exponential", "mean": draw(st.floats(1.0, 20.0))}
            out.append({"name": f"s{i}", "external": {"days": days, "capacity": capacity}})
        else:
            effort = draw(
                st.sampled_from(
                    [
                        {"dist": "exponential", "mean": 6.0},
                        {"dist": "lognormal", "mean": 10.0, "sd": 8.0},
                        {"dist": "fixed", "value": 7.4},
                        {"dist": "uniform", "low": 1.0, "high": 20.0},
                    ]
                )
            )
            out.append({"name": f"s{i}", "effort_hours": effort})
    return out


# A weekly roster: some of the days of the week, each once.
weekdays = st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True)


@st.composite
def scenarios(
    draw: st.DrawFn,
    *,
    fixed_owner: bool = True,
    with_supervision: bool = True,
    team_queue: bool = False,
) -> Scenario:
    """A small, busy scenario with heavy leave and random policies."""
    n_groups = draw(st.integers(1, 3))
    groups: list[dict[str, Any]] = [
        {
            "name": f"g{i}",
            "count": draw(st.integers(1, 2)),
            "fte": draw(st.sampled_from([0.3, 0.5, 0.8, 1.0])),
            "working_days": draw(st.one_of(st.none(), weekdays)),
        }
        for i in range(n_groups)
    ]
    names = [
        g["name"] if g["count"] == 1 else f"{g['name']}_{k + 1}"
        for g in groups
        for k in range(g["count"])
    ]
    rules = ["least_loaded_fte", "round_robin", "team_queue"] + (
        ["fixed_owner"] if fixed_owner else []
    )
    rule = "team_queue" if team_queue else draw(st.sampled_from(rules))
    allocation: dict[str, Any] = {"rule": rule}
    if rule == "team_queue":
        allocation["max_cases_per_detective"] = draw(st.integers(1, 5))
        if team_queue:
            allocation["per_fte"] = draw(st.booleans())
    elif rule == "fixed_owner":
        allocation["owner"] = draw(st.sampled_from(names))
    on_leave: dict[str, Any] = {
        "rule": draw(st.sampled_from(["keep", *MOVING_RULES])),
        "after_days": draw(st.sampled_from([0.0, 2.0, 7.5, 28.0])),
    }
    if on_leave["rule"] == "single_colleague" and draw(st.booleans()):
        on_leave["colleague"] = draw(st.sampled_from(names))
    horizon = draw(st.sampled_from([120.0, 250.0]))
    data = {
        "name": "prop",
        "horizon_days": horizon,
        "warmup_days": 0.0,
        "seed": draw(st.integers(0, 2**31)),
        "team": {
            "hours_per_week": 37,
            "block_hours": draw(st.sampled_from([None, 2.0, 7.4])),
            "detectives": groups,
            "roster": draw(
                st.one_of(
                    st.none(),
                    st.fixed_dictionaries(
                        {"working_days": weekdays, "day_0_weekday": st.sampled_from(WEEKDAYS)}
                    ),
                )
            ),
            "sergeants": 1,
        },
        "cases": {
            "arrivals": {"rate_per_year": draw(st.sampled_from([50.0, 200.0, 500.0]))},
            "grades": {
                "very_high": {"share": 0.1, "target_days": 1},
                "high": {"share": 0.3, "target_days": 7},
                "low": {"share": 0.6, "target_days": 30},
            },
            "stages": draw(stages()),
        },
        "leave": {
            "annual_days": draw(st.sampled_from([0.0, 27.0, 60.0])),
            "annual_blocks": draw(st.integers(1, 6)),
            "short_sickness": {
                "episodes_per_year": draw(st.sampled_from([0.0, 6.0, 15.0])),
                "days": {"dist": "exponential", "mean": 4.0},
            },
            "long_leave": {
                "episodes_per_year": draw(st.sampled_from([1.0, 4.0])),
                "days": {"dist": "lognormal", "mean": 40.0, "sd": 30.0},
            },
        },
        "policies": {
            "allocation": allocation,
            "work_order": {
                "rule": draw(st.sampled_from(["grade_then_oldest", "oldest_first"])),
                "inherited_penalty_days": draw(st.sampled_from([0.0, 10.0])),
            },
            "on_long_leave": on_leave,
            **(draw(supervision()) if with_supervision else {}),
        },
    }
    return validate_mapping(data, "prop")


@st.composite
def supervision(draw: st.DrawFn) -> dict[str, Any]:
    """Workload reviews, inspector, HR and wellbeing at random (often on, and busy)."""
    out: dict[str, Any] = {
        "workload_review": {
            "every_days": draw(st.sampled_from([None, 7.0, 30.0])),
            "gap_threshold_days": draw(st.sampled_from([3.0, 20.0])),
            "act_probability": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "action": draw(st.sampled_from(["reallocate", "action_plan", "escalate"])),
            "days_to_act": draw(st.sampled_from([0.0, 5.0])),
        }
    }
    if draw(st.booleans()):
        out["inspector_oversight"] = {"audit_every_days": 30.0, "act_probability": 0.8}
    if draw(st.booleans()):
        out["hr_support"] = {"act_probability_boost": 0.2, "days_to_act_factor": 0.5}
    if draw(st.booleans()):
        out["wellbeing"] = {
            "screening": draw(st.sampled_from(["self_assessment", "psychological", "none"])),
            "every_days": draw(st.sampled_from([30.0, 365.0])),
            "supervision_every_days": draw(st.sampled_from([None, 14.0])),
            "mentoring_every_days": draw(st.sampled_from([None, 21.0])),
            "overload_rate_per_year": draw(st.sampled_from([1.5, 20.0])),
            "threshold": draw(st.sampled_from([0.1, 0.6])),
            "relief": draw(st.sampled_from([0.0, 0.5, 1.0])),
            "relief_reallocate_share": draw(st.sampled_from([0.0, 0.25, 1.0])),
        }
    return out


def absences(rec: ReplicationRecords, horizon: float) -> dict[str, list[tuple[float, float]]]:
    """Each detective's absence intervals (start, end) from the trace; open ones end at horizon."""
    assert rec.trace is not None
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    since: dict[str, float] = {}
    for event in rec.trace:
        if event[0] == "absent":
            assert event[2] not in since, f"{event[2]} absent twice without returning"
            since[event[2]] = event[1]
        elif event[0] == "present":
            out[event[2]].append((since.pop(event[2]), event[1]))
    for name, start in since.items():
        out[name].append((start, horizon))
    return out


def present_at(spells: dict[str, list[tuple[float, float]]], name: str, day: float) -> bool:
    """Whether ``name`` is at work at ``day`` (absences are half-open [start, end))."""
    return not any(start <= day < end for start, end in spells.get(name, []))


@given(scenarios())
@SETTINGS
def test_every_arrived_case_is_open_or_closed(scenario: Scenario) -> None:
    """Every referral is closed exactly once or is still held by a detective or a queue."""
    rec = run_replication(scenario, 0, trace=True)
    assert rec.trace is not None
    referrals = rec.extra["referrals"]
    closed = [e[2] for e in rec.trace if e[0] == "close"]
    assert len(closed) == len(set(closed)), "a case closed twice"
    held = sum(rec.detectives["open_cases_at_horizon"]) + rec.extra["queue_at_horizon"]
    assert len(closed) + held == referrals
    # no warm-up: the case table lists every referral, and its closures are the traced ones
    assert len(rec.cases["case_id"]) == referrals
    closed_in_table = rec.cases["case_id"][~np.isnan(rec.cases["closed_day"])]
    assert sorted(closed_in_table.tolist()) == sorted(closed)


@given(scenarios())
@SETTINGS
def test_no_detective_works_while_absent_or_beyond_their_hours(scenario: Scenario) -> None:
    """Work segments avoid absences and days off the roster, never overlap per detective, and use
    at most the rate over the working time they span."""
    rec = run_replication(scenario, 0, trace=True)
    assert rec.trace is not None
    team = {d.name: d for d in build_detectives(scenario)}
    hours_per_day = {name: d.work_rate for name, d in team.items()}

    def working_days(name: str, start: float, end: float) -> float:
        clock = team[name].clock
        return end - start if clock is None else clock.work_time(end) - clock.work_time(start)

    spells = absences(rec, scenario.horizon_days)
    work: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for event in rec.trace:
        if event[0] == "work":
            _, start, end, name, _case, hours = event
            assert end >= start
            assert hours <= working_days(name, start, end) * hours_per_day[name] + EPS
            clock = team[name].clock
            assert clock is None or clock.is_working(start), f"{name} starts work off the roster"
            work[name].append((start, end, hours))
    for name, segments in work.items():
        segments.sort()
        for (_s0, e0, _h0), (s1, _e1, _h1) in itertools.pairwise(segments):
            assert s1 >= e0 - EPS, f"{name} works two blocks at once"
        for start, end, _hours in segments:
            for a0, a1 in spells.get(name, []):
                overlap = min(end, a1) - max(start, a0)
                assert overlap <= EPS, f"{name} works {start}-{end} while absent {a0}-{a1}"
    total = sum(h for segs in work.values() for _s, _e, h in segs)
    assert total <= sum(rec.detectives["hours_worked"]) + EPS


# fixed_owner is left out: it gives every referral to its named detective, present or not, and
# so hands sergeant_pool's released cases straight back to an absent owner.
@given(scenarios(fixed_owner=False))
@SETTINGS
def test_cases_leave_an_absent_detective_after_after_days(scenario: Scenario) -> None:
    """Nobody absent is given a case; moving rules empty an absent caseload at after_days."""
    rec = run_replication(scenario, 0, trace=True)
    assert rec.trace is not None
    spells = absences(rec, scenario.horizon_days)
    names = list(rec.detectives["detective"])
    spec: dict[str, Any] = dict(scenario.policies.on_long_leave)
    rule = spec["rule"]
    after = float(spec.get("after_days", 28.0))
    owner: dict[int, str | None] = {}
    # (deadline, detective, absence end): checked once every event up to the deadline is applied
    deadlines = sorted(
        (start + after, name, end)
        for name, intervals in spells.items()
        for start, end in intervals
        if end > start + after + EPS and start + after < scenario.horizon_days
    )

    def check(deadline: float, name: str) -> None:
        colleagues = [d for d in names if d != name and present_at(spells, d, deadline)]
        if rule == "keep" or (rule in ("single_colleague", "spread") and not colleagues):
            return
        kept = [case for case, who in owner.items() if who == name]
        assert not kept, f"{name} still owns {kept} at {deadline} ({rule})"

    away: set[str] = set()  # replayed in trace order, which settles events on the same day
    for event in rec.trace:
        while deadlines and event[1] > deadlines[0][0] + EPS:
            deadline, name, _end = deadlines.pop(0)
            check(deadline, name)
        if event[0] == "absent":
            away.add(event[2])
        elif event[0] == "present":
            away.discard(event[2])
        elif event[0] == "own":
            _, day, case, who, _moved = event
            assert who not in away, f"case {case} given to absent {who} at {day}"
            owner[case] = who
        elif event[0] == "close":
            owner.pop(event[2], None)
    for deadline, name, _end in deadlines:
        check(deadline, name)


@given(scenarios())
@SETTINGS
def test_the_neglect_holder_held_the_case_longest_in_its_longest_wait(scenario: Scenario) -> None:
    """Rebuilt from the timeline: each case's longest wait on the team ends at a work start (or
    the horizon) and begins at a moment of progress; whoever held the case for most of it, by the
    ownership events, is its ``neglect_holder``."""
    rec = run_replication(scenario, 0, trace=True)
    assert rec.trace is not None
    horizon = scenario.horizon_days
    owns: dict[int, list[tuple[float, str]]] = defaultdict(list)
    starts: dict[int, list[float]] = defaultdict(list)
    progress: dict[int, list[float]] = defaultdict(list)
    for event in rec.trace:
        if event[0] == "own":
            owns[event[2]].append((event[1], event[3] or ""))
        elif event[0] == "work":
            starts[event[4]].append(event[1])
            progress[event[4]].append(event[2])
        elif event[0] == "external":
            progress[event[2]].append(event[1])
    c = rec.cases
    checked = 0
    for case_id, arrival, longest, holder in zip(
        c["case_id"], c["arrival_day"], c["longest_neglect_days"], c["neglect_holder"], strict=True
    ):
        if longest <= EPS:
            continue
        spell = None
        for begin in [arrival, *progress[case_id]]:
            end = min((t for t in starts[case_id] if t >= begin - 1e-12), default=horizon)
            if abs(end - begin - longest) < 1e-7:
                spell = (begin, end)
                break
        if spell is None:
            continue
        begin, end = spell
        held: dict[str, float] = defaultdict(float)
        timeline = [(arrival, ""), *owns[case_id]]  # unowned (queued) until first owned
        for k, (since, who) in enumerate(timeline):
            until = timeline[k + 1][0] if k + 1 < len(timeline) else horizon
            if min(until, end) > max(since, begin):
                held[who] += min(until, end) - max(since, begin)
        most = max(held.values())
        assert held[holder] >= most - 1e-7, (case_id, holder, dict(held), spell)
        checked += 1
    # A wait that ended when a block began that was still running at the horizon has no work
    # entry in the timeline to rebuild it from: at most one such block per detective.
    waited = int(np.sum(c["longest_neglect_days"] > EPS))
    assert checked >= waited - len(rec.detectives["detective"]), (checked, waited)


@given(scenarios(team_queue=True))
@SETTINGS
def test_nobody_idles_below_their_cap_while_the_team_queue_holds_a_case(
    scenario: Scenario,
) -> None:
    """Under team_queue no present, rostered detective below their cap sits idle (no block of
    work) for any stretch of time while the team queue holds a case."""
    rec = run_replication(scenario, 0, trace=True)
    assert rec.trace is not None
    horizon = scenario.horizon_days
    team = {d.name: d for d in build_detectives(scenario)}
    rule = ALLOCATION.build(scenario.policies.allocation)
    cap = {name: rule.pull_limit(d) for name, d in team.items()}
    spells = absences(rec, horizon)
    # State changes, replayed in order: arrivals (every referral starts unowned, in the queue)
    # come before the trace's events of the case, which are in the order they happened.
    changes: list[tuple[float, int, int, tuple[Any, ...]]] = [
        (float(day), 0, int(case), ("arrive", day, int(case)))
        for case, day in zip(rec.cases["case_id"], rec.cases["arrival_day"], strict=True)
    ]
    busy: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for k, event in enumerate(rec.trace):
        if event[0] in ("own", "close"):
            changes.append((event[1], 1, k, event))
        elif event[0] == "work":
            busy[event[3]].append((event[1], event[2]))
        elif event[0] == "working":
            busy[event[2]].append((event[1], horizon))
    changes.sort(key=lambda c: c[:3])
    breaks = sorted(
        {0.0, horizon}
        | {c[0] for c in changes}
        | {t for segs in busy.values() for seg in segs for t in seg}
        | {t for segs in spells.values() for seg in segs for t in seg}
    )
    owner: dict[int, str | None] = {}
    caseload: dict[str, int] = defaultdict(int)
    queued = 0
    i = 0
    for a, b in itertools.pairwise(breaks):
        while i < len(changes) and changes[i][0] <= a:
            event = changes[i][3]
            i += 1
            case = event[2]
            if case not in owner:  # arrived (its day as drawn may round a hair past the event)
                owner[case] = None
                queued += 1
            if event[0] == "arrive":
                continue
            was = owner[case]
            if was is None:
                queued -= 1
            else:
                caseload[was] -= 1
            if event[0] == "close":
                owner[case] = "closed"
                continue
            owner[case] = event[3]
            if event[3] is None:
                queued += 1
            else:
                caseload[event[3]] += 1
        if b - a <= EPS or queued == 0 or b > horizon:
            continue
        mid = (a + b) / 2
        for name, d in team.items():
            if caseload[name] >= cap[name] or not present_at(spells, name, mid):
                continue
            if any(s <= mid < e for s, e in busy[name]):
                continue
            clock = d.clock
            if clock is not None and clock.work_time(b) - clock.work_time(a) <= EPS:
                continue
            raise AssertionError(
                f"{name} idle over {a:.4f}-{b:.4f} with {caseload[name]} of {cap[name]} cases"
                f" while {queued} wait in the team queue"
            )
