"""The engine's scheduled callbacks and run loop keep SimPy's order of events and its failures.

:class:`sim.engine.wakeups.Wakeup` goes into SimPy's own queue, and
:func:`sim.engine.budget.run_bounded` processes the queue with SimPy 4's ``step`` inline; mixed
with ordinary ``Timeout`` events and processes, both must behave exactly as SimPy does.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from sim.engine.budget import run_bounded
from sim.engine.wakeups import Wakeup

# (delay, label): ties at 1.0 and 2.0 must keep the order of scheduling
SCHEDULE = [(2.0, "a"), (1.0, "b"), (1.0, "c"), (0.5, "d"), (2.0, "e"), (1.0, "f"), (0.0, "g")]


def _record_order(
    use_wakeup: Callable[[int], bool], run: Callable[[simpy.Environment], None]
) -> list[tuple[float, str]]:
    """(time, label) in the order SCHEDULE's events and a process are processed."""
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []
    for i, (delay, label) in enumerate(SCHEDULE):
        if use_wakeup(i):
            Wakeup(env, delay, [lambda event, label=label: seen.append((env.now, label))])
        else:
            env.timeout(delay).callbacks.append(
                lambda event, label=label: seen.append((env.now, label))
            )

    def process(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        seen.append((env.now, "process"))
        Wakeup(env, 0.0, [lambda event: seen.append((env.now, "woken by the process"))])
        yield env.timeout(0.0)
        seen.append((env.now, "process again"))

    env.process(process(env))
    run(env)
    return seen


RUNS: dict[str, Callable[[simpy.Environment], None]] = {
    "simpy": lambda env: env.run(until=10.0),
    "run_bounded": lambda env: run_bounded(env, 10.0, 1_000_000, "test"),
}


@pytest.mark.parametrize("run", list(RUNS), ids=list(RUNS))
@pytest.mark.parametrize("mix", ["none", "all", "alternate"])
def test_wakeups_keep_the_order_timeouts_would_have(run: str, mix: str) -> None:
    """Wake-ups in place of timeouts (some or all) are processed in exactly the same order."""
    use = {"none": lambda i: False, "all": lambda i: True, "alternate": lambda i: i % 2 == 0}[mix]
    reference = _record_order(lambda i: False, RUNS["simpy"])
    assert _record_order(use, RUNS[run]) == reference
    assert [label for _t, label in reference][:4] == ["g", "d", "b", "c"]


def test_run_bounded_raises_a_failed_event_as_simpy_does() -> None:
    """A process that fails unhandled stops the run with its exception, as env.run would."""

    def failing(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        raise ValueError("broken rule")

    for run in RUNS.values():
        env = simpy.Environment()
        env.process(failing(env))
        with pytest.raises(ValueError, match="broken rule"):
            run(env)
        assert env.now == 1.0


def test_run_bounded_stops_at_the_horizon_and_resumes() -> None:
    """Events at the horizon wait for the next stretch, as with env.run(until=...)."""
    env = simpy.Environment()
    seen: list[float] = []
    for t in (1.0, 5.0, 5.0, 7.0):
        Wakeup(env, t, [lambda event: seen.append(env.now)])
    run_bounded(env, 5.0, 1_000_000, "test")
    assert seen == [1.0] and env.now == 5.0
    run_bounded(env, 8.0, 1_000_000, "test")
    assert seen == [1.0, 5.0, 5.0, 7.0] and env.now == 8.0


def test_a_negative_delay_is_refused() -> None:
    """A wake-up in the past is an error, as a negative Timeout is."""
    with pytest.raises(ValueError, match="negative delay"):
        Wakeup(simpy.Environment(), -1.0, [lambda event: None])
