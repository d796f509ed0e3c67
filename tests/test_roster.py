"""Weekly rosters: the working-time clock, the schema, and a rostered team's hours and waits."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.roster import WEEKDAYS, WeeklyClock
from sim.scenario import ScenarioError, validate_mapping

MON_FRI = ["mon", "tue", "wed", "thu", "fri"]

rosters = st.tuples(
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    st.sampled_from(WEEKDAYS),
)


def test_monday_to_friday_from_a_monday() -> None:
    """Five working days a week; the weekend adds no working time."""
    clock = WeeklyClock(MON_FRI, "mon")
    assert clock.days_per_week == 5
    assert clock.work_time(2.5) == pytest.approx(2.5)
    assert clock.work_time(5.0) == pytest.approx(5.0)
    assert clock.work_time(6.5) == pytest.approx(5.0)
    assert clock.work_time(7.25) == pytest.approx(5.25)
    assert clock.work_time(70.0) == pytest.approx(50.0)
    assert clock.calendar_time(5.0) == pytest.approx(5.0)  # Friday evening, not Monday
    assert clock.calendar_time(5.5) == pytest.approx(7.5)
    assert not clock.is_working(5.0) and not clock.is_working(6.99)
    assert clock.is_working(7.0) and clock.is_working(4.99)
    assert clock.next_start(5.3) == pytest.approx(7.0)
    assert clock.next_start(3.3) == pytest.approx(3.3)


def test_day_0_on_a_saturday() -> None:
    """Starting on a Saturday, the first working time is day 2 (Monday)."""
    clock = WeeklyClock(MON_FRI, "sat")
    assert clock.work_time(2.0) == 0.0
    assert clock.work_time(3.0) == pytest.approx(1.0)
    assert clock.calendar_time(0.5) == pytest.approx(2.5)
    assert clock.calendar_time(0.0) == 0.0
    assert clock.next_start(0.0) == pytest.approx(2.0)


def test_a_part_timer_on_three_days() -> None:
    """Mon-Wed: three working days a week; Thursday to Sunday add nothing."""
    clock = WeeklyClock(["mon", "tue", "wed"], "mon")
    assert clock.days_per_week == 3
    assert clock.work_time(14.0) == pytest.approx(6.0)
    assert clock.calendar_time(3.5) == pytest.approx(7.5)


def test_an_unknown_weekday_is_refused() -> None:
    with pytest.raises(ValueError, match="roster"):
        WeeklyClock(["funday"], "mon")


@given(rosters, st.floats(0.0, 400.0))
@settings(max_examples=300, deadline=None)
def test_calendar_time_inverts_work_time(roster: tuple[list[str], str], day: float) -> None:
    """work_time(calendar_time(w)) = w, and calendar_time(w) is the earliest such day."""
    clock = WeeklyClock(*roster)
    work = clock.work_time(day)
    back = clock.calendar_time(work)
    assert back <= day + 1e-9
    assert clock.work_time(back) == pytest.approx(work, abs=1e-9)
    if back > 1e-6:
        assert clock.work_time(back - 1e-6) < work


@given(rosters, st.floats(0.0, 400.0), st.floats(0.0, 30.0))
@settings(max_examples=300, deadline=None)
def test_work_time_grows_by_the_roster(
    roster: tuple[list[str], str], day: float, span: float
) -> None:
    """Working time never decreases, grows at most a day a day, and by n days a whole week."""
    clock = WeeklyClock(*roster)
    grown = clock.work_time(day + span) - clock.work_time(day)
    assert -1e-9 <= grown <= span + 1e-9
    week = clock.work_time(day + 7.0) - clock.work_time(day)
    assert week == pytest.approx(clock.days_per_week, abs=1e-9)


def _rostered(roster: dict[str, object] | None, **group: object) -> dict[str, Any]:
    """Two full-time detectives at 37 h a week, as a team queue at utilisation 0.6, over 3 years
    after a year's warm-up; rostered or not."""
    return {
        "name": "rostered",
        "horizon_days": 4 * 365.0,
        "warmup_days": 365.0,
        "seed": 4242,
        "team": {
            "hours_per_week": 37.0,
            "detectives": [{"name": "dc", "count": 2, "fte": 1.0, **group}],
            "sergeants": 0,
            **({"roster": roster} if roster is not None else {}),
        },
        "cases": {
            "arrivals": {"rate_per_year": 1.2 * 365.0},
            "grades": {"medium": {"share": 1.0, "target_days": 30}},
            "stages": [{"name": "work", "effort_hours": {"dist": "exponential", "mean": 37 / 7}}],
        },
        "policies": {
            "allocation": {"rule": "team_queue", "max_cases_per_detective": 1},
            "work_order": {"rule": "oldest_first"},
        },
    }


@pytest.mark.parametrize(
    ("team", "where"),
    [
        ({"roster": {"working_days": ["mon", "mon"]}}, "team.roster.working_days"),
        ({"roster": {"working_days": ["funday"]}}, "team.roster.working_days.0"),
        ({"roster": {"working_days": []}}, "team.roster.working_days"),
        ({"roster": {"working_days": ["mon"], "day_0_weekday": "xyz"}}, "day_0_weekday"),
        (
            {"detectives": [{"name": "dc", "fte": 1.0, "working_days": ["sat", "sat"]}]},
            "team.detectives.0.working_days",
        ),
    ],
)
def test_bad_rosters_name_the_field(team: dict[str, object], where: str) -> None:
    data = _rostered(None)
    data["team"] = {**data["team"], **team}
    with pytest.raises(ScenarioError) as caught:
        validate_mapping(data, "x.yaml")
    assert where in str(caught.value)


def test_a_rostered_team_supplies_its_weekly_hours_on_working_days() -> None:
    """Same weekly hours, same utilisation; available hours are per working day; no weekend work."""
    import sim

    plain = sim.simulate(validate_mapping(_rostered(None), "plain.yaml"), replications=20)
    rostered_scenario = validate_mapping(
        _rostered({"working_days": MON_FRI, "day_0_weekday": "wed"}), "rostered.yaml"
    )
    rostered = sim.simulate(rostered_scenario, replications=20)
    for result in (plain, rostered):
        d = result.detectives
        # No leave: available = the weekly hours over the window (3 years = 156.4 weeks).
        assert d["hours_available"].to_numpy() == pytest.approx(37.0 * 3 * 365 / 7, rel=2e-3)
    u_plain = plain.metric("utilisation")
    u_rostered = rostered.metric("utilisation")
    # The offered load is the same; the utilisation agrees within both intervals' width.
    assert abs(u_plain["mean"] - u_rostered["mean"]) < (
        (u_plain["ci_high"] - u_plain["ci_low"]) + (u_rostered["ci_high"] - u_rostered["ci_low"])
    )
    clock = WeeklyClock(MON_FRI, "wed")
    first = rostered.cases["first_work_day"].dropna().to_numpy()
    assert all(clock.is_working(day) for day in first)
    # Referrals arriving at the weekend wait until Monday: waits are longer than without.
    assert rostered.metric("mean_wait_days")["mean"] > plain.metric("mean_wait_days")["mean"]


def test_a_group_roster_overrides_the_team_roster() -> None:
    """A group's working_days replace the team's roster for that group only."""
    from sim.engine.replication import build_detectives

    data = _rostered({"working_days": MON_FRI})
    data["team"]["detectives"] = [
        {"name": "dc", "count": 1, "fte": 1.0},
        {"name": "dc_pt", "count": 1, "fte": 0.6, "working_days": ["mon", "tue", "wed"]},
    ]
    full, part = build_detectives(validate_mapping(data, "x.yaml"))
    assert full.clock is not None and full.clock.days_per_week == 5
    assert full.work_rate == pytest.approx(37.0 / 5)
    assert part.clock is not None and part.clock.days_per_week == 3
    assert part.work_rate == pytest.approx(0.6 * 37.0 / 3)
    assert math.isclose(part.rate_hours_per_day, 0.6 * 37.0 / 7)


def test_no_roster_is_every_day_alike() -> None:
    from sim.engine.replication import build_detectives

    (d, _other) = build_detectives(validate_mapping(_rostered(None), "x.yaml"))
    assert d.clock is None
    assert d.work_rate == d.rate_hours_per_day == pytest.approx(37.0 / 7)
    assert np.isfinite(d.work_rate)
