"""The engine's indexes choose exactly what the scans they replaced would.

The engine keeps each detective's actionable cases in a priority heap with lazy invalidation, and
the present detectives by load in a :class:`sim.engine.loads.LoadIndex`
(:class:`sim.engine.caseload.Caseloads`); the references are the straightforward scans of the
caseload and of the present detectives, kept as ``index_work_order = False`` and
``index_loads = False``. On random busy scenarios (the generators of
``tests/test_invariants.py``: leave, reallocation, reviews with action plans, wellbeing relief and
hand-overs, external stages), every choice made from an index is checked against the scan
(``check_indexes``), and the whole timeline and the records must equal the scans'.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_invariants import SETTINGS, scenarios

from sim.domain.entities import Case
from sim.engine import replication as replication_module
from sim.engine.caseload import Caseloads
from sim.engine.replication import ReplicationRecords, run_replication
from sim.policies import WORK_ORDER
from sim.scenario import Scenario, load_scenario, validate_mapping

pytestmark = pytest.mark.validation
# two replications per example: half the invariant tests' examples keeps the run short
FEWER = settings(SETTINGS, max_examples=max(1, SETTINGS.max_examples // 2))


@dataclass(frozen=True)
class GradeOnly:
    """Most urgent grade first, and nothing else: many cases tie on the key."""

    stable_key: ClassVar[bool] = True

    def key(self, case: Case) -> tuple[float, ...]:
        return (-case.priority, case.grade)


@contextmanager
def work_order_mode(*, indexed: bool, checked: bool = False) -> Iterator[None]:
    """Run the engine with its indexes on or off (and every indexed choice checked by a scan)."""
    saved = Caseloads.index_work_order, Caseloads.index_loads, Caseloads.check_indexes
    Caseloads.index_work_order = Caseloads.index_loads = indexed
    Caseloads.check_indexes = checked
    try:
        yield
    finally:
        Caseloads.index_work_order, Caseloads.index_loads, Caseloads.check_indexes = saved


def assert_same_records(a: ReplicationRecords, b: ReplicationRecords) -> None:
    """Two replications' timelines and per-case, per-detective records are identical."""
    assert a.trace == b.trace
    for table in ("cases", "detectives"):
        left, right = getattr(a, table), getattr(b, table)
        assert left.keys() == right.keys()
        for column in left:
            x, y = np.asarray(left[column]), np.asarray(right[column])
            assert x.dtype == y.dtype, column
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), column


def heap_and_scan(scenario: Scenario) -> tuple[ReplicationRecords, ReplicationRecords]:
    """One replication with checked indexes, and the same with the reference scans."""
    with work_order_mode(indexed=True, checked=True):
        indexed = run_replication(scenario, 0, trace=True)
    with work_order_mode(indexed=False):
        scanned = run_replication(scenario, 0, trace=True)
    return indexed, scanned


@given(scenarios())
@FEWER
def test_heaps_choose_as_the_scan_on_random_scenarios(scenario: Scenario) -> None:
    """Same seed and scenario: the indexed run equals the scanning one, choice by choice."""
    assert_same_records(*heap_and_scan(scenario))


@contextmanager
def work_order_registered(name: str, rule: type) -> Iterator[None]:
    """``rule`` is the work-order rule ``name`` for the duration (other tests list the registry)."""
    WORK_ORDER.register(name)(rule)
    try:
        yield
    finally:
        WORK_ORDER._rules.pop(name)  # the registry has no public way to unregister


@given(scenarios(), st.data())
@FEWER
def test_ties_on_the_key_break_in_caseload_order(scenario: Scenario, data: st.DataObject) -> None:
    """With a key that ties often, the heap picks the first tied case in caseload order."""
    with work_order_registered("grade_only", GradeOnly):
        tie_prone_run_matches_the_scan(scenario, data)


def tie_prone_run_matches_the_scan(scenario: Scenario, data: st.DataObject) -> None:
    """The scenario with the ``grade_only`` work order: indexed run = scanning run."""
    raw: dict[str, Any] = scenario.model_dump(mode="json", by_alias=True)
    raw["policies"]["work_order"] = {"rule": "grade_only"}  # team queues included: ties break FIFO
    if data.draw(st.booleans()):  # one grade: every key ties unless a priority differs
        raw["cases"]["grades"] = {"high": {"share": 1.0, "target_days": 7}}
    assert_same_records(*heap_and_scan(validate_mapping(raw, "prop")))


@given(scenarios())
@FEWER
def test_least_loaded_cases_is_answered_as_the_scan_would(scenario: Scenario) -> None:
    """least_loaded_cases (heads, not FTE) from the load index equals the scan of the present."""
    raw: dict[str, Any] = scenario.model_dump(mode="json", by_alias=True)
    raw["policies"]["allocation"] = {"rule": "least_loaded_cases"}
    assert_same_records(*heap_and_scan(validate_mapping(raw, "prop")))


def test_a_rule_without_a_stable_key_is_scanned() -> None:
    """A work order that does not declare a stable key never gets heaps (its key may drift)."""

    @dataclass(frozen=True)
    class MostWorkLeft:
        def key(self, case: Case) -> tuple[float, ...]:
            return (-case.remaining_hours,)

    import simpy

    from sim.policies import ALLOCATION, REALLOCATION

    team = Caseloads(
        simpy.Environment(),
        [],
        ALLOCATION.build({"rule": "least_loaded_fte"}),
        MostWorkLeft(),
        REALLOCATION.build({"rule": "keep"}),
        [True],
        0,
        7.4,
        np.random.default_rng(0),
    )
    assert not team.indexed


@dataclass(frozen=True)
class AllTie:
    """No preference at all: every key is the same."""

    def key(self, case: Case) -> tuple[float, ...]:
        return (0.0,)


def test_a_team_queue_breaks_tied_keys_first_come_first_served() -> None:
    """Under team_queue a rule whose keys all tie serves the queue in order of joining it.

    Without leave or reallocation cases join the queue in arrival order, so the run must equal
    oldest_first (priority, then arrival) case for case; before the fix the queue compared two
    cases and the run crashed.
    """
    raw: dict[str, Any] = {
        "name": "ties",
        "horizon_days": 400,
        "team": {
            "detectives": [{"name": "dc", "count": 3, "fte": 1.0}],
            "sergeants": 1,
            "hours_per_week": 37.5,
        },
        "cases": {
            "arrivals": {"rate_per_year": 200},
            "grades": {
                "high": {"share": 0.3, "target_days": 30},
                "low": {"share": 0.7, "target_days": 90},
            },
            "stages": [{"name": "work", "effort_hours": {"dist": "exponential", "mean": 40}}],
        },
        "policies": {"allocation": {"rule": "team_queue", "max_cases_per_detective": 2}},
    }
    with work_order_registered("all_tie", AllTie):
        tied = run_replication(
            validate_mapping(
                {**raw, "policies": {**raw["policies"], "work_order": {"rule": "all_tie"}}}, "t"
            ),
            0,
        )
    oldest = run_replication(
        validate_mapping(
            {**raw, "policies": {**raw["policies"], "work_order": {"rule": "oldest_first"}}}, "t"
        ),
        0,
    )
    assert len(tied.cases["case_id"]) > 100
    assert np.isfinite(tied.cases["closed_day"]).sum() > 50
    assert_same_records(tied, oldest)


@pytest.mark.parametrize("name", ["polit_2016_as_was", "reform_spread_on_leave"])
def test_a_finished_replication_leaves_its_cases_to_reference_counting(name: str) -> None:
    """Once a replication returns, its cases are freed at once, not left in cycles for the
    cyclic collector (which would traverse them all); the records are what they were."""
    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml")
    scenario = scenario.model_copy(update={"horizon_days": 700.0, "warmup_days": 100.0})

    def cases_left(let_go: bool) -> tuple[int, int, Any]:
        saved = replication_module.LET_GO
        replication_module.LET_GO = let_go
        gc.collect()
        thresholds = gc.get_threshold()
        gc.set_threshold(10**9)  # enabled (as usual), but no collection before the count
        try:
            records = run_replication(scenario, 3)
            left = sum(1 for o in gc.get_objects() if type(o) is Case)
        finally:
            gc.set_threshold(*thresholds)
            replication_module.LET_GO = saved
        gc.collect()
        return left, int(records.extra["referrals"]), records.cases

    left, referrals, cases = cases_left(True)
    kept, _, reference = cases_left(False)
    assert kept >= referrals > 100  # without letting go, every case waits for the collector
    assert left < 0.1 * referrals
    assert cases.keys() == reference.keys()
    for column, values in cases.items():
        np.testing.assert_array_equal(values, reference[column], err_msg=column)
