"""Reading scenario files defensively: regular files of bounded size, YAML of bounded shape.

A scenario file is a few kilobytes of YAML. Whatever is named instead (a FIFO that would block
forever, ``/dev/zero`` that never ends, a directory, a symlink loop, a "billion laughs" alias
bomb, nesting thousands deep that makes the YAML parser quadratic or recursive, keys that are
dates or binary) is refused with one line naming the file, before it can hang, exhaust memory or
raise a traceback.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sim.scenario.schema import ScenarioError

__all__ = [
    "MAX_EXPANDED_NODES",
    "MAX_EXTENDS_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INDENT_COLUMNS",
    "MAX_NESTING",
    "check_keys",
    "check_yaml_shape",
    "read_regular_file",
]

MAX_FILE_BYTES = 256 * 1024
"""A scenario file is a few kilobytes; the pure-Python YAML parser reads ~100 kB per second."""
MAX_NESTING = 48
"""Mappings and lists inside one another; a scenario needs fewer than ten."""
MAX_INDENT_COLUMNS = 240
"""Leading spaces of one line: deeper block nesting makes the YAML parser slow."""
MAX_EXPANDED_NODES = 100_000
"""Values in the document once every alias is expanded (a scenario has a few hundred)."""
MAX_EXTENDS_DEPTH = 16
"""Files in one ``extends`` chain."""


def read_regular_file(path: Path, shown: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    The file is opened non-blocking and checked again once open, so a FIFO swapped in between
    cannot block the read.

    Raises:
        ScenarioError: one line naming ``shown`` and what is wrong.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ScenarioError([f"{shown}: file not found"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{shown}: is a directory, not a scenario file"]) from None
    except OSError as error:
        if error.errno == 40:  # ELOOP
            raise ScenarioError([f"{shown}: symbolic link loop"]) from None
        raise ScenarioError([f"{shown}: cannot be read: {error.strerror}"]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ScenarioError([f"{shown}: is a directory, not a scenario file"])
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError([f"{shown}: not a regular file ({_kind(info.st_mode)})"])
        if info.st_size > limit:
            raise ScenarioError(
                [f"{shown}: {info.st_size} bytes, more than a scenario file may have ({limit})"]
            )
        chunks = []
        size = 0
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # the file grew while being read
                raise ScenarioError([f"{shown}: more than {limit} bytes"])
        return b"".join(chunks)
    except OSError as error:
        raise ScenarioError([f"{shown}: cannot be read: {error.strerror}"]) from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def check_yaml_shape(text: str, shown: str) -> None:
    """Refuse YAML too deep, too wide once aliases are expanded, or with recursive aliases.

    A lexical pass bounds flow nesting (``[[[[...``) and indentation first, because the YAML
    parser's time grows with the square of the depth; then the parser's events (no objects
    built) bound the nesting and the number of values with every alias expanded.

    Raises:
        ScenarioError: one line naming ``shown``, the limit and where it is passed.
    """
    depth = 0
    for number, line in enumerate(text.splitlines(), 1):
        indent = len(line) - len(line.lstrip(" "))
        if indent > MAX_INDENT_COLUMNS:
            raise ScenarioError(
                [f"{shown}: nested too deeply (line {number} indented {indent} columns)"]
            )
        for char in line:
            if char in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    raise ScenarioError(
                        [f"{shown}: nested too deeply (line {number}: over {MAX_NESTING} levels)"]
                    )
            elif char in "]}":
                depth -= 1
    # Each open collection: [values inside it so far, its anchor]
    stack: list[list[Any]] = [[0, None]]
    sizes: dict[str, int] = {}
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                stack.append([1, event.anchor])
                if event.anchor is not None:
                    sizes.pop(event.anchor, None)  # redefined: the old one no longer applies
                if len(stack) - 1 > MAX_NESTING:
                    at = _line(event)
                    raise ScenarioError(
                        [f"{shown}: nested too deeply (line {at}: over {MAX_NESTING} levels)"]
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                size, anchor = stack.pop()
                if anchor is not None:
                    sizes[anchor] = size
                _add(stack, size, shown, event)
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                _add(stack, 1, shown, event)
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor not in sizes:
                    at = _line(event)
                    if any(frame[1] == event.anchor for frame in stack):
                        problem = f"alias *{event.anchor} refers to a value containing itself"
                    else:
                        problem = f"alias *{event.anchor} has no anchor"
                    raise ScenarioError([f"{shown}: invalid YAML (line {at}): {problem}"])
                _add(stack, sizes[event.anchor], shown, event)
    except yaml.YAMLError:
        return  # the full load reports syntax errors with their position


def _add(stack: list[list[Any]], size: int, shown: str, event: yaml.Event) -> None:
    stack[-1][0] += size
    if stack[-1][0] > MAX_EXPANDED_NODES:
        raise ScenarioError(
            [
                f"{shown}: more than {MAX_EXPANDED_NODES} values once aliases are expanded"
                f" (line {_line(event)}); a scenario has a few hundred"
            ]
        )


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return 0 if mark is None else int(mark.line) + 1


def check_keys(data: Any, shown: str, where: str = "") -> None:
    """Refuse mapping keys that are not text (YAML reads ``2024-01-01:`` as a date, ``1:`` as a
    number, ``yes:`` as a boolean); ``data`` is already bounded in depth.

    Raises:
        ScenarioError: one line per bad key, naming the file and the dotted field.
    """
    problems: list[str] = []
    _collect_keys(data, shown, where, problems)
    if problems:
        raise ScenarioError(problems)


def _collect_keys(data: Any, shown: str, where: str, problems: list[str]) -> None:
    if isinstance(data, Mapping):
        for key, value in data.items():
            if not isinstance(key, str):
                text = "(binary data)" if isinstance(key, bytes) else str(key)
                field = where or "(top level)"
                problems.append(
                    f"{shown}: {field}: key {text} is a {type(key).__name__}, not text (quote it)"
                )
                continue
            _collect_keys(value, shown, f"{where}.{key}" if where else key, problems)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _collect_keys(value, shown, f"{where}.{i}" if where else str(i), problems)
