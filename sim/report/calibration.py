"""The fit report of ``calibrate`` and the back-test's figures: one self-contained HTML file each.

Per fitted distribution: the Kaplan–Meier estimate (censoring respected) against the chosen and
the runner-up family's CDF, and a Q–Q plot (fitted quantiles at the Kaplan–Meier probabilities);
the arrival counts by week with the fitted rate; a goodness-of-fit table (sup distance between
Kaplan–Meier and the fitted CDF, AIC and the runner-up).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.fitting import DurationFit, DurationSample, kaplan_meier
from sim.report.figures import PALETTE, save_figure

__all__ = ["backtest_figure", "distribution_figure", "write_backtest_report", "write_fit_report"]

_STYLE = (
    "body{font-family:sans-serif;max-width:70em;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;"
    "text-align:right}th{background:#eee}figure{margin:1em 0}img{max-width:100%}"
)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _embed(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def sup_distance(fit: DurationFit, sample: DurationSample) -> float:
    """The largest gap between the Kaplan–Meier CDF and the chosen family's CDF."""
    times, cdf = kaplan_meier(sample)
    return float(np.max(np.abs(cdf - fit.best.frozen.cdf(times)))) if len(times) else np.nan


def distribution_figure(name: str, fit: DurationFit, sample: DurationSample, unit: str) -> Figure:
    """Kaplan–Meier against the fitted CDFs, and a Q–Q plot of the chosen family."""
    times, cdf = kaplan_meier(sample)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.step(times, cdf, where="post", color="black", label="Kaplan–Meier (data)")
    grid = np.linspace(0.0, float(np.max(times)) * 1.05 if len(times) else 1.0, 300)
    for i, family_fit in enumerate(fit.fits[:2]):
        label = f"{family_fit.family} ({'chosen' if i == 0 else 'runner-up'})"
        left.plot(
            grid,
            family_fit.frozen.cdf(grid),
            color=PALETTE[i],
            ls="-" if i == 0 else "--",
            label=label,
        )
    left.set_xlabel(unit)
    left.set_ylabel("cumulative probability")
    left.set_title(f"{name}: n={sample.n}, {sample.n_censored} censored", fontsize=10)
    left.legend(fontsize=8)
    keep = (cdf > 0.005) & (cdf < 0.995)
    fitted = fit.best.frozen.ppf(cdf[keep])
    right.scatter(fitted, times[keep], s=6, color=PALETTE[0])
    top = float(max(np.max(fitted, initial=1.0), np.max(times[keep], initial=1.0)))
    right.plot([0, top], [0, top], color="grey", lw=0.8)
    right.set_xlabel(f"fitted {fit.best.family} quantile ({unit})")
    right.set_ylabel(f"Kaplan–Meier quantile ({unit})")
    right.set_title("Q–Q", fontsize=10)
    fig.tight_layout()
    return fig


def arrivals_figure(days: np.ndarray, counts: np.ndarray, fitted: np.ndarray) -> Figure:
    """Referrals per week with the fitted expected count."""
    weeks = len(days) // 7
    fig, ax = plt.subplots(figsize=(10, 3.2))
    if weeks:
        observed = counts[: weeks * 7].reshape(weeks, 7).sum(axis=1)
        expected = fitted[: weeks * 7].reshape(weeks, 7).sum(axis=1)
        x = np.arange(weeks) * 7
        ax.bar(x, observed, width=6, color="0.75", label="referrals per week (log)")
        ax.plot(x, expected, color=PALETTE[0], label="fitted rate")
    ax.set_xlabel("day of the log")
    ax.set_ylabel("referrals per week")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_fit_report(calibration: Any, folder: Path) -> list[Path]:
    """Write the fit report (``fit_report.html`` and each figure as PNG/SVG) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    parts = [f"<h1>Fit report: {html.escape(calibration.scenario['name'])}</h1>"]
    a = calibration.arrivals
    parts.append("<h2>Referrals</h2>")
    parts.append(
        f"<p>{a.n} referrals. Rate {a.rate_per_year:.1f} a year at the start "
        f"[{a.rate_ci[0]:.1f}, {a.rate_ci[1]:.1f}]; growth {a.growth_per_year:+.3f} a year "
        f"(likelihood-ratio p = {a.growth_p:.3g}, {'kept' if a.growth_kept else 'left out'}); "
        f"seasonality p = {a.seasonality_p:.3g} "
        f"({'kept' if a.seasonality_kept else 'left out'}).</p>"
    )
    saved = save_figure(arrivals_figure(a.days, a.counts, a.fitted), folder, "arrivals")
    written += saved
    parts.append(_embed(saved[0], "referrals per week and the fitted rate"))
    rows = []
    fits: list[tuple[str, DurationFit, DurationSample, str]] = [
        (name, fit, sample, unit) for name, (fit, sample, unit) in calibration.durations.items()
    ]
    for kind, episodes in calibration.leave.items():
        if episodes.lengths is not None:
            fits.append((f"leave {kind}", episodes.lengths, episodes.sample, "days"))
    parts.append("<h2>Distributions</h2>")
    for name, fit, sample, unit in fits:
        best, second = fit.best, fit.runner_up
        rows.append(
            [
                name,
                unit,
                sample.n,
                sample.n_censored,
                best.family,
                f"{best.mean:.3g} [{best.mean_ci[0]:.3g}, {best.mean_ci[1]:.3g}]",
                f"{best.sd:.3g}",
                f"{best.aic:.1f}",
                "" if second is None else second.family,
                "" if second is None else f"{second.aic - best.aic:.1f}",
                f"{sup_distance(fit, sample):.3f}",
            ]
        )
        stem = "fit_" + name.replace(" ", "_")
        saved = save_figure(distribution_figure(name, fit, sample, unit), folder, stem)
        written += saved
        parts.append(f"<h3>{html.escape(name)}</h3>")
        parts.append(_embed(saved[0], name))
    table = _table(
        [
            "what",
            "unit",
            "n",
            "censored",
            "family",
            "mean [95% CI]",
            "sd",
            "AIC",
            "runner-up",
            "ΔAIC",
            "sup |KM − F|",
        ],
        rows,
    )
    parts.insert(3, "<h2>Goodness of fit</h2>" + table)
    estimates = _table(
        ["parameter", "estimate", "95% CI", "n", "method"],
        [
            [
                e.key,
                e.value if isinstance(e.value, str) else f"{e.value:.4g}",
                "" if e.ci is None else f"[{e.ci[0]:.4g}, {e.ci[1]:.4g}]",
                e.n,
                e.method,
            ]
            for e in calibration.estimates
        ],
    )
    parts.append("<h2>Every estimate</h2>" + estimates)
    if calibration.effort_scale is not None:
        msm = calibration.effort_scale
        parts.append(
            f"<h2>Effort scale (simulated moments)</h2><p>scale {msm.scale:.3g} "
            f"[{msm.ci[0]:.3g}, {msm.ci[1]:.3g}]; observed moments (mean team-stage days, mean "
            f"month-end backlog): {msm.observed[0]:.3g}, {msm.observed[1]:.3g}.</p>"
        )
    page = folder / "fit_report.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Fit report</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>",
        encoding="utf-8",
    )
    return [page, *written]


def backtest_figure(months: Any) -> Figure:
    """Observed month-end backlog and monthly closures against the simulated 90% bands."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, column, label in (
        (axes[0], "backlog", "open cases at month end"),
        (axes[1], "closures", "cases closed in the month"),
    ):
        x = pd.to_datetime(months["date"])
        ax.fill_between(
            x,
            months[f"{column}_low"],
            months[f"{column}_high"],
            color=PALETTE[0],
            alpha=0.25,
            label="simulated 90% band",
        )
        ax.plot(x, months[f"{column}_median"], color=PALETTE[0], label="simulated median")
        ax.plot(x, months[column], "o-", color="black", ms=3, label="observed (log)")
        ax.set_xlabel("month end")
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_backtest_report(result: Any, folder: Path, title: str) -> list[Path]:
    """Write ``backtest.html``, ``months.csv``, ``distributions.csv`` and the figure."""
    folder.mkdir(parents=True, exist_ok=True)
    months_csv = folder / "months.csv"
    result.months.to_csv(months_csv, index=False)
    dist_csv = folder / "distributions.csv"
    result.distributions.to_csv(dist_csv, index=False)
    written = save_figure(backtest_figure(result.months), folder, "backtest")
    dist = _table(
        ["measure", "quantile", "observed", "simulated 5%", "median", "95%", "inside"],
        [
            [
                r.measure,
                r.quantile,
                f"{r.observed:.3g}",
                f"{r.low:.3g}",
                f"{r.median:.3g}",
                f"{r.high:.3g}",
                "yes" if r.inside else "no",
            ]
            for r in result.distributions.itertuples()
        ],
    )
    body = (
        f"<h1>Back-test: {html.escape(title)}</h1>"
        f"<p><b>Coverage: {result.coverage:.0%}</b> of observed months inside the simulated 90% "
        f"band (backlog {result.backlog_coverage:.0%}, closures {result.closures_coverage:.0%}; "
        f"{result.replications} replications, "
        + (
            f"from the log's state on {result.cut_date}"
            if result.cut_date
            else "from the log's first day with an empty team"
        )
        + ").</p>"
        + _embed(written[0], "observed against simulated bands")
        + "<h2>Waits and gaps</h2>"
        + dist
    )
    page = folder / "backtest.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Back-test</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return [page, months_csv, dist_csv, *written]
