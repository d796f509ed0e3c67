"""Process pools whose workers end when the process that started them dies.

A pool's workers are spawned processes. If their parent is killed (SIGKILL, out of memory), they
would otherwise live on as orphans, each holding a replication's memory. Each worker runs a small
watchdog thread that checks its parent's process id and exits as soon as the parent is gone.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["WATCH_SECONDS", "started_pool", "worker_pool"]

WATCH_SECONDS = 0.5
"""How often a worker checks that its parent is alive."""


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that end when this process dies."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_watch_parent,
        initargs=(os.getpid(),),
    )


def started_pool(workers: int, *modules: str) -> ProcessPoolExecutor:
    """A :func:`worker_pool` whose workers start at once and import ``modules`` meanwhile.

    Each worker spends about a second starting Python and importing the model; started early,
    they do it while this process still prepares the work.
    """
    pool = worker_pool(workers)
    for _ in range(workers):
        pool.submit(_import, modules)
    return pool


def _import(modules: tuple[str, ...]) -> None:
    """Import ``modules`` (in a worker, before its first job needs them)."""
    for module in modules:
        importlib.import_module(module)


def _watch_parent(parent: int) -> None:
    """Worker initializer: exit the worker at once when ``parent`` is no longer its parent."""
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            if os.getppid() != parent:
                os._exit(1)  # the parent died: nobody will collect this worker's results

    threading.Thread(target=watch, name="polit-sim-parent-watch", daemon=True).start()
