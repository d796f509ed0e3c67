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


def __getattr__(name: str) -> Any:
    # Loaded on first use: checking scenario files (polit-sim validate) needs neither pandas nor
    # scipy, and starts in a fraction of the time.
    if name in ("Result", "simulate"):
        from sim.experiments import replications

        return getattr(replications, name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
__version__ = "0.1.0"


def __dir__() -> list[str]:
    return sorted((set(globals()) - {"Any", "TYPE_CHECKING"}) | {"Result", "simulate"})
