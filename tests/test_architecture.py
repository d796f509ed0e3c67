"""The package's layering and shape, as docs/architecture.md draws them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sim

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 600


def test_layering_contract_is_kept() -> None:
    """Imports point down the layers of pyproject's [tool.importlinter] contracts."""
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_modules_are_readable_in_one_sitting() -> None:
    """No module of the package grows past a few hundred lines."""
    long = {
        str(path.relative_to(ROOT)): n
        for path in (ROOT / "sim").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_public_api() -> None:
    """``sim`` exports the documented API, and every name in ``__all__`` exists."""
    assert {"load_scenario", "simulate", "Scenario", "Result", "scenario_from_dict"} <= set(
        sim.__all__
    )
    for name in sim.__all__:
        assert hasattr(sim, name), name


def test_scenario_from_dict_equals_the_file() -> None:
    """A scenario built from a mapping equals the same scenario read from its file."""
    import yaml

    path = ROOT / "scenarios" / "baseline.yaml"
    from_file = sim.load_scenario(path)
    from_dict = sim.scenario_from_dict(yaml.safe_load(path.read_text()))
    assert from_dict == from_file
