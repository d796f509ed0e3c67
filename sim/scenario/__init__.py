"""Scenarios: the typed schema (:mod:`.schema`) and reading files (:mod:`.loading`).

The bottom of the stack beside :mod:`sim.domain` and :mod:`sim.policies`: it imports neither the
engine nor anything above it.
"""

from sim.scenario.loading import (
    DIST_NAMES,
    apply_overrides,
    load_scenario,
    scenario_dump,
    scenario_from_dict,
    scenario_hash,
    validate_mapping,
)
from sim.scenario.schema import (
    GRADE_NAMES,
    Arrivals,
    HrSupport,
    InspectorOversight,
    Scenario,
    ScenarioError,
    Sergeants,
)

__all__ = [
    "DIST_NAMES",
    "GRADE_NAMES",
    "Arrivals",
    "HrSupport",
    "InspectorOversight",
    "Scenario",
    "ScenarioError",
    "Sergeants",
    "apply_overrides",
    "load_scenario",
    "scenario_dump",
    "scenario_from_dict",
    "scenario_hash",
    "validate_mapping",
]
