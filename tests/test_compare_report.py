"""The figures and report.html of a comparison: every figure present, all named, self-contained."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.app import cli
from sim.report.compare import scenario_differences

SHORT = ("horizon_days=500", "warmup_days=100")
FILES = ["scenarios/polit_2016_as_was.yaml", "scenarios/reform_workload_reviews.yaml"]
NAMES = ["polit_2016_as_was", "reform_workload_reviews"]


class _Collect(HTMLParser):
    """Tags with their attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short comparison of two scenarios written with its figures (PNG and SVG) and report."""
    out = tmp_path_factory.mktemp("cmp") / "out"
    sets = [x for s in SHORT for x in ("--set", s)]
    args = ["compare", *FILES, *sets, "-r", "3", "-q", "--svg", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out


def test_every_figure_is_written_as_png_and_svg(written: Path) -> None:
    """Forest, survival, backlog, metrics, a heat map and timeline per scenario, PNG and SVG."""
    stems = {"forest", "neglect_survival", "backlog", "headline_metrics"}
    stems |= {f"{kind}_{n}" for kind in ("detectives", "timeline") for n in NAMES}
    for stem in stems:
        assert (written / f"{stem}.png").stat().st_size > 1000, stem
        svg = (written / f"{stem}.svg").read_text()
        assert "<svg" in svg
    listed = set(json.loads((written / "manifest.json").read_text())["figures"])
    assert listed == {f"{s}.{ext}" for s in stems for ext in ("png", "svg")}


def test_report_embeds_every_figure_and_names_every_scenario(written: Path) -> None:
    """report.html holds one embedded image per figure, and names each scenario in its text."""
    parser = _Collect()
    parser.feed((written / "report.html").read_text(encoding="utf-8"))
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == len(list(written.glob("*.png")))
    assert all(str(a["src"]).startswith("data:image/png;base64,") for a in images)
    text = " ".join(parser.text)
    for name in NAMES:
        assert name in text
    assert "goes a year (365 days) without progress" in text
    assert "How many replications" in text and "20160101" in text


def test_report_has_no_external_reference(written: Path) -> None:
    """No http(s) src or href, no <link>, no <script src>: the file stands alone."""
    parser = _Collect()
    parser.feed((written / "report.html").read_text(encoding="utf-8"))
    for tag, attrs in parser.tags:
        assert tag != "link"
        assert not (tag == "script" and attrs.get("src"))
        for key in ("src", "href"):
            value = str(attrs.get(key) or "")
            assert not value.lower().startswith(("http:", "https:", "//")), (tag, value)


def test_scenario_differences_lists_changed_fields_only() -> None:
    """The diff of resolved scenarios names changed and added fields, never the name."""
    a = {"name": "a", "team": {"hours": 37, "groups": [{"n": 1}]}, "seed": 1}
    b = {"name": "b", "team": {"hours": 40, "groups": [{"n": 1}]}, "seed": 1, "extra": 2}
    assert scenario_differences(a, b) == [("extra", "—", 2), ("team.hours", 37, 40)]


def test_figures_are_png_only_unless_svg_is_asked_for(tmp_path: Path) -> None:
    """save_figure writes a PNG, and an SVG only with svg=True (compare's --svg)."""
    import matplotlib.pyplot as plt

    from sim.report.figures import save_figure

    fig, ax = plt.subplots(layout="constrained")
    ax.plot([0, 1], [0, 1])
    assert save_figure(fig, tmp_path, "plain", svg=False) == [tmp_path / "plain.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.png"]
