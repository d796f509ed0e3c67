"""PRIM scenario discovery (sim/analysis/prim.py) and its table in ``sweep-report``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.prim import prim
from sim.report.sweep import scenario_discovery


def test_prim_recovers_a_planted_box() -> None:
    """Points of interest inside x0 > 0.6, x1 < 0.4 (x2 irrelevant): PRIM's box is that box."""
    rng = np.random.default_rng(11)
    x = rng.uniform(size=(2000, 3))
    y = (x[:, 0] > 0.6) & (x[:, 1] < 0.4)
    found = prim(x, y)
    box = found.boxes[0]
    assert box.restricted(found.full) == [0, 1]
    (lo0, hi0), (lo1, hi1), _ = box.limits
    assert 0.5 < lo0 <= 0.62 and hi0 == pytest.approx(x[:, 0].max())
    assert lo1 == pytest.approx(x[:, 1].min()) and 0.38 <= hi1 < 0.5
    assert box.coverage >= 0.9 and box.density >= 0.8


def test_coverage_density_and_mass_are_counted_exactly() -> None:
    """On a 6 × 6 grid, the box of the 6 points of interest has coverage 1, density 1, mass 1/6."""
    grid = np.array([(a, b) for a in range(6) for b in range(6)], dtype=float)
    y = (grid[:, 0] >= 3) & (grid[:, 1] <= 1)
    box = prim(grid, y).boxes[0]
    assert box.limits == ((3.0, 5.0), (0.0, 1.0))
    assert (box.coverage, box.density, box.mass, box.points) == (1.0, 1.0, 6 / 36, 6)
    first = prim(grid, y).trajectory[0]
    assert (first.coverage, first.density, first.mass) == (1.0, 6 / 36, 1.0)


def test_covering_finds_a_second_box() -> None:
    """Two separate regions of interest give two boxes, each dense."""
    grid = np.array([(a, b) for a in range(10) for b in range(10)], dtype=float)
    y = ((grid[:, 0] <= 2) & (grid[:, 1] <= 2)) | ((grid[:, 0] >= 7) & (grid[:, 1] >= 7))
    found = prim(grid, y, max_boxes=3)
    assert len(found.boxes) == 2
    assert {b.limits for b in found.boxes} == {((0.0, 2.0), (0.0, 2.0)), ((7.0, 9.0), (7.0, 9.0))}
    assert sum(b.coverage for b in found.boxes) == pytest.approx(1.0)


def test_sweep_report_table_names_each_box_parameter() -> None:
    """scenario_discovery: one row per box and parameter, broken where a mean breaks a bound."""
    region = pd.DataFrame(
        [
            {"point": i, "a": a, "b": b, "utilisation_max_met_by_mean": not (a >= 2 and b <= 1)}
            for i, (a, b) in enumerate((a, b) for a in range(4) for b in range(4))
        ]
    )
    found = scenario_discovery(region, ["a", "b"])
    assert found is not None
    boxes, trajectory = found
    first = boxes[boxes["box"] == 1].set_index("parameter")
    assert (first.loc["a", "low"], first.loc["a", "high"]) == (2.0, 3.0)
    assert (first.loc["b", "low"], first.loc["b", "high"]) == (0.0, 1.0)
    assert first["restricted"].all() and (first["density"] == 1.0).all()
    assert trajectory["mass"].iloc[0] == 1.0
    assert scenario_discovery(region.assign(utilisation_max_met_by_mean=True), ["a", "b"]) is None
