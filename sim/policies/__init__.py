"""Pluggable policies: protocols, registries and the built-in rules.

Registry keys are exactly what scenario files say (``least_loaded_fte``).
"""

from sim.policies.allocation import ALLOCATION, AllocationPolicy
from sim.policies.base import Registry, TeamView
from sim.policies.reallocation import REALLOCATION, ReallocationPolicy
from sim.policies.review import WORKLOAD_REVIEW, ReviewPolicy
from sim.policies.wellbeing import WELLBEING, WellbeingPolicy
from sim.policies.work_order import WORK_ORDER, WorkOrderPolicy

__all__ = [
    "ALLOCATION",
    "REALLOCATION",
    "WELLBEING",
    "WORKLOAD_REVIEW",
    "WORK_ORDER",
    "AllocationPolicy",
    "ReallocationPolicy",
    "Registry",
    "ReviewPolicy",
    "TeamView",
    "WellbeingPolicy",
    "WorkOrderPolicy",
]
