"""One writer per sweep folder: an advisory lock on ``DIR/.lock``.

The lock is an ``flock`` on the open file, so the operating system releases it when its holder
ends in any way, ``kill -9`` included: a lock left by a killed sweep is stale by construction and
the next sweep takes it over. The file also says who holds it (pid, host, start time, command),
for the message a second sweep prints, and is emptied when its holder releases it; a non-empty
file found unlocked is therefore the trace of a holder that died, and taking it over is said.

``flock`` is not reliable on every network file system: keep a sweep folder on a local disk (a CI
cache restores it onto one), or make sure that only one client writes it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["LOCK_NAME", "FolderBusy", "FolderLock"]

LOCK_NAME = ".lock"


class FolderBusy(RuntimeError):
    """Another live process holds the folder's lock.

    Attributes:
        holder: what the lock file says of its holder (pid, host, started_utc, command).
    """

    def __init__(self, folder: Path, holder: dict[str, Any]) -> None:
        self.folder = folder
        self.holder = holder
        who = f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
        since = holder.get("started_utc")
        super().__init__(
            f"{folder}: in use by another sweep ({who}{f' since {since}' if since else ''}); "
            "wait for it to finish or choose another --out"
        )


class FolderLock:
    """The lock of one folder; a context manager. The folder must exist.

    Attributes:
        stale: after :meth:`acquire`, what a holder that died without releasing the lock had
            written (None when the lock was free).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.stale: dict[str, Any] | None = None
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise :class:`FolderBusy` at once when a live process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise FolderBusy(self.folder, holder) from None
        previous = _read(fd)
        self.stale = previous or None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": ["polit-sim", *sys.argv[1:]],
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode("utf-8"), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the lock file (nobody holds it) and release the lock."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _read(fd: int) -> dict[str, Any]:
    """What the lock file says of its holder ({} when empty or unreadable)."""
    text = ""
    try:
        text = os.pread(fd, 65536, 0).decode("utf-8", errors="replace").strip()
        data = json.loads(text) if text else {}
    except (OSError, ValueError):
        return {"pid": "?", "host": "?"} if text else {}
    return data if isinstance(data, dict) else {}
