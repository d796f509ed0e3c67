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
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.replications import Result
from sim.scenario import Scenario, scenario_dump, scenario_hash

__all__ = ["model_fingerprint", "package_versions", "read_result_tables", "write_result"]

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
    return {
        "name": scenario.name,
        "scenario_hash": scenario_hash(scenario),
        "seed": seed,
        "replications": replications,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "model_fingerprint": model_fingerprint(),
        "scenario": scenario_dump(scenario),
        **extra,
    }


def write_atomically(out_dir: Path, fill: Callable[[Path], None]) -> Path:
    """Call ``fill(tmp)`` on a fresh temporary folder, then move it to ``out_dir``.

    An existing ``out_dir`` is replaced only once the new content is complete.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        fill(tmp)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


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
        result.cases.to_parquet(tmp / "cases.parquet", index=False)
        result.replications.to_parquet(tmp / "replications.parquet", index=False)
        result.backlog.to_parquet(tmp / "backlog.parquet", index=False)
        result.detectives.to_parquet(tmp / "detectives.parquet", index=False)
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
            others = [n for n in written if not n.endswith((".png", ".svg"))]
            if others:
                data["files"] = others  # report.html, results.xlsx, cases.csv
        (tmp / "manifest.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")

    return write_atomically(out_dir, fill)


def read_result_tables(out_dir: Path) -> dict[str, pd.DataFrame]:
    """The tables of a written result folder, by name."""
    out_dir = Path(out_dir)
    tables = {p.stem: pd.read_parquet(p) for p in sorted(out_dir.glob("*.parquet"))}
    tables["summary"] = pd.read_csv(out_dir / "summary.csv")
    return tables
