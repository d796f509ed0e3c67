"""Fitting duration distributions to censored records, and choosing a family by AIC.

A duration sample is exact values, right-censored values (still running at the log's end) and,
for logs that record dates only, intervals (known to a day). Each candidate family
(exponential, lognormal, gamma, Weibull) is fitted by maximum likelihood with
``scipy.stats.<family>.fit`` on a :class:`scipy.stats.CensoredData`, then polished on the same
likelihood parametrised by (mean, shape), from which profile-likelihood confidence intervals for
the mean (and the standard deviation) follow. The family with the lowest AIC is chosen; the
runner-up is kept for the report. Kaplan–Meier comes from ``scipy.stats.ecdf``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "FAMILIES",
    "DurationFit",
    "DurationSample",
    "FamilyFit",
    "fit_durations",
    "kaplan_meier",
]

FAMILIES = ("exponential", "lognormal", "gamma", "weibull")
CHI2_95 = float(stats.chi2.ppf(0.95, 1))


@dataclass(frozen=True)
class DurationSample:
    """Durations (days or hours): exact, ``right``-censored, and ``low``–``high`` intervals."""

    observed: np.ndarray
    right: np.ndarray = field(default_factory=lambda: np.empty(0))
    low: np.ndarray = field(default_factory=lambda: np.empty(0))
    high: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n(self) -> int:
        return len(self.observed) + len(self.right) + len(self.low)

    @property
    def n_censored(self) -> int:
        return len(self.right)

    def censored_data(self) -> stats.CensoredData:
        """The sample as scipy's :class:`~scipy.stats.CensoredData`."""
        return stats.CensoredData(
            uncensored=self.observed,
            right=self.right,
            interval=np.column_stack((self.low, self.high)) if len(self.low) else None,
        )

    def points(self) -> np.ndarray:
        """Every value, an interval by its midpoint (for plots and starting values)."""
        return np.concatenate((self.observed, self.right, (self.low + self.high) / 2.0))


def _frozen(family: str, mean: float, shape: float) -> Any:
    """The scipy distribution of ``family`` with the given mean and shape parameter."""
    if family == "exponential":
        return stats.expon(scale=mean)
    if family == "lognormal":
        return stats.lognorm(s=shape, scale=mean * math.exp(-(shape**2) / 2.0))
    if family == "gamma":
        return stats.gamma(a=shape, scale=mean / shape)
    if family == "weibull":
        return stats.weibull_min(c=shape, scale=mean / special.gamma(1.0 + 1.0 / shape))
    raise ValueError(f"unknown family {family!r}")


def _logpdf_logsf_cdf(
    family: str, mean: float, shape: float
) -> tuple[
    Callable[[np.ndarray], np.ndarray],
    Callable[[np.ndarray], np.ndarray],
    Callable[[np.ndarray], np.ndarray],
]:
    """Closed forms of log f, log S and F (the likelihood is evaluated thousands of times)."""
    if family == "exponential":
        return (
            lambda x: -math.log(mean) - x / mean,
            lambda x: -x / mean,
            lambda x: -np.expm1(-x / mean),
        )
    if family == "lognormal":
        mu, sigma = math.log(mean) - shape * shape / 2.0, shape
        norm = math.log(sigma * math.sqrt(2.0 * math.pi))
        return (
            lambda x: -np.log(x) - norm - (np.log(x) - mu) ** 2 / (2.0 * sigma * sigma),
            lambda x: special.log_ndtr(-(np.log(x) - mu) / sigma),
            lambda x: special.ndtr((np.log(np.maximum(x, 1e-300)) - mu) / sigma),
        )
    if family == "gamma":
        k, theta = shape, mean / shape
        const = special.gammaln(k) + k * math.log(theta)
        return (
            lambda x: (k - 1.0) * np.log(x) - x / theta - const,
            lambda x: np.log(np.maximum(special.gammaincc(k, x / theta), 1e-300)),
            lambda x: special.gammainc(k, x / theta),
        )
    k = shape
    lam = mean / special.gamma(1.0 + 1.0 / k)
    return (
        lambda x: math.log(k / lam) + (k - 1.0) * np.log(x / lam) - (x / lam) ** k,
        lambda x: -((x / lam) ** k),
        lambda x: -np.expm1(-((x / lam) ** k)),
    )


def _loglik(family: str, mean: float, shape: float, sample: DurationSample) -> float:
    if not (mean > 0 and shape > 0 and math.isfinite(mean) and math.isfinite(shape)):
        return -1e300
    logpdf, logsf, cdf = _logpdf_logsf_cdf(family, mean, shape)
    with np.errstate(all="ignore"):
        total = float(np.sum(logpdf(sample.observed)))
        if len(sample.right):
            total += float(np.sum(logsf(sample.right)))
        if len(sample.low):
            mass = cdf(sample.high) - cdf(sample.low)
            total += float(np.sum(np.log(np.maximum(mass, 1e-300))))
    return total if math.isfinite(total) else -1e300


@dataclass(frozen=True)
class FamilyFit:
    """One family's maximum-likelihood fit.

    Attributes:
        family: ``exponential``, ``lognormal``, ``gamma`` or ``weibull``.
        mean, shape: the fitted mean and shape (lognormal σ, gamma k, Weibull k; 1 for the
            exponential).
        loglik, aic: the maximised log-likelihood and Akaike's criterion.
        mean_ci, sd_ci: 95% profile-likelihood intervals for the mean and standard deviation.
        n, n_censored: sample size and how many were right-censored.
    """

    family: str
    mean: float
    shape: float
    loglik: float
    aic: float
    mean_ci: tuple[float, float]
    sd_ci: tuple[float, float]
    n: int
    n_censored: int

    @property
    def frozen(self) -> Any:
        """The fitted scipy distribution."""
        return _frozen(self.family, self.mean, self.shape)

    @property
    def sd(self) -> float:
        return float(self.frozen.std())

    @property
    def n_params(self) -> int:
        return 1 if self.family == "exponential" else 2

    def distribution(self) -> dict[str, Any]:
        """The fit as a scenario file's distribution (``{dist: lognormal, mean, sd}``)."""
        if self.family == "exponential":
            return {"dist": "exponential", "mean": _round(self.mean)}
        if self.family == "weibull":
            scale = self.mean / special.gamma(1.0 + 1.0 / self.shape)
            return {"dist": "weibull", "shape": _round(self.shape), "scale": _round(scale)}
        return {"dist": self.family, "mean": _round(self.mean), "sd": _round(self.sd)}


def _round(value: float) -> float:
    return float(f"{value:.4g}")


def _scipy_start(family: str, sample: DurationSample) -> tuple[float, float]:
    """Starting (mean, shape) from ``scipy.stats`` fitted to the censored sample."""
    data = sample.censored_data()
    points = sample.points()
    mean0 = float(np.mean(points)) if len(points) else 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if family == "exponential":
                _loc, scale = stats.expon.fit(data, floc=0)
                return float(scale), 1.0
            if family == "lognormal":
                s, _loc, scale = stats.lognorm.fit(data, floc=0)
                return float(scale * math.exp(s * s / 2.0)), float(s)
            if family == "gamma":
                a, _loc, scale = stats.gamma.fit(data, floc=0)
                return float(a * scale), float(a)
            c, _loc, scale = stats.weibull_min.fit(data, floc=0)
            return float(scale * special.gamma(1.0 + 1.0 / c)), float(c)
    except (ValueError, RuntimeError, FloatingPointError):
        return mean0, 1.0


def _profile_interval(
    objective: Callable[[float], float], best: float, at: float, span: float = 8.0
) -> tuple[float, float]:
    """Where ``2 (best − objective(x)) = χ²₁(0.95)`` on either side of ``at`` (log scale)."""

    def gap(log_x: float) -> float:
        return 2.0 * (best - objective(math.exp(log_x))) - CHI2_95

    centre = math.log(at)
    bounds = []
    for direction in (-1.0, 1.0):
        step = 0.05
        edge = centre + direction * step
        while gap(edge) < 0 and step < span:
            step *= 2.0
            edge = centre + direction * step
        if gap(edge) < 0:
            bounds.append(math.exp(edge))
            continue
        root = optimize.brentq(gap, *sorted((centre, edge)), xtol=1e-3)
        bounds.append(math.exp(root))
    return bounds[0], bounds[1]


def _fit_family(family: str, sample: DurationSample) -> FamilyFit:
    mean0, shape0 = _scipy_start(family, sample)
    if not (math.isfinite(mean0) and mean0 > 0):
        mean0 = max(float(np.mean(sample.points())), 1e-6)
    if not (math.isfinite(shape0) and shape0 > 0):
        shape0 = 1.0

    def negative(x: np.ndarray) -> float:
        shape = 1.0 if family == "exponential" else math.exp(x[1])
        return -_loglik(family, math.exp(x[0]), shape, sample)

    x0 = np.array([math.log(mean0), math.log(shape0)])
    if family == "exponential":
        # closed form with censoring: total time over events (intervals at their midpoints)
        res_x = x0
        events = len(sample.observed) + len(sample.low)
        if events:
            res_x = np.array([math.log(sample.points().sum() / events), 0.0])
    else:
        res = optimize.minimize(
            negative,
            x0,
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000},
        )
        res_x = res.x if res.fun <= negative(x0) else x0
    mean, shape = math.exp(res_x[0]), (1.0 if family == "exponential" else math.exp(res_x[1]))
    if family == "exponential" and len(sample.low):
        res = optimize.minimize_scalar(
            lambda lm: -_loglik(family, math.exp(lm), 1.0, sample),
            bracket=(res_x[0] - 0.5, res_x[0] + 0.5),
        )
        mean = math.exp(float(res.x))
    best = _loglik(family, mean, shape, sample)

    def profile_mean(m: float) -> float:
        if family == "exponential":
            return _loglik(family, m, 1.0, sample)
        res = optimize.minimize_scalar(
            lambda ls: -_loglik(family, m, math.exp(ls), sample),
            bounds=(math.log(shape) - 4.0, math.log(shape) + 4.0),
            method="bounded",
            options={"xatol": 1e-4},
        )
        return -float(res.fun)

    mean_ci = _profile_interval(profile_mean, best, mean)
    sd = float(_frozen(family, mean, shape).std())
    if family == "exponential":
        sd_ci = mean_ci
    else:

        def profile_sd(target_sd: float) -> float:
            # with the sd held, each mean fixes the shape; maximise over the mean
            def at_mean(log_m: float) -> float:
                m = math.exp(log_m)
                s = _shape_for(family, m, target_sd)
                return -_loglik(family, m, s, sample) if s > 0 else 1e300

            res = optimize.minimize_scalar(
                at_mean,
                bounds=(math.log(mean) - 3.0, math.log(mean) + 3.0),
                method="bounded",
                options={"xatol": 1e-4},
            )
            return -float(res.fun)

        sd_ci = _profile_interval(profile_sd, best, sd)
    k = 1 if family == "exponential" else 2
    return FamilyFit(
        family=family,
        mean=mean,
        shape=shape,
        loglik=best,
        aic=2.0 * k - 2.0 * best,
        mean_ci=mean_ci,
        sd_ci=sd_ci,
        n=sample.n,
        n_censored=sample.n_censored,
    )


def _shape_for(family: str, mean: float, sd: float) -> float:
    """The shape parameter giving ``family`` this mean and standard deviation."""
    cv = sd / mean
    if family == "lognormal":
        return math.sqrt(math.log1p(cv * cv))
    if family == "gamma":
        return 1.0 / (cv * cv)
    if family == "weibull":

        def gap(log_k: float) -> float:
            k = math.exp(log_k)
            g1, g2 = special.gamma(1 + 1 / k), special.gamma(1 + 2 / k)
            return math.sqrt(max(g2 / (g1 * g1) - 1.0, 0.0)) - cv

        try:
            return math.exp(optimize.brentq(gap, math.log(0.05), math.log(50.0)))
        except ValueError:
            return -1.0
    return 1.0


@dataclass(frozen=True)
class DurationFit:
    """Every candidate family's fit, best (lowest AIC) first."""

    fits: list[FamilyFit]

    @property
    def best(self) -> FamilyFit:
        return self.fits[0]

    @property
    def runner_up(self) -> FamilyFit | None:
        return self.fits[1] if len(self.fits) > 1 else None


def fit_durations(sample: DurationSample, families: tuple[str, ...] = FAMILIES) -> DurationFit:
    """Fit each family to a (censored) sample and order them by AIC.

    Raises:
        ValueError: when the sample has no completed durations to fit.
    """
    if len(sample.observed) + len(sample.low) < 2:
        raise ValueError("fewer than two completed durations")
    sample = DurationSample(
        observed=np.maximum(np.asarray(sample.observed, dtype=float), 1e-6),
        right=np.maximum(np.asarray(sample.right, dtype=float), 1e-6),
        low=np.asarray(sample.low, dtype=float),
        high=np.asarray(sample.high, dtype=float),
    )
    fits = [_fit_family(f, sample) for f in families]
    return DurationFit(sorted(fits, key=lambda f: f.aic))


def kaplan_meier(sample: DurationSample) -> tuple[np.ndarray, np.ndarray]:
    """The Kaplan–Meier estimate of the CDF: (times, F(t)) at each observed time.

    Intervals count as exact at their midpoints (a day's rounding).
    """
    exact = np.concatenate((sample.observed, (sample.low + sample.high) / 2.0))
    data = stats.CensoredData(uncensored=exact, right=sample.right)
    result = stats.ecdf(data)
    return np.asarray(result.cdf.quantiles), np.asarray(result.cdf.probabilities)
