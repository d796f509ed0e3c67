"""Calendar dates: ``start_date`` puts dates beside the day columns and leaves the days alone."""

from __future__ import annotations

import datetime
import hashlib
import json
from typing import Any

import pandas as pd
import pytest

from sim import scenario_from_dict, simulate
from sim.scenario import ScenarioError, scenario_dump, scenario_hash

BASE: dict[str, Any] = {
    "name": "dated",
    "horizon_days": 200,
    "replications": 2,
    "team": {"detectives": [{"name": "dc", "count": 2, "fte": 1.0}]},
    "cases": {
        "arrivals": {"rate_per_year": 80},
        "grades": {
            "very_high": {"share": 0.1, "target_days": 1},
            "high": {"share": 0.2, "target_days": 7},
            "medium": {"share": 0.3, "target_days": 14},
            "low": {"share": 0.4, "target_days": 30},
        },
        "stages": [{"name": "research", "effort_hours": {"dist": "exponential", "mean": 8}}],
    },
}


def test_start_date_adds_date_columns_and_keeps_the_days() -> None:
    """With start_date, cases and backlog carry dates; the records are otherwise the same."""
    plain = simulate(scenario_from_dict(BASE), seed=3)
    dated = simulate(scenario_from_dict({**BASE, "start_date": "2024-02-27"}), seed=3)
    pd.testing.assert_frame_equal(plain.cases, dated.cases[plain.cases.columns])
    row = dated.cases.dropna(subset=["closed_day"]).iloc[0]
    expected = datetime.date(2024, 2, 27) + datetime.timedelta(days=int(row["arrival_day"]))
    assert row["arrival_date"].date() == expected
    assert (
        dated.cases.columns.get_loc("arrival_date")
        == dated.cases.columns.get_loc("arrival_day") + 1
    )
    assert dated.backlog["date"].iloc[1] == pd.Timestamp("2024-03-05")  # 7 days on
    assert "date" not in plain.backlog.columns


def test_hash_of_a_scenario_without_start_date_is_unchanged() -> None:
    """An unset start_date is left out of the scenario hash (older results stay recognised)."""
    scenario = scenario_from_dict(BASE)
    dated = scenario_from_dict({**BASE, "start_date": "2024-01-01"})
    assert scenario_hash(scenario) != scenario_hash(dated)
    data = scenario_dump(scenario)
    del data["start_date"]  # the dump before start_date existed
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert scenario_hash(scenario) == hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(("weekday", "ok"), [("tue", True), ("mon", False)])
def test_roster_weekday_must_match_start_date(weekday: str, ok: bool) -> None:
    """2024-01-02 is a Tuesday: a roster saying day 0 is a Monday is rejected."""
    data = {
        **BASE,
        "start_date": "2024-01-02",
        "team": {**BASE["team"], "roster": {"working_days": ["mon"], "day_0_weekday": weekday}},
    }
    if ok:
        scenario_from_dict(data)
    else:
        with pytest.raises(ScenarioError, match="day_0_weekday"):
            scenario_from_dict(data)
