"""Executors: run a sweep's runs serially, in local processes, or on a Dask cluster.

Every executor takes the same :class:`RunSpec` list and reports each run once, through
a callback, as a :class:`Done`; a run's row depends only on its scenario, seed and replication,
so all three give identical rows.

``processes`` survives a worker process that dies (a crash, the out-of-memory killer): the pool
is rebuilt and only the unfinished runs are submitted again. The runs in flight when a pool broke
are suspects; each is then retried alone, so that a further break is charged to the run that
caused it. A run that breaks the pool :data:`MAX_ATTEMPTS` times is recorded as failed and the
sweep goes on. A Python exception inside a run is deterministic (same inputs, same exception) and
is recorded as failed at once.

``dask`` submits to a running ``dask.distributed`` scheduler. The scheduler itself moves the
tasks of a worker that died to the other workers, and gives up on a task that has killed
``distributed.scheduler.allowed-failures`` workers (3 by default); exceptions are retried
``retries`` times. Each future is released as soon as its row is stored, so the scheduler and
workers hold only the runs in flight.

Testing hook: when the environment variable ``POLIT_SIM_CRASH_RUN_IDS`` (a comma-separated list
of run ids) is set in a worker process, the worker entry point of ``processes`` and ``dask``
ends that process with ``os._exit`` before running a listed run. It is read only there, never in
the engine or in the serial executor.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from sim.analysis.statistics import replication_metrics
from sim.engine.replication import run_replication
from sim.experiments.sweep import RunSpec
from sim.experiments.workers import worker_pool

__all__ = [
    "CRASH_ENV",
    "EXECUTORS",
    "MAX_ATTEMPTS",
    "Done",
    "ExecutorError",
    "execute",
    "run_dask",
    "run_processes",
    "run_serial",
    "run_sweep",
]

MAX_ATTEMPTS = 3
"""Times a run may kill its worker before it is recorded as failed."""

CRASH_ENV = "POLIT_SIM_CRASH_RUN_IDS"
EXECUTORS = ("serial", "processes", "dask")
VERSIONED = ("polit-sim", "numpy", "scipy", "simpy", "pydantic")
"""Packages whose versions must match between the client and every Dask worker."""


class ExecutorError(RuntimeError):
    """The executor cannot run the sweep at all (no scheduler, mismatched versions)."""


@dataclass
class Done:
    """A run's outcome.

    Attributes:
        run: the run.
        row: its stored row (run id, point, swept values, replication, metrics), or None.
        attempts: executions started, including those that killed their worker.
        host: where it ran.
        seconds: wall time of the successful (or last) execution (s).
        error: why it failed, if it did.
    """

    run: RunSpec
    row: dict[str, Any] | None
    attempts: int
    host: str
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the run finished and has a row."""
        return self.row is not None


OnDone = Callable[[Done], None]


@dataclass
class _Outcome:
    row: dict[str, Any]
    host: str
    seconds: float


def execute(run: RunSpec) -> _Outcome:
    """Run one replication of a design point and compute its metrics (pure)."""
    start = time.perf_counter()
    records = run_replication(run.scenario, run.replication, run.seed)
    metrics = replication_metrics(records, run.scenario)
    metrics.pop("replication", None)
    row: dict[str, Any] = {"run_id": run.run_id, "point": run.point, **run.params}
    row["replication"] = run.replication
    row.update(metrics)
    return _Outcome(row, socket.gethostname(), time.perf_counter() - start)


def _execute_in_worker(run: RunSpec) -> _Outcome:
    """Worker entry point of ``processes`` and ``dask``: the crash hook, then :func:`execute`."""
    crash = os.environ.get(CRASH_ENV)
    if crash and run.run_id in crash.split(","):
        os._exit(70)  # simulate a worker killed mid-run (segfault, out-of-memory killer)
    return execute(run)


def _failed(run: RunSpec, attempts: int, error: BaseException | str) -> Done:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return Done(run, None, attempts, socket.gethostname(), 0.0, text)


def run_serial(runs: Sequence[RunSpec], on_done: OnDone) -> None:
    """Run every run in this process, in order."""
    for run in runs:
        try:
            out = execute(run)
        except Exception as error:  # one run's bug is recorded; the sweep goes on
            on_done(_failed(run, 1, error))
        else:
            on_done(Done(run, out.row, 1, out.host, out.seconds))


@dataclass
class _Tracker:
    attempts: dict[str, int] = field(default_factory=dict)

    def bump(self, run: RunSpec) -> int:
        self.attempts[run.run_id] = self.attempts.get(run.run_id, 0) + 1
        return self.attempts[run.run_id]


def run_processes(runs: Sequence[RunSpec], on_done: OnDone, workers: int = 2) -> None:
    """Run in a pool of ``workers`` spawned processes, surviving workers that die.

    At most ``2 * workers`` runs are in flight, so a broken pool loses little work and memory
    stays flat however long the sweep.
    """
    todo: deque[RunSpec] = deque(runs)
    suspects: deque[RunSpec] = deque()
    tracker = _Tracker()
    limit = 2 * workers
    while todo or suspects:
        pool = worker_pool(workers)
        inflight: dict[Future[_Outcome], RunSpec] = {}
        broken = False
        try:
            while (todo or suspects or inflight) and not broken:
                # Suspects run alone, so that a break is charged to the run that caused it.
                if suspects:
                    if not inflight:
                        run = suspects.popleft()
                        tracker.bump(run)
                        inflight[pool.submit(_execute_in_worker, run)] = run
                else:
                    while todo and len(inflight) < limit:
                        run = todo.popleft()
                        tracker.bump(run)
                        inflight[pool.submit(_execute_in_worker, run)] = run
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in finished:
                    run = inflight.pop(future)
                    attempts = tracker.attempts[run.run_id]
                    try:
                        out = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if attempts >= MAX_ATTEMPTS:
                            message = f"its worker process died {attempts} times"
                            on_done(_failed(run, attempts, message))
                        else:
                            suspects.append(run)
                    except Exception as error:  # deterministic: retrying cannot help
                        on_done(_failed(run, attempts, error))
                    else:
                        on_done(Done(run, out.row, attempts, out.host, out.seconds))
            if broken:
                # Every other run in flight died with the pool: all are suspects now.
                for future, run in inflight.items():
                    if future.done() and future.exception() is None:
                        out = future.result()
                        attempts = tracker.attempts[run.run_id]
                        on_done(Done(run, out.row, attempts, out.host, out.seconds))
                    elif tracker.attempts[run.run_id] >= MAX_ATTEMPTS:
                        attempts = tracker.attempts[run.run_id]
                        on_done(_failed(run, attempts, f"its worker died {attempts} times"))
                    else:
                        suspects.append(run)
        finally:
            pool.shutdown(wait=not broken, cancel_futures=True)


def _versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    from sim.experiments.results import model_fingerprint

    out["model code"] = model_fingerprint()
    return out


def run_dask(
    runs: Sequence[RunSpec],
    on_done: OnDone,
    scheduler: str,
    *,
    retries: int = 2,
    inflight_per_thread: int = 2,
    timeout_s: float = 30.0,
) -> None:
    """Run on a ``dask.distributed`` cluster at ``scheduler`` (``tcp://host:port``).

    Raises:
        ExecutorError: no scheduler answers, it has no workers, or a worker's package versions
            differ from this process's (results would not be comparable).
    """
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ExecutorError("the dask executor needs: pip install 'polit-sim[dask]'") from None

    try:
        client = Client(scheduler, timeout=timeout_s, set_as_default=False)
    except OSError as error:
        raise ExecutorError(f"no Dask scheduler at {scheduler}: {error}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout_s)
        except TimeoutError:
            raise ExecutorError(f"the Dask scheduler at {scheduler} has no workers") from None
        try:
            client.get_versions(check=True)
        except ValueError as error:
            raise ExecutorError(f"Dask versions differ: {error}") from None
        mine = _versions()
        for worker, theirs in client.run(_versions).items():
            if theirs != mine:
                diff = {k: (mine.get(k), theirs.get(k)) for k in mine if mine[k] != theirs.get(k)}
                raise ExecutorError(f"worker {worker}: versions differ (client, worker): {diff}")

        if not runs:
            return
        threads = max(1, sum(client.nthreads().values()))
        limit = inflight_per_thread * threads
        todo = deque(runs)
        by_key: dict[str, RunSpec] = {}

        def submit(run: RunSpec) -> Any:
            key = f"polit-sim-run-{run.run_id}"
            future = client.submit(_execute_in_worker, run, key=key, retries=retries, pure=False)
            by_key[key] = run
            return future

        first = [submit(todo.popleft()) for _ in range(min(limit, len(todo)))]
        queue = as_completed(first, loop=client.loop)
        del first  # the queue holds them now; each is released once stored
        for future in queue:
            run = by_key.pop(str(future.key))
            if future.status == "finished":
                out = future.result()
                on_done(Done(run, out.row, 1, out.host, out.seconds))
            else:
                problem = future.exception()
                assert problem is not None
                killed = type(problem).__name__ == "KilledWorker"
                on_done(_failed(run, MAX_ATTEMPTS if killed else retries + 1, problem))
            future.release()  # the row is stored: the cluster may forget the result
            if todo:
                queue.add(submit(todo.popleft()))
    finally:
        client.close()


def run_sweep(
    runs: Sequence[RunSpec],
    on_done: OnDone,
    executor: str = "processes",
    *,
    workers: int = 2,
    scheduler: str | None = None,
) -> None:
    """Run ``runs`` with the named executor, calling ``on_done`` once per run.

    Raises:
        ExecutorError: an unknown executor, or ``dask`` without a scheduler address.
    """
    if executor == "serial" or (executor == "processes" and workers <= 1):
        run_serial(runs, on_done)
    elif executor == "processes":
        run_processes(runs, on_done, workers)
    elif executor == "dask":
        if not scheduler:
            raise ExecutorError("the dask executor needs --scheduler tcp://HOST:PORT")
        run_dask(runs, on_done, scheduler)
    else:
        raise ExecutorError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
