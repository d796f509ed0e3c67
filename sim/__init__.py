"""polit-sim: a discrete-event simulation of an online child-abuse investigation team.

The Python API::

    import sim
    scenario = sim.load_scenario("scenarios/baseline.yaml")
    result = sim.simulate(scenario, replications=10, seed=1)
    result.cases, result.replications, result.summary
"""

from sim.experiment import Result, simulate
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Result", "Scenario", "ScenarioError", "load_scenario", "simulate"]
__version__ = "0.1.0"
