"""Referral arrivals: a Poisson regression of daily counts with growth and seasonality.

The intensity is the scenario's own form (:meth:`sim.scenario.Arrivals.rate_per_day`):
``λ(t) = r/365 · (1+g)^(t/365) · (1 + A cos(2π(t − peak)/365))``, fitted by maximum likelihood to
the counts of each whole day of the log (``scipy.optimize`` on the Poisson log-likelihood,
written here: the link is not a GLM's). Growth and seasonality are kept only when a
likelihood-ratio test rejects their absence at 5% (χ² with 1 and 2 degrees of freedom); the rate
and growth get profile-likelihood 95% intervals; the seasonal amplitude a Wald interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = ["ArrivalsFit", "fit_arrivals"]

_CHI2_1 = float(stats.chi2.ppf(0.95, 1))


@dataclass(frozen=True)
class ArrivalsFit:
    """The chosen arrivals model and the tests behind it.

    Attributes:
        rate_per_year, rate_ci: referrals a year at day 0 and its 95% interval.
        growth_per_year, growth_ci: compound yearly growth (0 when not significant).
        amplitude, peak_day: seasonality (0 and 0 when not significant).
        growth_p, seasonality_p: likelihood-ratio tests' p-values (absence vs presence).
        days, counts, fitted: the daily series and the fitted expected counts (for the report).
        n: referrals counted.
    """

    rate_per_year: float
    rate_ci: tuple[float, float]
    growth_per_year: float
    growth_ci: tuple[float, float]
    amplitude: float
    amplitude_ci: tuple[float, float]
    peak_day: float
    growth_p: float
    seasonality_p: float
    growth_kept: bool
    seasonality_kept: bool
    days: np.ndarray
    counts: np.ndarray
    fitted: np.ndarray
    n: int

    def scenario(self) -> dict[str, object]:
        """The ``cases.arrivals`` mapping of a scenario file."""
        out: dict[str, object] = {
            "rate_per_year": float(f"{self.rate_per_year:.4g}"),
            "growth_per_year": float(f"{self.growth_per_year:.4g}"),
        }
        if self.seasonality_kept:
            out["seasonality"] = {
                "amplitude": float(f"{self.amplitude:.3g}"),
                "peak_day": float(f"{self.peak_day % 365.0:.1f}"),
            }
        return out


def _expected(theta: np.ndarray, t: np.ndarray, growth: bool, season: bool) -> np.ndarray:
    log_rate, log_growth, c, s = theta
    log_mu = log_rate - math.log(365.0) + (log_growth * t / 365.0 if growth else 0.0)
    mu = np.exp(log_mu) * np.ones_like(t)
    if season:
        phase = 2.0 * math.pi * t / 365.0
        mu = mu * (1.0 + c * np.cos(phase) + s * np.sin(phase))
    return np.asarray(mu)


def _negloglik(
    theta: np.ndarray, t: np.ndarray, y: np.ndarray, growth: bool, season: bool
) -> float:
    if season and math.hypot(theta[2], theta[3]) >= 0.99:
        return 1e12
    mu = _expected(theta, t, growth, season)
    return float(np.sum(mu - y * np.log(np.maximum(mu, 1e-300))))


def _fit(
    t: np.ndarray, y: np.ndarray, growth: bool, season: bool, fixed: dict[int, float] | None = None
) -> tuple[np.ndarray, float]:
    """Maximise the likelihood over the free parameters (``fixed``: index → held value)."""
    fixed = fixed or {}
    theta0 = np.array([math.log(max(y.mean(), 1e-3) * 365.0), 0.0, 0.0, 0.0])
    free = [i for i in range(4) if i not in fixed and (i != 1 or growth) and (i < 2 or season)]

    def full(x: np.ndarray) -> np.ndarray:
        theta = theta0.copy()
        theta[free] = x
        for i, v in fixed.items():
            theta[i] = v
        return theta

    if not free:
        theta = full(np.empty(0))
        return theta, _negloglik(theta, t, y, growth, season)
    res = optimize.minimize(
        lambda x: _negloglik(full(x), t, y, growth, season),
        theta0[free],
        method="Nelder-Mead" if season else "BFGS",
        options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000} if season else {"gtol": 1e-7},
    )
    return full(res.x), float(res.fun)


def _profile(
    t: np.ndarray, y: np.ndarray, index: int, theta: np.ndarray, best: float, g: bool, s: bool
) -> tuple[float, float]:
    def gap(value: float) -> float:
        return 2.0 * (_fit(t, y, g, s, {index: value})[1] - best) - _CHI2_1

    centre = float(theta[index])
    bounds = []
    for direction in (-1.0, 1.0):
        step = 0.02
        while gap(centre + direction * step) < 0 and step < 5:
            step *= 2.0
        bounds.append(optimize.brentq(gap, *sorted((centre, centre + direction * step)), xtol=1e-6))
    return bounds[0], bounds[1]


def fit_arrivals(referral_days: np.ndarray, end_day: float, alpha: float = 0.05) -> ArrivalsFit:
    """Fit the arrivals model to the referrals' days over ``[0, end_day)``.

    Args:
        referral_days: each referral's day since the log's start.
        end_day: the log's end (only whole days before it are counted).
        alpha: the level of the likelihood-ratio tests for growth and seasonality.
    """
    whole = math.floor(end_day)
    counts = np.bincount(
        np.floor(referral_days[referral_days < whole]).astype(np.int64), minlength=whole
    ).astype(float)
    t = np.arange(whole) + 0.5
    _, nll0 = _fit(t, counts, False, False)
    _, nll_g = _fit(t, counts, True, False)
    _, nll_s = _fit(t, counts, False, True)
    _, nll_gs = _fit(t, counts, True, True)
    # each test compares the model with and without the term, the other term as chosen
    season_p = float(stats.chi2.sf(max(2.0 * (nll0 - nll_s), 0.0), 2))
    growth_p = float(stats.chi2.sf(max(2.0 * (nll0 - nll_g), 0.0), 1))
    season = season_p < alpha
    if season:
        growth_p = float(stats.chi2.sf(max(2.0 * (nll_s - nll_gs), 0.0), 1))
    growth = growth_p < alpha
    if growth:
        season_p = float(stats.chi2.sf(max(2.0 * (nll_g - nll_gs), 0.0), 2))
        season = season_p < alpha
    theta, best = _fit(t, counts, growth, season)
    log_rate_ci = _profile(t, counts, 0, theta, best, growth, season)
    rate_ci = (math.exp(log_rate_ci[0]), math.exp(log_rate_ci[1]))
    if growth:
        lg = _profile(t, counts, 1, theta, best, growth, season)
        growth_ci = (math.expm1(lg[0]), math.expm1(lg[1]))
    else:
        # the interval of the full model, to show what "not significant" allows
        theta_full, best_full = _fit(t, counts, True, season)
        lg = _profile(t, counts, 1, theta_full, best_full, True, season)
        growth_ci = (math.expm1(lg[0]), math.expm1(lg[1]))
    amplitude = math.hypot(theta[2], theta[3]) if season else 0.0
    peak = (math.atan2(theta[3], theta[2]) * 365.0 / (2.0 * math.pi)) % 365.0 if season else 0.0
    if season:
        # Wald interval from the information of the (c, s) pair, delta method for the amplitude
        mu = _expected(theta, t, growth, season)
        base = mu / (
            1.0
            + theta[2] * np.cos(2 * math.pi * t / 365)
            + theta[3] * np.sin(2 * math.pi * t / 365)
        )
        grads = np.vstack(
            (base * np.cos(2 * math.pi * t / 365), base * np.sin(2 * math.pi * t / 365))
        )
        info = (grads / mu) @ (grads * 1.0).T
        cov = np.linalg.inv(info)
        direction = np.array([theta[2], theta[3]]) / max(amplitude, 1e-12)
        se = math.sqrt(float(direction @ cov @ direction))
        amplitude_ci = (max(amplitude - 1.96 * se, 0.0), amplitude + 1.96 * se)
    else:
        amplitude_ci = (0.0, 0.0)
    return ArrivalsFit(
        rate_per_year=math.exp(theta[0]),
        rate_ci=rate_ci,
        growth_per_year=math.expm1(theta[1]) if growth else 0.0,
        growth_ci=growth_ci,
        amplitude=amplitude,
        amplitude_ci=amplitude_ci,
        peak_day=peak,
        growth_p=growth_p,
        seasonality_p=season_p,
        growth_kept=growth,
        seasonality_kept=season,
        days=t,
        counts=counts,
        fitted=_expected(theta, t, growth, season),
        n=int(counts.sum()),
    )
