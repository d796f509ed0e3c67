"""compare draws in its worker processes: each scenario's own figures beside its traced
replication, the comparison's figures while the parent writes the data; same files as serially."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.experiments.compare import Comparison, run_comparison
from sim.experiments.workers import started_pool
from sim.report import compare as report
from sim.report.figures import figure_files
from sim.scenario import load_scenario

SHORT = ("horizon_days=200", "warmup_days=50")
FILES = ["scenarios/polit_2016_as_was.yaml", "scenarios/reform_workload_reviews.yaml"]
NAMES = ["polit_2016_as_was", "reform_workload_reviews"]


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path; the manifest without its command line."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            content = path.read_bytes()
            if path.name == "manifest.json":
                data = json.loads(content)
                data.pop("command", None)
                content = json.dumps(data, sort_keys=True).encode()
            out[path.relative_to(folder).as_posix()] = content
    return out


def test_pool_and_serial_compare_write_identical_files(tmp_path: Path) -> None:
    """Figures drawn in the workers (--workers 2) are byte for byte those drawn in one process."""
    sets = [x for s in SHORT for x in ("--set", s)]
    folders = {}
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}"
        args = ["compare", *FILES, *sets, "-r", "3", "-q", "-w", workers]
        result = CliRunner().invoke(cli, [*args, "--out", str(out)])
        assert result.exit_code in (0, 1), result.output
        folders[workers] = _files(out)
    serial, pooled = folders["1"], folders["2"]
    assert serial.keys() == pooled.keys()
    for name in NAMES:
        for stem in ("detectives", "timeline"):
            assert f"{stem}_{name}.png" in pooled
    assert {"forest.png", "neglect_survival.png", "report.html"} <= pooled.keys()
    assert [k for k in serial if serial[k] != pooled[k]] == []


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    """Two worker processes for the module's comparisons (started once: each costs a second)."""
    workers = started_pool(2, "sim.experiments.compare", "sim.report.compare")
    yield workers
    workers.shutdown()


@pytest.fixture(scope="module")
def pooled(pool: Executor) -> Comparison:
    """Two short scenarios compared in two workers, each drawing its scenarios' own figures."""
    scenarios = [load_scenario(f, SHORT) for f in FILES]
    draw = functools.partial(report.scenario_figure_files, svg=False)
    return run_comparison(scenarios, replications=3, workers=2, draw=draw, pool=pool)


def _done(files: dict[str, bytes]) -> Future[dict[str, bytes]]:
    """A future already holding ``files``, as if drawn in a worker."""
    future: Future[dict[str, bytes]] = Future()
    future.set_result(files)
    return future


def test_scenario_figures_come_from_the_workers(
    pooled: Comparison, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each scenario's figures arrive drawn from the pool, equal to what the parent draws from the
    whole result; the parent writes them without drawing."""
    assert list(pooled.drawn) == NAMES
    for name in NAMES:
        drawn = pooled.drawn[name]
        assert drawn.error is None
        assert list(drawn.files) == [f"detectives_{name}.png", f"timeline_{name}.png"]
        here: dict[str, bytes] = {}
        for fig, stem in report._scenario_figures(pooled.results[name], 0):
            here.update(figure_files(fig, stem, svg=False))
        assert here == drawn.files

    def no_drawing(*args: object, **kwargs: object) -> object:
        raise AssertionError("drawn in the parent")

    monkeypatch.setattr(report, "_scenario_figures", no_drawing)
    ahead = {stem: _done({f"{stem}.png": b"png"}) for stem in report.shared_figures(pooled)}
    written = report.comparison_figures(pooled, tmp_path, ahead=ahead)
    assert list(written)[-4:] == [f"{s}_{n}" for n in NAMES for s in ("detectives", "timeline")]
    for name in NAMES:
        for file, content in pooled.drawn[name].files.items():
            assert (tmp_path / file).read_bytes() == content


def test_a_figure_failing_in_a_worker_loses_nothing_and_is_drawn_here(
    pool: Executor, tmp_path: Path
) -> None:
    """A draw that fails in the worker keeps every replication; the parent draws the figures."""
    scenarios = [load_scenario(FILES[0], SHORT)]
    failing = functools.partial(int)  # int(result) raises TypeError: picklable, always fails
    comparison = run_comparison(scenarios, replications=2, workers=2, draw=failing, pool=pool)
    assert comparison.replications == 2
    drawn = comparison.drawn[NAMES[0]]
    assert drawn.error and "int()" in drawn.error and not drawn.files
    written = report.comparison_figures(comparison, tmp_path)
    assert {f"detectives_{NAMES[0]}", f"timeline_{NAMES[0]}"} <= written.keys()


def test_a_shared_figure_failing_in_a_worker_is_drawn_here(
    pooled: Comparison, tmp_path: Path
) -> None:
    """A comparison figure whose drawing failed in the pool is drawn in the parent instead; one
    drawn there is written as it came."""
    broken: Future[dict[str, bytes]] = Future()
    broken.set_exception(RuntimeError("worker died"))
    done = _done({"backlog.png": b"drawn in a worker"})
    written = report.comparison_figures(pooled, tmp_path, ahead={"forest": broken, "backlog": done})
    assert list(written)[:4] == ["forest", "neglect_survival", "backlog", "headline_metrics"]
    assert (tmp_path / "forest.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "backlog.png").read_bytes() == b"drawn in a worker"
