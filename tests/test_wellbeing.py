"""Wellbeing: strain dynamics and effects, detection routes, relief in allocation, and the
wellbeing processes' effect on a replication (under common random numbers)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.statistics import mean_ci, replication_metrics
from sim.domain.entities import Detective
from sim.engine.replication import run_replication
from sim.policies import WELLBEING
from sim.policies.allocation import least_loaded
from sim.policies.wellbeing import StrainModel
from sim.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
AS_WAS = SCENARIOS / "polit_2016_as_was.yaml"


# --- the policy ----------------------------------------------------------------------------------


def test_strain_relaxes_exponentially_towards_its_drive() -> None:
    """Over a step, strain follows the exact solution of ds/dt = drive − rate·s."""
    model = StrainModel(
        overload_rate_per_year=0.6, exposure_rate_per_year=0.3, recovery_per_year=1.5
    )
    target = (0.6 * 0.5 + 0.3 * 0.5) / 1.5
    expected = target + (0.1 - target) * math.exp(-1.5 * 73 / 365)
    assert model.step(0.1, 0.5, 0.5, False, 73.0) == pytest.approx(expected)
    assert model.step(0.8, 0.0, 0.0, False, 365.0) == pytest.approx(0.8 * math.exp(-1.5))
    assert model.step(0.3, 0.2, 0.1, False, 1e6) == pytest.approx((0.6 * 0.2 + 0.3 * 0.1) / 1.5)


def test_strain_stays_within_zero_and_one() -> None:
    """However strong the drive, strain is clipped to [0, 1]."""
    model = StrainModel(overload_rate_per_year=10.0)
    assert model.step(0.9, 1.0, 1.0, False, 365.0) == 1.0
    assert model.step(0.0, 0.0, 0.0, True, 1.0) == 0.0


def test_counselling_speeds_recovery() -> None:
    """Supported detectives shed strain faster than unsupported ones."""
    model = StrainModel()
    assert model.step(0.8, 0.0, 0.0, True, 30.0) < model.step(0.8, 0.0, 0.0, False, 30.0)


def test_overload_counts_weeks_of_work_in_hand() -> None:
    """Overload is 0 up to manageable_weeks of work in hand and 1 at twice that."""
    model = StrainModel(manageable_weeks=3.0)
    assert model.overload(3 * 37.0, 37.0) == 0.0
    assert model.overload(4.5 * 37.0, 37.0) == pytest.approx(0.5)
    assert model.overload(20 * 37.0, 37.0) == 1.0
    assert model.overload(9 * 18.5, 18.5) == 1.0  # a part-timer's capacity is half


def test_exposure_is_scaled_by_fte_and_the_reported_maximum() -> None:
    """32 viewing hours a week (the most reported) is exposure 1 for a full-timer."""
    assert StrainModel(exposure_hours_per_week=32.0).exposure(1.0) == 1.0
    assert StrainModel(exposure_hours_per_week=8.0).exposure(0.5) == pytest.approx(0.125)


def test_strain_lowers_productivity_and_raises_sickness() -> None:
    """Effects are linear in strain, from none at 0 to the stated maxima at 1."""
    model = StrainModel(productivity_loss=0.4, max_sickness_multiplier=3.0)
    assert model.effects(0.0) == (1.0, 1.0)
    assert model.effects(1.0) == pytest.approx((0.6, 3.0))
    assert model.effects(0.5) == pytest.approx((0.8, 2.0))


def test_a_questionnaire_misses_strain_that_a_psychological_screening_sees() -> None:
    """At 76% disclosure a strain of 0.7 stays under a 0.6 threshold for the questionnaire only."""
    model = StrainModel(threshold=0.6, self_assessment_disclosure=0.76, noise_sd=0.1)
    assert not model.notices("self_assessment", 0.7, 0.0)
    assert model.notices("psychological", 0.7, 0.0)
    assert model.notices("self_assessment", 0.7, 1.0)  # a candid day


def test_cadences_list_only_the_routes_in_force() -> None:
    """Each route runs at its own cadence; routes switched off do not run."""
    assert StrainModel().cadences() == {"self_assessment": 365.0}
    reformed = StrainModel(
        screening="psychological", supervision_every_days=28, mentoring_every_days=56
    )
    assert reformed.cadences() == {"psychological": 365.0, "supervision": 28, "mentoring": 56}
    assert StrainModel(screening="none", every_days=365).cadences() == {}


def test_the_spec_shape_builds_the_default_wellbeing_rule() -> None:
    """``{screening: self_assessment, every_days: 365}`` builds the strain model."""
    policy = WELLBEING.build({"screening": "self_assessment", "every_days": 365})
    assert isinstance(policy, StrainModel)
    with pytest.raises(ValueError, match="screening"):
        WELLBEING.build({"screening": "tarot"})


def test_relief_down_weights_and_full_relief_skips_a_detective() -> None:
    """Allocation by load treats a relieved detective as having less capacity, or none."""
    a, b = Detective(0, "a", "dc", 1.0, 37.0), Detective(1, "b", "dc", 1.0, 37.0)
    a.caseload.extend([object()] * 2)  # type: ignore[list-item]
    b.caseload.extend([object()] * 3)  # type: ignore[list-item]
    assert least_loaded([a, b]) is a
    a.relief = 0.5  # 2 cases on half capacity count as 4
    assert least_loaded([a, b]) is b
    a.relief, b.relief = 0.0, 1.0
    assert least_loaded([b]) is None


# --- the processes -------------------------------------------------------------------------------


def _as_was(*sets: str) -> Scenario:
    return load_scenario(AS_WAS, list(sets))


def test_without_wellbeing_there_is_no_strain() -> None:
    """With wellbeing off, strain stays 0, productivity 1, and no strain metric is reported."""
    scenario = _as_was("policies.wellbeing=null")
    records = run_replication(scenario, 0)
    assert records.detectives["strain"] == [0.0] * len(records.detectives["strain"])
    assert "strain_mean_over_time" not in replication_metrics(records, scenario)


def test_strain_metrics_are_within_bounds_and_detections_need_a_route() -> None:
    """Strain metrics lie in [0, 1]; with every route off nothing is ever detected."""
    silent = _as_was("policies.wellbeing.screening=none")
    for replication in range(3):
        m = replication_metrics(run_replication(silent, replication), silent)
        assert 0.0 <= m["strain_mean_over_time"] <= m["strain_max_over_time"] <= 1.0
        assert m["strain_detections"] == 0.0
        assert m["support_episodes"] == 0.0


REPS = 30


def _paired(a: Scenario, b: Scenario, name: str) -> np.ndarray:
    """Per-replication differences a − b of metric ``name`` under common random numbers."""
    return np.array(
        [
            replication_metrics(run_replication(a, r), a)[name]
            - replication_metrics(run_replication(b, r), b)[name]
            for r in range(REPS)
        ]
    )


@pytest.mark.validation
def test_high_strain_raises_sickness_absence() -> None:
    """Heavier exposure (more strain) means more hours lost to leave, paired by replication."""
    heavy = _as_was("policies.wellbeing.exposure_hours_per_week=32")
    light = _as_was("policies.wellbeing.exposure_hours_per_week=0")
    diff = _paired(heavy, light, "hours_lost_to_leave")
    assert mean_ci(diff)[2] > 0


@pytest.mark.validation
def test_more_sensitive_and_frequent_detection_finds_more_strain() -> None:
    """Monthly supervision plus psychological screening detects more than the questionnaire."""
    reformed = _as_was(
        "policies.wellbeing.screening=psychological", "policies.wellbeing.supervision_every_days=28"
    )
    diff = _paired(reformed, _as_was(), "strain_detections")
    assert mean_ci(diff)[2] > 0


def test_a_productivity_loss_of_one_is_refused() -> None:
    """At productivity_loss 1 a fully strained detective would work at rate 0 and never end a
    block (it divided by zero): the scenario is refused, naming the field."""
    from sim.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="productivity_loss"):
        _as_was("policies.wellbeing.productivity_loss=1")
    strained = _as_was(
        "policies.wellbeing.productivity_loss=0.999",
        "policies.wellbeing.exposure_rate_per_year=1000",
        "horizon_days=400",
        "warmup_days=0",
    )
    records = run_replication(strained, 0)
    assert max(records.detectives["strain"]) == 1.0  # strained to the full, and still finishing
    assert len(records.cases["case_id"]) > 0


class _Stops(StrainModel):
    """A wellbeing rule whose effects stop work altogether at full strain."""

    def effects(self, strain: float) -> tuple[float, float]:
        return (0.0 if strain >= 0.5 else 1.0, 1.0)


def test_a_rule_that_stops_work_is_named_when_it_does() -> None:
    """A (plugin) rule giving productivity 0 stops the run with an error naming the rule."""
    WELLBEING.register("stops_work")(_Stops)
    try:
        scenario = _as_was(
            "policies.wellbeing.rule=stops_work",
            "policies.wellbeing.exposure_rate_per_year=1000",
            "horizon_days=400",
            "warmup_days=0",
        )
        with pytest.raises(ValueError, match=r"_Stops: effects\(.*\) gave productivity 0\.0"):
            run_replication(scenario, 0)
    finally:
        WELLBEING._rules.pop("stops_work")
