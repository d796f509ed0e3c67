"""Censored duration fits and the arrivals regression, against scipy and known processes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from sim.analysis.arrivals_fit import fit_arrivals
from sim.analysis.fitting import FAMILIES, DurationSample, fit_durations, kaplan_meier
from sim.engine.streams import Streams

SCIPY = {
    "exponential": stats.expon,
    "lognormal": stats.lognorm,
    "gamma": stats.gamma,
    "weibull": stats.weibull_min,
}


def _censored_sample(seed: int, n: int = 300) -> DurationSample:
    rng = Streams(seed, 0)["test.fitting"]
    x = rng.gamma(2.0, 25.0, n)
    c = rng.uniform(0.0, 150.0, n)
    return DurationSample(x[x <= c], c[x > c])


@pytest.mark.parametrize("family", FAMILIES)
def test_censored_mle_agrees_with_scipy_fit(family: str) -> None:
    """Each family's maximum likelihood is at least scipy's own censored fit's, and close to it."""
    sample = _censored_sample(1)
    ours = next(f for f in fit_durations(sample).fits if f.family == family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = SCIPY[family].fit(sample.censored_data(), floc=0)
    frozen = SCIPY[family](*params)
    theirs = float(np.sum(frozen.logpdf(sample.observed)) + np.sum(frozen.logsf(sample.right)))
    assert ours.loglik >= theirs - 1e-6
    assert ours.loglik - theirs < 0.05
    assert ours.mean == pytest.approx(float(frozen.mean()), rel=0.02)


def test_profile_interval_contains_the_estimate_and_shrinks_with_n() -> None:
    """The mean's profile interval brackets the estimate and narrows about as 1/sqrt(n)."""
    small = fit_durations(_censored_sample(2, 200)).best
    large = fit_durations(_censored_sample(2, 1800)).best
    for fit in (small, large):
        assert fit.mean_ci[0] < fit.mean < fit.mean_ci[1]
        assert fit.sd_ci[0] < fit.sd < fit.sd_ci[1]
    ratio = (small.mean_ci[1] - small.mean_ci[0]) / (large.mean_ci[1] - large.mean_ci[0])
    assert 2.0 < ratio < 4.5  # sqrt(9) = 3


def test_kaplan_meier_without_censoring_is_the_ecdf() -> None:
    """With nothing censored, Kaplan–Meier is the empirical CDF."""
    x = np.array([3.0, 1.0, 2.0, 5.0])
    times, cdf = kaplan_meier(DurationSample(x))
    assert np.allclose(times, [1, 2, 3, 5]) and np.allclose(cdf, [0.25, 0.5, 0.75, 1.0])


def test_interval_censored_dates_recover_the_mean() -> None:
    """Durations known to a day (±½ day intervals) recover a short exponential's mean."""
    rng = Streams(3, 0)["test.dates"]
    days = np.round(rng.exponential(3.0, 2000))
    sample = DurationSample(np.empty(0), np.empty(0), np.maximum(days - 0.5, 0.0), days + 0.5)
    fit = next(f for f in fit_durations(sample).fits if f.family == "exponential")
    assert fit.mean_ci[0] <= 3.0 <= fit.mean_ci[1]


def _poisson_days(rate: float, growth: float, amplitude: float, days: int, seed: int) -> np.ndarray:
    """Referral days of a Poisson process with the scenario's intensity, by thinning."""
    rng = Streams(seed, 0)["test.arrivals"]
    top = rate / 365.0 * (1 + growth) ** (days / 365.0) * (1 + amplitude)
    t = np.cumsum(rng.exponential(1.0 / top, int(top * days * 1.5) + 100))
    t = t[t < days]
    intensity = (
        rate / 365.0 * (1 + growth) ** (t / 365.0) * (1 + amplitude * np.cos(2 * np.pi * t / 365.0))
    )
    return t[rng.random(len(t)) < intensity / top]


def test_arrivals_growth_and_seasonality_recovered() -> None:
    """A clear trend and season are kept, their intervals cover the truth."""
    fit = fit_arrivals(_poisson_days(300.0, 0.3, 0.4, 1095, 5), 1095.0)
    assert fit.growth_kept and fit.seasonality_kept
    assert fit.rate_ci[0] <= 300.0 <= fit.rate_ci[1]
    assert fit.growth_ci[0] <= 0.3 <= fit.growth_ci[1]
    assert fit.amplitude_ci[0] <= 0.4 <= fit.amplitude_ci[1]
    assert min(fit.peak_day, 365 - fit.peak_day) < 30


def test_arrivals_without_trend_or_season_mostly_leave_them_out() -> None:
    """Under a homogeneous process the 5% tests keep growth or seasonality rarely."""
    kept = 0
    for seed in range(10):
        fit = fit_arrivals(_poisson_days(250.0, 0.0, 0.0, 730, 100 + seed), 730.0)
        kept += int(fit.growth_kept) + int(fit.seasonality_kept)
        assert fit.rate_ci[0] <= 250.0 * 1.3 and fit.rate_ci[1] >= 250.0 / 1.3
    assert kept <= 3  # 20 tests at 5%: 1 expected; 4 or more has probability under 2%
