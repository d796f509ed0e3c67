"""Safety rails every command shares: output folders it may replace, and internal errors.

* :func:`check_out_dir` is called before any simulation: a command replaces only a result
  folder of its own kind that polit-sim wrote (recognised by its manifest), and refuses, with exit
  2 and one line, a symbolic link, ``.`` or ``..``, a folder holding the current one, a path
  under a file, a folder it cannot write, an existing file, and any other existing folder.
* :class:`SafeGroup` turns an unexpected exception of any command into exit status 3
  (:func:`sim.cli.common.internal_error`): one line on standard error naming the error and the
  file the full traceback was saved to.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from sim.cli.common import fail_input, internal_error

__all__ = [
    "INTERNAL_ERROR",
    "SafeGroup",
    "check_folder_path",
    "check_out_dir",
    "check_out_file",
    "out_dir_problem",
    "path_problem",
    "preflight_or_exit",
]

INTERNAL_ERROR = 3
"""Exit status of an internal error (a bug, or the machine running out of a resource)."""
INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT, as shells report it)."""


def out_dir_problem(raw: str, kind: str) -> str | None:
    """Why ``raw`` cannot be the output folder of a ``kind`` result, or None if it can.

    Args:
        raw: the folder as the user typed it (or the default).
        kind: ``"run"`` or ``"compare"``: the only kind of result folder that may be replaced.
    """
    problem = path_problem(raw)
    if problem is not None:
        return problem
    text = raw.rstrip("/")
    path = Path(raw)
    if os.path.lexists(text):
        if not path.is_dir():
            return f"--out {raw}: is a file, not a folder"
        try:
            entries = os.listdir(text)
        except OSError as error:
            return f"--out {raw}: cannot be read: {error.strerror}"
        if entries:
            # Imported only here: a new folder is checked without the result modules.
            from sim.experiments.results import foreign_entries, result_folder_kind

            found = result_folder_kind(path)
            if found is None:
                return (
                    f"--out {raw}: exists and is not a polit-sim result folder (no polit-sim "
                    "manifest.json); choose a new folder"
                )
            if found != kind:
                return f"--out {raw}: holds a polit-sim {found} result, not a {kind} result"
            extra = foreign_entries(path)
            if extra:
                shown = ", ".join(extra[:5]) + (", ..." if len(extra) > 5 else "")
                return f"--out {raw}: holds files polit-sim did not write ({shown})"
    return _write_problem(raw, path)


def path_problem(raw: str, option: str = "--out") -> str | None:
    """Why ``raw`` cannot name an output folder whatever it holds, or None.

    Refused: an empty name, ``.``, ``..`` (or a path ending in them), a symbolic link, a folder
    holding the current one, and a path under a file.
    """
    text = raw.rstrip("/")
    if not raw.strip():
        return f"{option}: empty folder name"
    if text in ("", ".", "..") or text.endswith(("/.", "/..")) or "\0" in raw:
        return f"{option} {raw}: the current or a parent folder cannot be an output folder"
    if os.path.islink(text):
        return f"{option} {raw}: is a symbolic link; give the real folder"
    real = Path(os.path.realpath(text))
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        return f"{option} {raw}: holds the current folder"
    for parent in reversed(Path(raw).absolute().parents):
        if os.path.lexists(parent) and not parent.is_dir():
            return f"{option} {raw}: lies under {parent}, which is a file"
    if os.path.lexists(text) and not os.path.isdir(text):
        return f"{option} {raw}: is a file, not a folder"
    return None


def check_folder_path(
    raw: str, option: str = "--out", allowed: frozenset[str] | None = None
) -> Path:
    """Exit 2 with one line when ``raw`` cannot be an output folder (:func:`path_problem`), when
    it cannot be written, or, given ``allowed``, when it exists holding other entries than
    those (names or ``*.suffix`` patterns) the command writes there."""
    problem = path_problem(raw, option) or _write_problem(raw, Path(raw))
    if problem is None and allowed is not None and os.path.isdir(raw):
        other = sorted(
            entry
            for entry in os.listdir(raw)
            if entry not in allowed and f"*{Path(entry).suffix}" not in allowed
        )
        if other:
            shown = ", ".join(other[:5]) + (", ..." if len(other) > 5 else "")
            problem = f"{option} {raw}: holds files polit-sim did not write ({shown})"
    if problem is not None:
        fail_input([problem.replace("--out", option, 1)])
    return Path(raw)


def check_out_file(raw: str, marker: str, option: str = "--out") -> Path:
    """Exit 2 with one line unless ``raw`` may be written as a file: a new file in a writable
    folder, or a file an earlier run of the command wrote (its first 4 KiB hold ``marker``).

    A symbolic link, a folder, a path under a file and any other existing file are refused, so
    that a command never overwrites a file it did not write (say, a scenario of one's own).
    """
    text = raw.rstrip("/")
    path = Path(raw)
    problem: str | None = None
    if not raw.strip() or raw.endswith("/") or text in (".", "..") or "\0" in raw:
        problem = f"{option} {raw}: not a file name"
    elif os.path.islink(text):
        problem = f"{option} {raw}: is a symbolic link; give the real file"
    elif os.path.isdir(text):
        problem = f"{option} {raw}: is a folder, not a file"
    else:
        for parent in reversed(path.absolute().parents):
            if os.path.lexists(parent) and not parent.is_dir():
                problem = f"{option} {raw}: lies under {parent}, which is a file"
                break
    if problem is None and os.path.lexists(text):
        try:
            with open(text, "rb") as handle:
                head = handle.read(4096) if path.is_file() else b""
        except OSError as error:
            head = b""
            problem = f"{option} {raw}: cannot be read: {error.strerror}"
        if problem is None and marker.encode() not in head:
            problem = f"{option} {raw}: exists and was not written by polit-sim; choose a new file"
    if problem is None:
        parent = path.absolute().parent
        while not parent.exists():
            parent = parent.parent
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".polit-sim-probe.", dir=parent))
        except OSError as error:
            problem = f"{option} {raw}: cannot write in {parent}: {error.strerror}"
    if problem is not None:
        fail_input([problem])
    return path


def _write_problem(raw: str, path: Path) -> str | None:
    """Probe the nearest existing folder for writing (a permission check cannot see read-only
    mounts, and root passes it anyway)."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    try:
        probe = tempfile.mkdtemp(prefix=".polit-sim-probe.", dir=parent)
    except OSError as error:
        return f"--out {raw}: cannot write in {parent}: {error.strerror}"
    os.rmdir(probe)
    if path.exists():
        try:
            probe = tempfile.mkdtemp(prefix=".polit-sim-probe.", dir=path)
        except OSError as error:
            return f"--out {raw}: cannot be replaced: {error.strerror}"
        os.rmdir(probe)
    return None


def check_out_dir(raw: str, kind: str) -> Path:
    """The output folder, checked up front: exit 2 with one line when it may not be written.

    Replacing an earlier result of the same kind is allowed and said on standard error.
    """
    problem = out_dir_problem(raw, kind)
    if problem is not None:
        fail_input([problem])
    path = Path(raw)
    if path.is_dir() and os.listdir(path):
        click.echo(f"replacing the earlier {kind} result in {raw}", err=True)
    return path


class SafeGroup(click.Group):
    """A command group whose commands exit 3 on an unexpected exception, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            # Not click's "Aborted!" with exit 1, which CI would read as a broken threshold.
            click.echo("interrupted (nothing written)", err=True)
            sys.exit(INTERRUPTED)
        except (SystemExit, GeneratorExit):
            raise
        except Exception as error:  # any bug, MemoryError, OSError ... of a command
            internal_error(error)


def preflight_or_exit(
    scenario: Any,
    replications: int,
    workers: int = 1,
    source: str | None = None,
    *,
    keeps_cases: bool = True,
) -> None:
    """Exit 2 with one line per reason when the run is too big to start (see
    :mod:`sim.experiments.budget`)."""
    from sim.experiments.budget import preflight_problems

    problems = preflight_problems(scenario, replications, workers, source, keeps_cases=keeps_cases)
    if problems:
        fail_input(problems)
