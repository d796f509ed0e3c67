"""The engine's scheduled callbacks and run loop keep SimPy's order of events and its failures.

:class:`sim.engine.wakeups.Wakeup` goes into SimPy's own queue, and
:func:`sim.engine.budget.run_bounded` processes the queue with SimPy 4's ``step`` inline; mixed
with ordinary ``Timeout`` events and processes, both must behave exactly as SimPy does.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import pytest
import simpy

from sim.engine.budget import run_bounded
from sim.engine.wakeups import Calendar, Steps, Wakeup

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


def _process_order(use_steps: bool, run: Callable[[simpy.Environment], None]) -> list[Any]:
    """(time, label) in the order three processes that only wait, started at different moments
    and tied at whole days with each other and with timeouts, take their steps."""
    env = simpy.Environment()
    seen: list[Any] = []

    def waits(label: str, delays: list[float]) -> Generator[float, None, None]:
        seen.append((env.now, label, "start"))
        for k, delay in enumerate(delays):
            yield delay
            seen.append((env.now, label, k))
            if k == 1:  # a timeout scheduled from inside a step, tied with later steps
                env.timeout(1.0).callbacks.append(lambda e, lb=label: seen.append((env.now, lb)))

    def as_simpy(steps: Generator[float, None, None]) -> Generator[simpy.Event, Any, None]:
        for delay in steps:
            yield env.timeout(delay)

    def start(label: str, delays: list[float]) -> None:
        if use_steps:
            Steps(env, waits(label, delays))
        else:
            env.process(as_simpy(waits(label, delays)))

    env.timeout(1.0).callbacks.append(lambda e: seen.append((env.now, "timeout")))
    start("a", [1.0, 1.0, 2.0, 0.0])
    start("b", [2.0, 0.0, 1.0])
    Wakeup(env, 2.0, [lambda e: start("c", [0.0, 1.0, 1.0])])
    env.timeout(3.0).callbacks.append(lambda e: seen.append((env.now, "timeout 3")))
    run(env)
    return seen


@pytest.mark.parametrize("run", list(RUNS), ids=list(RUNS))
def test_steps_keep_the_order_a_simpy_process_would_have(run: str) -> None:
    """Processes run by Steps take their steps in exactly the order SimPy processes would."""
    reference = _process_order(False, RUNS["simpy"])
    assert _process_order(True, RUNS[run]) == reference
    assert len(reference) == 18


def test_steps_raise_what_the_generator_raises() -> None:
    """A process run by Steps that fails stops the run with its own exception."""

    def failing() -> Generator[float, None, None]:
        yield 1.0
        raise ValueError("broken rule")

    for run in RUNS.values():
        env = simpy.Environment()
        Steps(env, failing())
        with pytest.raises(ValueError, match="broken rule"):
            run(env)
        assert env.now == 1.0


def _calendar_order(use_calendar: bool, run: str, seed: int) -> list[tuple[float, str]]:
    """(time, label) of a random mix of timeouts, wake-ups and calendar entries, with many ties;
    a calendar entry that comes due schedules a follow-up (as a unit starts its next case)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []

    def due(label: str) -> None:
        seen.append((env.now, label))
        if label.count("+") < 2:
            enter(float(rng.choice([0.0, 1.0, 2.0, rng.uniform(0.0, 3.0)])), label + "+")

    calendar = Calendar(env, due)

    def enter(delay: float, label: str) -> None:
        if use_calendar:
            calendar.schedule(delay, label)
        else:
            Wakeup(env, delay, [lambda event: due(label)])

    for i in range(60):
        # ties on whole and half days, and times within days
        delay = float(rng.choice([0.0, 0.5, 1.0, 2.0, 3.0]) if i % 2 else rng.uniform(0.0, 5.0))
        kind = int(rng.integers(3))
        if kind == 0:
            enter(delay, f"c{i}")
        elif kind == 1:
            Wakeup(env, delay, [lambda event, i=i: seen.append((env.now, f"w{i}"))])
        else:
            env.timeout(delay).callbacks.append(lambda event, i=i: seen.append((env.now, f"t{i}")))
    RUNS[run](env)
    assert len(calendar) == 0
    return seen


@pytest.mark.parametrize("run", list(RUNS), ids=list(RUNS))
@pytest.mark.parametrize("seed", range(8))
def test_a_calendar_keeps_the_order_of_one_wakeup_per_entry(run: str, seed: int) -> None:
    """Entries kept in a calendar (only its earliest in SimPy's queue) are processed exactly
    when, and in the order, one wake-up each would have been, ties and follow-ups included."""
    reference = _calendar_order(False, "simpy", seed)
    assert sum(label.startswith("c") for _t, label in reference) > 20
    assert _calendar_order(True, run, seed) == reference


def test_a_calendar_refuses_a_negative_delay() -> None:
    calendar = Calendar(simpy.Environment(), lambda value: None)
    with pytest.raises(ValueError, match="negative delay"):
        calendar.schedule(-1.0, "x")
