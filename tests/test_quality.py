"""Static checks run with the tests: ruff (lint and format) and mypy must be clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the dev extra")
def test_ruff_lint_is_clean() -> None:
    """The code passes ruff's lint rules, the banned random APIs among them."""
    result = _run("ruff", "check", "sim", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the dev extra")
def test_ruff_format_is_clean() -> None:
    """The code is formatted as ruff formats it."""
    result = _run("ruff", "format", "--check", "sim", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    """The package type-checks."""
    pytest.importorskip("mypy")
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_matches_all() -> None:
    """``sim.__all__`` lists exactly the public names the package exports."""
    import sim

    public = {n for n in dir(sim) if not n.startswith("_")} - {
        "cli",
        "distributions",
        "entities",
        "experiment",
        "model",
        "plots",
        "policies",
        "processes",
        "results",
        "scenario",
        "statistics",
        "streams",
        "team",
        "theory",
    }
    assert set(sim.__all__) <= public
    assert all(hasattr(sim, name) for name in sim.__all__)
