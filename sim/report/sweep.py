"""Tables and figures of a stored sweep (``polit-sim sweep-report DIR``).

Written to ``DIR/report/`` (or ``--out``):

- ``points.csv``: per design point and metric, the mean over replications with its 95% CI
  (Student t; Wilson for the 0/1 ``any_*`` indicators).
- ``metric_by_parameter.csv`` and ``metric_by_parameter.png/svg``: each metric against each
  swept parameter. Grid designs are grouped by the parameter's values; sampled designs (LHS,
  Sobol) by quantile bins of it. Each group pools the runs of all points in it, so the interval
  is of the mean over the other parameters' values as the design spread them (a main effect),
  not of a single scenario.
- Sobol designs: ``sobol_indices.csv`` and ``sobol_indices.png/svg``, first-order and total
  indices of each parameter for each metric, computed by SALib on the per-point means, with
  bootstrap 95% intervals.
- ``report.html``: one self-contained page with the figures and each point's headline values;
  parameters are named in words (``key_label``: "detectives dc: number (count)"), metrics by
  their catalogue labels. ``--xlsx`` adds ``results.xlsx``, ``--cases-csv`` the runs as CSV.
- When the scenario has ``expect:`` thresholds (``{metric: {max: x}}`` and/or ``{min: y}``):
  ``target_region.csv`` and ``target_region.png/svg``, each point classed as *met* (the whole
  CI meets every threshold), *broken* (the whole CI of some metric breaks its threshold) or
  *uncertain* (more replications are needed to tell).
- With thresholds and numeric swept parameters, scenario discovery: ``scenario_discovery.csv``,
  the PRIM boxes (:mod:`sim.analysis.prim`) of parameter space where the points' means break a
  threshold, one row per box and parameter (its limits, whether the box narrows it, and the
  box's coverage, density and mass), and ``prim_trajectory.csv``, the first box's peeling
  trajectory (coverage against density, to choose another box by eye).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.prim import prim
from sim.analysis.region import (
    ThresholdError,
    expand_points,
    metric_columns,
    metric_interval,
    parse_expect,
    parse_expect_option,
    point_summary,
    target_region,
)
from sim.domain.metrics import metric_label
from sim.experiments.store import SweepStore
from sim.report.excel import sweep_sheets, write_workbook
from sim.report.figures import PALETTE, save_figure
from sim.report.html import (
    details,
    escape,
    fmt_sig,
    fmt_value,
    image,
    metric_name,
    page,
    period_text,
    table,
)
from sim.scenario.keys import key_label

__all__ = [
    "HEADLINE",
    "ReportError",
    "expand_points",
    "metric_by_parameter",
    "parse_expect",
    "parse_expect_option",
    "point_summary",
    "scenario_discovery",
    "sobol_indices",
    "target_region",
    "write_sweep_report",
]

HEADLINE = (
    "any_neglect_over_365",
    "share_neglect_over_365",
    "mean_wait_days",
    "target_met_share",
    "utilisation",
    "mean_backlog",
)
"""Metrics drawn in the figures (the tables hold every metric)."""

BINS = 8
VERDICT_COLOURS = {"met": PALETTE[2], "uncertain": PALETTE[1], "broken": PALETTE[5]}


class ReportError(ThresholdError):
    """The folder holds no readable sweep, or an ``expect:`` entry is malformed."""


def metric_by_parameter(table: pd.DataFrame, params: Sequence[str], kind: str) -> pd.DataFrame:
    """Each metric against each parameter: group mean and 95% CI (long format)."""
    rows: list[dict[str, Any]] = []
    for param in params:
        values = table[param]
        if kind == "grid" or values.nunique() <= BINS:
            groups = table.groupby(param, sort=True)
            labels = {key: float(key) for key, _ in groups}  # type: ignore[arg-type]
        else:
            bins = pd.qcut(values, BINS, duplicates="drop")
            groups = table.groupby(bins, sort=True, observed=True)
            labels = {key: float(table.loc[g.index, param].mean()) for key, g in groups}
        for key, group in groups:
            for metric in metric_columns(table, params):
                mean, _, low, high, n = metric_interval(metric, group[metric].to_numpy(dtype=float))
                rows.append(
                    {"parameter": param, "value": labels[key], "metric": metric, "mean": mean}
                    | {"ci_low": low, "ci_high": high, "n": int(n)}
                )
    return pd.DataFrame(rows)


def sobol_indices(
    table: pd.DataFrame, design: Mapping[str, Any], metrics: Sequence[str], seed: int = 0
) -> pd.DataFrame:
    """First-order and total Sobol indices with 95% bootstrap CIs (SALib), per metric.

    Each point's output is its mean over replications; points are in Saltelli's order.

    Raises:
        ReportError: SALib is missing, or the sweep is incomplete (Sobol needs every point).
    """
    try:
        from SALib.analyze import sobol
    except ImportError:  # pragma: no cover - depends on the installation
        raise ReportError("Sobol indices need: pip install 'polit-sim[sensitivity]'") from None
    params = design["parameters"]
    names = [p["key"] for p in params]
    n_points = len(design["points"])
    means = table.groupby("point")[list(metrics)].mean()
    if len(means) != n_points:
        raise ReportError(f"Sobol indices need every point: {len(means)} of {n_points} stored")
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[p["low"], p["high"]] for p in params],
    }
    rows: list[dict[str, Any]] = []
    for metric in metrics:
        y = means[metric].to_numpy(dtype=float)
        if not np.isfinite(y).all() or np.var(y) == 0:
            continue  # undefined somewhere, or constant: no variance to apportion
        result = sobol.analyze(problem, y, calc_second_order=True, conf_level=0.95, seed=seed)
        for i, name in enumerate(names):
            rows.append(
                {
                    "metric": metric,
                    "parameter": name,
                    "S1": float(result["S1"][i]),
                    "S1_ci_low": float(result["S1"][i] - result["S1_conf"][i]),
                    "S1_ci_high": float(result["S1"][i] + result["S1_conf"][i]),
                    "ST": float(result["ST"][i]),
                    "ST_ci_low": float(result["ST"][i] - result["ST_conf"][i]),
                    "ST_ci_high": float(result["ST"][i] + result["ST_conf"][i]),
                }
            )
    return pd.DataFrame(rows)


def scenario_discovery(
    region: pd.DataFrame, params: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """PRIM boxes where a threshold is broken by the points' means, and the peeling trajectory.

    Returns None when no swept parameter is numeric or no point breaks a threshold.
    """
    numeric = [p for p in params if pd.api.types.is_numeric_dtype(region[p])]
    flags = [c for c in region.columns if str(c).endswith("_met_by_mean")]
    if not numeric or not flags:
        return None
    broken = ~region[flags].astype(bool).all(axis=1).to_numpy()
    if not broken.any():
        return None
    found = prim(region[numeric].to_numpy(float), broken, max_boxes=3)
    rows: list[dict[str, Any]] = []
    for k, box in enumerate(found.boxes, start=1):
        narrowed = set(box.restricted(found.full))
        for j, param in enumerate(numeric):
            low, high = box.limits[j]
            rows.append(
                {
                    "box": k,
                    "parameter": param,
                    "low": low,
                    "high": high,
                    "restricted": j in narrowed,
                    "coverage": box.coverage,
                    "density": box.density,
                    "mass": box.mass,
                    "points": box.points,
                }
            )
    trajectory = pd.DataFrame(
        [
            {
                "step": i,
                "coverage": b.coverage,
                "density": b.density,
                "mass": b.mass,
                "points": b.points,
            }
            for i, b in enumerate(found.trajectory)
        ]
    )
    return pd.DataFrame(rows), trajectory


# --- figures -------------------------------------------------------------------------------------


def _wrap(text: str, width: int = 28) -> str:
    return textwrap.fill(text, width)


def _by_parameter_figure(
    frame: pd.DataFrame,
    params: Sequence[str],
    metrics: Sequence[str],
    labels: Mapping[str, str],
) -> Figure:
    fig, axes = plt.subplots(
        len(metrics),
        len(params),
        figsize=(3.2 * len(params) + 1, 2.4 * len(metrics)),
        squeeze=False,
        sharex="col",
        layout="constrained",
    )
    for i, metric in enumerate(metrics):
        for j, param in enumerate(params):
            ax = axes[i][j]
            rows = frame[(frame["parameter"] == param) & (frame["metric"] == metric)]
            rows = rows.sort_values("value")
            x, y = rows["value"].to_numpy(float), rows["mean"].to_numpy(float)
            low, high = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
            ax.errorbar(x, y, yerr=[y - low, high - y], color=PALETTE[0], marker="o", capsize=3)
            ax.grid(alpha=0.3)
            if i == len(metrics) - 1:
                ax.set_xlabel(_wrap(labels.get(param, param), 34), fontsize=9.5)
            if j == 0:
                ax.set_ylabel(_wrap(metric_label(metric), 26), fontsize=9.5)
    fig.suptitle("Each metric against each parameter (mean, 95% CI)")
    return fig


def _sobol_figure(frame: pd.DataFrame, metrics: Sequence[str], labels: Mapping[str, str]) -> Figure:
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(7, 2.2 * len(metrics)), squeeze=False, layout="constrained"
    )
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        rows = frame[frame["metric"] == metric]
        x = np.arange(len(rows))
        for k, (index, colour) in enumerate((("S1", PALETTE[0]), ("ST", PALETTE[1]))):
            mean = rows[index].to_numpy(float)
            err = [mean - rows[f"{index}_ci_low"], rows[f"{index}_ci_high"] - mean]
            label = "first order" if index == "S1" else "total"
            ax.bar(x + 0.38 * k, mean, 0.38, yerr=err, color=colour, capsize=3, label=label)
        ticks = [_wrap(labels.get(p, p), 22) for p in rows["parameter"]]
        ax.set_xticks(x + 0.19, ticks, fontsize=8)
        ax.set_ylabel(_wrap(metric_label(metric), 26), fontsize=9.5)
        ax.grid(alpha=0.3, axis="y")
    axes[0, 0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.suptitle("Sobol indices (95% bootstrap CI)")
    return fig


def _region_figure(
    region: pd.DataFrame, params: Sequence[str], labels: Mapping[str, str]
) -> Figure:
    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    x = region[params[0]].to_numpy(float)
    if len(params) >= 2:
        y = region[params[1]].to_numpy(float)
        ax.set_ylabel(labels.get(params[1], params[1]))
    else:
        y = np.zeros_like(x)
        ax.set_yticks([])
    for verdict, colour in VERDICT_COLOURS.items():
        mask = (region["verdict"] == verdict).to_numpy()
        if mask.any():
            ax.scatter(x[mask], y[mask], color=colour, label=verdict, s=40, edgecolor="k")
    ax.set_xlabel(labels.get(params[0], params[0]))
    ax.legend(
        title="thresholds (expect:)", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False
    )
    ax.set_title("Where the scenario's thresholds hold (95% CI)")
    ax.grid(alpha=0.3)
    return fig


def _save(fig: Figure, out: Path, stem: str, figures: dict[str, Path]) -> list[Path]:
    """Save a figure; note its PNG in ``figures`` (for the HTML page) when one was written."""
    paths = save_figure(fig, out, stem)
    png = [p for p in paths if p.suffix == ".png"]
    if png:
        figures[stem] = png[0]
    return paths


def write_sweep_report(
    folder: Path,
    out: Path | None = None,
    expect: Mapping[str, Any] | None = None,
    *,
    xlsx: bool = False,
    runs_csv: bool = False,
) -> list[Path]:
    """Write the tables, figures and ``report.html`` of the sweep in ``folder``.

    Returns the paths written.

    Args:
        expect: thresholds to use instead of the swept scenario's ``expect:``.
        xlsx: also write ``results.xlsx`` (summary, comparison, per-run table).
        runs_csv: also write the per-run table as ``runs.csv``.

    Raises:
        ReportError: no sweep in ``folder``, no stored run, or a malformed ``expect:``.
    """
    store = SweepStore(folder)
    if not (folder / "sweep.json").exists():
        raise ReportError(f"{folder}: no sweep.json (not a sweep folder)")
    info = store.sweep_info()
    table = store.table()
    if table.empty:
        raise ReportError(f"{folder}: no stored runs")
    design = info["design"]
    params = [p["key"] for p in design["parameters"]]
    table = expand_points(table, design["points"], info.get("same_as"))
    out = out or folder / "report"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    points = point_summary(table, params)
    points.to_csv(out / "points.csv", index=False)
    written.append(out / "points.csv")
    metrics = [m for m in HEADLINE if m in table.columns]
    base = info.get("base_scenario") or {}
    labels = {p: key_label(p, base) for p in params}
    by_param: pd.DataFrame | None = None
    figures: dict[str, Path] = {}
    if params:
        by_param = metric_by_parameter(table, params, design["kind"])
        by_param.to_csv(out / "metric_by_parameter.csv", index=False)
        written.append(out / "metric_by_parameter.csv")
        fig = _by_parameter_figure(by_param, params, metrics, labels)
        written += _save(fig, out, "metric_by_parameter", figures)
    if design["kind"] == "sobol":
        indices = sobol_indices(table, design, metric_columns(table, params))
        indices.to_csv(out / "sobol_indices.csv", index=False)
        written.append(out / "sobol_indices.csv")
        shown = [m for m in metrics if m in set(indices["metric"])] if len(indices) else []
        if shown:
            fig = _sobol_figure(indices, shown, labels)
            written += _save(fig, out, "sobol_indices", figures)
    expect = expect or info.get("base_scenario", {}).get("expect")
    region: pd.DataFrame | None = None
    if expect:
        region = target_region(points, params, parse_expect(expect))
        region.to_csv(out / "target_region.csv", index=False)
        written.append(out / "target_region.csv")
        if params:
            fig = _region_figure(region, params, labels)
            written += _save(fig, out, "target_region", figures)
            discovery = scenario_discovery(region, params)
            if discovery is not None:
                boxes, trajectory = discovery
                boxes.to_csv(out / "scenario_discovery.csv", index=False)
                trajectory.to_csv(out / "prim_trajectory.csv", index=False)
                written += [out / "scenario_discovery.csv", out / "prim_trajectory.csv"]
    html_text = render_sweep_report(info, points, params, labels, figures, region)
    (out / "report.html").write_text(html_text, encoding="utf-8")
    written.append(out / "report.html")
    if xlsx:
        write_workbook(out / "results.xlsx", sweep_sheets(points, by_param, table))
        written.append(out / "results.xlsx")
    if runs_csv:
        table.to_csv(out / "runs.csv", index=False)
        written.append(out / "runs.csv")
    return written


SWEEP_CAPTIONS = {
    "metric_by_parameter": "Each headline metric against each swept parameter: mean and 95% CI "
    "of the runs at that value, pooled over the other parameters' values.",
    "sobol_indices": "Sobol indices: the share of each metric's variance due to each parameter "
    "alone (first order) and with its interactions (total), 95% bootstrap CI.",
    "target_region": "Design points where the thresholds hold: met (the whole 95% CI meets every "
    "threshold), broken (the whole CI of some metric breaks one), uncertain (more replications "
    "needed).",
}


def render_sweep_report(
    info: Mapping[str, Any],
    points: pd.DataFrame,
    params: Sequence[str],
    labels: Mapping[str, str],
    figures: Mapping[str, Path],
    region: pd.DataFrame | None,
) -> str:
    """The sweep's ``report.html``: what was swept, the figures, the points' headline values."""
    base = info.get("base_scenario") or {}
    title = str(base.get("title") or info.get("name", "sweep")).replace("_", " ")
    design = info["design"]
    period = period_text(
        float(base.get("warmup_days", 0.0)),
        float(base.get("horizon_days", 0.0)),
        base.get("start_date"),
    )
    swept = " and ".join(labels.get(p, p) for p in params) or "nothing"
    parts = [
        f"<h1>{escape(title[:1].upper() + title[1:])}: what changes with {escape(swept)}</h1>",
        f"<p class='period'>Counted over {escape(period)}; a {escape(design['kind'])} design of "
        f"{len(design['points'])} points, {info.get('replications')} replications each, root "
        f"seed {info.get('seed')} shared by every point.</p>",
    ]
    for stem in ("target_region", "metric_by_parameter", "sobol_indices"):
        if stem in figures:
            parts.append(image(figures[stem], SWEEP_CAPTIONS[stem]))
    shown = [m for m in HEADLINE[:3] if m in set(points["metric"])]
    rows = []
    verdicts = {} if region is None else dict(zip(region["point"], region["verdict"], strict=True))
    for point, group in points.groupby("point", sort=True):
        by_metric = group.set_index("metric")
        cells: list[Any] = [point] + [fmt_sig(group[p].iloc[0]) for p in params]
        for metric in shown:
            r = by_metric.loc[metric]
            cells.append(
                f"{fmt_value(metric, r['mean'])} ({fmt_value(metric, r['ci_low'])} to "
                f"{fmt_value(metric, r['ci_high'])})"
            )
        if region is not None:
            cells.append(verdicts.get(point, ""))
        rows.append(cells)
    header = ["Point", *(labels.get(p, p) for p in params)]
    header += [f"{metric_name(m)}: mean (95% CI)" for m in shown]
    header += ["Thresholds"] if region is not None else []
    parts.append(
        details(
            f"Headline metrics at each of the {len(rows)} design points",
            table(header, rows, numeric=range(len(params) + 1)),
        )
    )
    parts.append(
        details(
            "Swept parameters and their keys",
            table(["Parameter", "Key"], [[labels.get(p, p), p] for p in params]),
        )
    )
    return page(f"polit-sim sweep: {title}", parts)
