"""polit-sim: a discrete-event simulation of an online child-abuse investigation team.

The Python API::

    import sim
    scenario = sim.load_scenario("scenarios/baseline.yaml")
    result = sim.simulate(scenario, replications=10, seed=1)
    result.cases, result.replications, result.summary
    sim.scenario_from_dict({...})  # the same, from a mapping
"""

from sim.experiments.replications import Result, simulate
from sim.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict

__all__ = [
    "Result",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
    "simulate",
]
__version__ = "0.1.0"
