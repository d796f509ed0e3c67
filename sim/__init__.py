"""polit-sim: a discrete-event simulation of an online child-abuse investigation team.

The Python API::

    import sim
    scenario = sim.load_scenario("scenarios/baseline.yaml")
    result = sim.simulate(scenario, replications=10, seed=1)
    result.cases, result.replications, result.summary
    sim.scenario_from_dict({...})  # the same, from a mapping
"""

from typing import TYPE_CHECKING, Any

from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict

if TYPE_CHECKING:
    from sim.experiments.replications import Result, simulate

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Result and simulate bring pandas and scipy.stats: imported on first use, so that reading
    # a scenario (and the command line's start) does not pay for them.
    if name in ("Result", "simulate"):
        from sim.experiments import replications

        return getattr(replications, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Result", "simulate"})
