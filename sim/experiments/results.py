"""Writing and reading a run's output folder: Parquet tables, summary CSV, manifest.

A folder is written in full to a temporary sibling and renamed into place, so an interrupted or
failed write never leaves a half-written result behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.replications import Result
from sim.scenario import Scenario, scenario_dump, scenario_hash

__all__ = [
    "RESULT_KINDS",
    "clean_stale_temporaries",
    "foreign_entries",
    "model_fingerprint",
    "package_versions",
    "read_result_tables",
    "result_folder_kind",
    "write_atomically",
    "write_manifest",
    "write_parquet",
    "write_result",
]

PACKAGES = ("polit-sim", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "matplotlib")


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# The modules whose code decides what a replication produces (not how results are shown).
MODEL_MODULES = (
    "domain/*.py",
    "engine/*.py",
    "policies/*.py",
    "scenario/*.py",
    "state/*.py",
    "analysis/statistics.py",
    "experiments/replications.py",
    "experiments/sweep.py",
    "experiments/forecast.py",
)


@functools.cache
def model_fingerprint() -> str:
    """A short hash of the model's source code: equal fingerprints, equal results for a seed.

    The package version does not change with every edit of the model; this does, so that a
    sweep is never resumed, nor a stored result taken as current, across a change of the code.
    """
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=8)
    for pattern in MODEL_MODULES:
        for path in sorted(package.glob(pattern)):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def manifest(scenario: Scenario, seed: int, replications: int, **extra: Any) -> dict[str, Any]:
    """What a reader needs to reproduce a result: the resolved scenario, its hash, the seed."""
    # No creation time: every file of a result is identical for the same seed and code.
    return {
        "kind": "run",
        "name": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "replications": replications,
        "versions": package_versions(),
        "model_fingerprint": model_fingerprint(),
        "scenario": scenario_dump(scenario),
        **extra,
    }


TMP_MARKER = ".polit-sim-writing"
"""A file in each temporary folder a write fills: the writer's process id and host."""


def clean_stale_temporaries(out_dir: Path) -> list[Path]:
    """Remove the hidden temporary folders beside ``out_dir`` that killed writes left behind.

    Only hidden folders that carry polit-sim's marker, written on this host by a process that no
    longer exists, are removed (whatever result they were for): nothing polit-sim did not write,
    nor another run's work in progress.
    """
    out_dir = Path(out_dir)
    removed: list[Path] = []
    try:
        siblings = [p for p in out_dir.parent.glob(".*") if p.is_dir()]
    except OSError:
        return removed
    for tmp in siblings:
        marker = tmp / TMP_MARKER
        if tmp.is_symlink() or not marker.is_file():
            continue
        try:
            pid_text, _, host = marker.read_text(encoding="utf-8").partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if host.strip() != platform.node() or _alive(pid):
            continue
        shutil.rmtree(tmp, ignore_errors=True)
        removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_atomically(out_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(tmp)`` on a fresh temporary folder, then move it to ``out_dir``.

    An existing ``out_dir`` is replaced only once the new content is complete. Temporary
    folders that killed writes of the same ``out_dir`` left behind are removed first.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(out_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (tmp / TMP_MARKER).write_text(f"{os.getpid()} {platform.node()}", encoding="utf-8")
        fill(tmp)
        (tmp / TMP_MARKER).unlink()
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
            (old / TMP_MARKER).write_text(f"{os.getpid()} {platform.node()}", encoding="utf-8")
            os.replace(out_dir, old / "replaced")
            os.replace(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as Parquet, without its index.

    Only the columns that are not floating point are dictionary-encoded: measured times such as
    days rarely repeat, and encoding them took two thirds of the writing time of a per-case table
    for a larger file.
    """
    repeating = [str(c) for c, dtype in frame.dtypes.items() if dtype.kind != "f"]
    frame.to_parquet(path, index=False, use_dictionary=repeating)


def write_result(
    result: Result,
    out_dir: Path,
    *,
    figures: Callable[[Result, Path], list[Path]] | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``cases.parquet``, ``replications.parquet``, ``backlog.parquet``,
    ``detectives.parquet``, ``summary.csv``, ``manifest.json`` and the figures to ``out_dir``."""

    def fill(tmp: Path) -> None:
        write_parquet(result.cases, tmp / "cases.parquet")
        write_parquet(result.replications, tmp / "replications.parquet")
        write_parquet(result.backlog, tmp / "backlog.parquet")
        write_parquet(result.detectives, tmp / "detectives.parquet")
        result.summary.to_csv(tmp / "summary.csv", index=False)
        data = manifest(
            result.scenario,
            result.seed,
            len(result.replications),
            **dict(extra_manifest or {}),
        )
        if figures is not None:
            written = [p.name for p in figures(result, tmp)]
            data["figures"] = [n for n in written if n.endswith((".png", ".svg"))]
        write_manifest(tmp, data)  # files: everything written, report.html and workbooks too

    return write_atomically(out_dir, fill)


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    """Write ``manifest.json`` listing every entry of ``folder`` as written by polit-sim."""
    data["files"] = sorted({*os.listdir(folder), "manifest.json"} - {TMP_MARKER})
    (folder / "manifest.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


RESULT_KINDS = ("run", "compare", "forecast")
_MANIFEST_LIMIT = 16 * 1024 * 1024


def result_folder_kind(folder: Path) -> str | None:
    """``"run"`` or ``"compare"`` if ``folder`` is a result folder polit-sim wrote, else None.

    A result folder is recognised by its ``manifest.json``: a JSON object naming polit-sim's
    version, and the kind of result (older manifests: by their keys).
    """
    manifest_path = Path(folder) / "manifest.json"
    try:
        if manifest_path.is_symlink() or not manifest_path.is_file():
            return None
        if manifest_path.stat().st_size > _MANIFEST_LIMIT:
            return None
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "polit-sim" not in (data.get("versions") or {}):
        return None
    kind = data.get("kind")
    if kind in RESULT_KINDS:
        return str(kind)
    if "baseline" in data and "scenarios" in data:
        return "compare"
    if "scenario_hash" in data and "scenario" in data:
        return "run"
    return None


# What results written before manifests listed their files may hold.
_LEGACY_SUFFIXES = (".parquet", ".csv", ".json", ".svg", ".png", ".html", ".xlsx")


def foreign_entries(folder: Path) -> list[str]:
    """Entries of a result folder that polit-sim did not write (by its manifest's list)."""
    folder = Path(folder)
    try:
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return sorted(os.listdir(folder))
    listed = data.get("files") if isinstance(data, dict) else None
    out = []
    for entry in sorted(os.listdir(folder)):
        if isinstance(listed, list):
            if entry not in listed:
                out.append(entry)
        elif not (entry.endswith(_LEGACY_SUFFIXES) or entry == "scenarios"):
            out.append(entry)
    return out


def read_result_tables(out_dir: Path) -> dict[str, pd.DataFrame]:
    """The tables of a written result folder, by name."""
    out_dir = Path(out_dir)
    tables = {p.stem: pd.read_parquet(p) for p in sorted(out_dir.glob("*.parquet"))}
    tables["summary"] = pd.read_csv(out_dir / "summary.csv")
    return tables
