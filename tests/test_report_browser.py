"""The reports in a real browser: headless Chromium (Debian's package) driven by Playwright.

At 1366 and 1920 px wide: every image loads, nothing is wider than the window, the console stays
clean, and the forest plot — the figure a decision is taken from — is on the first screen, as is
a forecast's early-warning list.
Skipped, saying why, only where Playwright or the system's chromium is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sim.cli.app import cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHORT = ["--set", "horizon_days=500", "--set", "warmup_days=100", "-r", "3", "-q"]
SCREENS = [(1366, 768), (1920, 1080)]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless system Chromium, or a skip that says what is missing."""
    if CHROMIUM is None:
        pytest.skip("no chromium on this machine: apt-get install -y chromium (see .ci/run)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A comparison of three scenarios, a single run and a small sweep, each with its report."""
    root = tmp_path_factory.mktemp("browser")
    runner = CliRunner()
    files = [
        "scenarios/polit_2016_as_was.yaml",
        "scenarios/reform_workload_reviews.yaml",
        "scenarios/reform_fte_allocation.yaml",
    ]
    done = runner.invoke(cli, ["compare", *files, *SHORT, "-w", "1", "--out", str(root / "cmp")])
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["run", files[0], *SHORT, "-w", "1", "--out", str(root / "run")])
    assert done.exit_code in (0, 1), done.output
    grid = ["--grid", "team.detectives.dc.count=5,7", "--executor", "serial"]
    sweep = ["sweep", files[0], *grid, *SHORT, "-r", "2", "--out", str(root / "sweep")]
    done = runner.invoke(cli, sweep)
    assert done.exit_code == 0, done.output
    done = runner.invoke(cli, ["sweep-report", str(root / "sweep")])
    assert done.exit_code == 0, done.output
    forecast = [
        "forecast",
        "examples/forecast/team.yaml",
        "--cases",
        "examples/forecast/open_cases.csv",
        "--absences",
        "examples/forecast/absences.csv",
        "--as-of",
        "2025-03-03",
        "--horizon-days",
        "180",
        "-r",
        "2",
        "-q",
        "-w",
        "1",
        "--out",
        str(root / "forecast"),
    ]
    done = runner.invoke(cli, forecast)
    assert done.exit_code == 0, done.output
    return {
        "compare": root / "cmp" / "report.html",
        "run": root / "run" / "report.html",
        "sweep": root / "sweep" / "report" / "report.html",
        "forecast": root / "forecast" / "report.html",
    }


def _open(browser: Any, path: Path, width: int, height: int) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return context, page, errors


IMAGES_BROKEN = "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).length"
OVERFLOW = """() => {
  const w = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.right > w + 1 || r.left < -1) && !e.closest('.tablewrap');
  });
  const tables = [...document.querySelectorAll('.tablewrap')].filter(
    t => t.scrollWidth > t.clientWidth + 1);
  return {scroll: document.documentElement.scrollWidth, width: w,
          wide: wide.slice(0, 5).map(e => e.tagName + '.' + e.className),
          tables: tables.length};
}"""


@pytest.mark.parametrize(("width", "height"), SCREENS)
@pytest.mark.parametrize("kind", ["compare", "run", "sweep", "forecast"])
def test_report_renders_cleanly(
    browser: Any, reports: dict[str, Path], kind: str, width: int, height: int
) -> None:
    """Every image loads, no element or table overflows the window horizontally, no console
    error (with every folded section opened)."""
    context, page, errors = _open(browser, reports[kind], width, height)
    try:
        assert page.evaluate("document.images.length") > 0
        assert page.evaluate(IMAGES_BROKEN) == 0
        # Folded figures load too: open every <details> and check again.
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate(IMAGES_BROKEN) == 0
        layout = page.evaluate(OVERFLOW)
        assert layout["scroll"] <= layout["width"], layout
        assert not layout["wide"], layout
        assert layout["tables"] == 0, layout  # tables fit the page, no scrolling inside them
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), SCREENS)
@pytest.mark.parametrize(
    ("kind", "selector"),
    [("compare", "#forest img"), ("run", "#forest img"), ("forecast", "#early-warning")],
)
def test_the_decision_is_on_the_first_screen(
    browser: Any, reports: dict[str, Path], kind: str, selector: str, width: int, height: int
) -> None:
    """The forest plot lies wholly within the first screen, before any scrolling; a forecast's
    early-warning list starts there."""
    context, page, _ = _open(browser, reports[kind], width, height)
    try:
        box = page.locator(selector).first.bounding_box()
        assert box is not None
        assert 0 <= box["y"] < height, box
        if selector == "#forest img":
            assert box["y"] + box["height"] <= height, box
            assert box["width"] >= 0.5 * min(width, 1180), box  # drawn large enough to read
    finally:
        context.close()
