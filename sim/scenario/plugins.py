"""Plugins: code a scenario names to register its own policies.

Trust model: a scenario with ``plugins:`` is code, run with the user's rights when the scenario
is validated or run. polit-sim runs only what is named: a ``.py`` entry is loaded from that file
alone (relative to the scenario file), under a module name of its own, and the scenario's
folder is never put on ``sys.path``, so a ``tqdm.py`` or ``numpy.py`` lying next to a scenario
cannot take the place of a real module. Any other entry is a module name imported from the
ordinary Python path (an installed package). Only run scenarios with plugins from people you
trust, as you would only run their scripts.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path

__all__ = ["is_plugin_file", "load_plugin", "plugin_path", "plugin_sources"]

_SOURCES: set[str] = set()
"""The files (and package folders) of the plugins loaded in this process."""


def plugin_sources() -> frozenset[str]:
    """Absolute paths of the plugin files, and folders of plugin packages, loaded so far.

    An error raised from code under one of them is the plugin's, not polit-sim's.
    """
    return frozenset(_SOURCES)


def is_plugin_file(entry: str) -> bool:
    """Whether a ``plugins:`` entry names a file (ends in ``.py``) rather than a module."""
    return entry.endswith(".py")


def plugin_path(entry: object, folder: Path) -> object:
    """A plugin file's absolute path (relative ones are relative to ``folder``); else ``entry``."""
    if isinstance(entry, str) and is_plugin_file(entry):
        return os.path.abspath(os.path.join(folder, entry))
    return entry


def load_plugin(entry: str) -> None:
    """Import a plugin: a ``.py`` file from that file alone, or an installed module by name.

    A file is loaded once per process, under a module name derived from its path.

    Raises:
        Exception: whatever the plugin raises, or ImportError / OSError when it cannot be read.
    """
    if not is_plugin_file(entry):
        module = importlib.import_module(entry)
        source = getattr(module, "__file__", None)
        if source:
            source = os.path.abspath(source)
            is_package = os.path.basename(source) == "__init__.py"
            _SOURCES.add(os.path.dirname(source) + os.sep if is_package else source)
        return
    path = Path(entry)
    if not path.is_file():
        raise ImportError(f"no plugin file {entry}")
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    digest = hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
    name = f"polit_sim_plugin_{stem}_{digest}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load plugin file {entry}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    _SOURCES.add(os.path.abspath(path))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
