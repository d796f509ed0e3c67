"""Effort and duration distributions, as they are written in scenario files.

Each distribution is a small frozen pydantic model, selected in YAML by its ``dist`` key
(``{dist: lognormal, mean: 8, sd: 4}``). Every model offers:

* ``mean`` – the distribution's mean, in the unit of the field that holds it;
* ``cdf(x)`` and ``residual(elapsed, u)`` – what is left of a duration already under way for
  ``elapsed`` (drawn conditioned on exceeding it), for a forecast from today's caseload;
* ``ppf(u)`` – the inverse CDF, vectorised, used to turn common uniforms into case attributes
  (so that two scenarios with different effort parameters still share their randomness);
* ``sample(rng, size)`` – direct draws from a numpy ``Generator`` for the few values drawn
  while a replication runs (leave durations, say).

The models never seed anything: randomness is passed in (see :mod:`sim.engine.streams`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from numpy.random import Generator
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Triangular",
    "Uniform",
    "Weibull",
]

FloatArray = NDArray[np.float64]


MAX_PARAMETER = 1e6
"""Largest mean, sd or value a distribution may have (hours or days: a million is 114 years)."""
PositiveFloat = Annotated[float, Field(gt=0, le=MAX_PARAMETER)]


class _Stats:
    """``scipy.stats``, imported on first use: loading a scenario file does not need it."""

    def __getattr__(self, name: str) -> Any:
        from scipy import stats as module

        return getattr(module, name)


stats: Any = _Stats()


class _Dist(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, strict=True)

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @property
    def second_moment(self) -> float:
        """E[X²], used by queueing formulas."""
        raise NotImplementedError  # pragma: no cover

    def ppf(self, u: ArrayLike) -> FloatArray:  # pragma: no cover
        raise NotImplementedError

    def cdf(self, x: ArrayLike) -> FloatArray:  # pragma: no cover
        """P(X <= x), vectorised."""
        raise NotImplementedError

    def residual(self, elapsed: ArrayLike, u: ArrayLike) -> FloatArray:
        """What is left of X beyond ``elapsed``, given X > ``elapsed``, by inversion of ``u``.

        Draws X from the distribution conditioned on exceeding ``elapsed`` (``ppf`` of a uniform
        on ``(F(elapsed), 1)``) and returns ``X - elapsed``. Where ``elapsed`` is already beyond
        every value the distribution allows, nothing is left (0).
        """
        elapsed = np.asarray(elapsed, dtype=float)
        below = self.cdf(elapsed)
        beyond = below >= 1.0 - 1e-12
        level = np.where(beyond, 0.5, below + np.asarray(u, dtype=float) * (1.0 - below))
        left = np.maximum(self.ppf(level) - elapsed, 0.0)
        return np.where(beyond, 0.0, left)

    def sample(self, rng: Generator, size: int | None = None) -> FloatArray:
        """Draw ``size`` values by inversion of ``rng.random(size)``."""
        return self.ppf(rng.random(size))

    def draw(self, rng: Generator) -> float:
        """One draw, as a float (for the rare draws made while a replication runs)."""
        return float(self.ppf(rng.random()))


class Exponential(_Dist):
    """Exponential with the given mean."""

    dist: Literal["exponential"]
    mean_: PositiveFloat = Field(alias="mean")

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def second_moment(self) -> float:
        return 2.0 * self.mean_**2

    def cdf(self, x: ArrayLike) -> FloatArray:
        return -np.expm1(-np.maximum(np.asarray(x, dtype=float), 0.0) / self.mean_)

    def ppf(self, u: ArrayLike) -> FloatArray:
        return -self.mean_ * np.log1p(-np.asarray(u, dtype=float))


class Lognormal(_Dist):
    """Lognormal given by its own mean and standard deviation (not those of its logarithm)."""

    dist: Literal["lognormal"]
    mean_: PositiveFloat = Field(alias="mean")
    sd: PositiveFloat

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def second_moment(self) -> float:
        return self.sd**2 + self.mean_**2

    @property
    def _params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2.0, math.sqrt(sigma2)

    def cdf(self, x: ArrayLike) -> FloatArray:
        from scipy import stats  # imported when first used: it is slow to import

        mu, sigma = self._params
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            z = (np.log(np.maximum(x, 0.0)) - mu) / sigma
        return np.asarray(stats.norm.cdf(z), dtype=float)

    def ppf(self, u: ArrayLike) -> FloatArray:
        from scipy.special import ndtri  # the normal quantile (what stats.norm.ppf computes)

        mu, sigma = self._params
        return np.exp(mu + sigma * ndtri(np.asarray(u, dtype=float)))


class Gamma(_Dist):
    """Gamma given by its mean and standard deviation."""

    dist: Literal["gamma"]
    mean_: PositiveFloat = Field(alias="mean")
    sd: PositiveFloat

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def second_moment(self) -> float:
        return self.sd**2 + self.mean_**2

    @property
    def _params(self) -> tuple[float, float]:
        """scipy's shape and scale for this mean and standard deviation."""
        return (self.mean_ / self.sd) ** 2, self.sd**2 / self.mean_

    def cdf(self, x: ArrayLike) -> FloatArray:
        from scipy import stats  # imported when first used: it is slow to import

        shape, scale = self._params
        return np.asarray(stats.gamma.cdf(x, shape, scale=scale), dtype=float)

    def ppf(self, u: ArrayLike) -> FloatArray:
        from scipy import stats  # imported when first drawn: it takes half a second

        shape, scale = self._params
        return np.asarray(stats.gamma.ppf(u, shape, scale=scale), dtype=float)


class Weibull(_Dist):
    """Weibull with the given shape (k) and scale (in the field's unit)."""

    dist: Literal["weibull"]
    shape: PositiveFloat
    scale: PositiveFloat

    @property
    def mean(self) -> float:
        return self.scale * math.gamma(1.0 + 1.0 / self.shape)

    @property
    def second_moment(self) -> float:
        return self.scale**2 * math.gamma(1.0 + 2.0 / self.shape)

    def cdf(self, x: ArrayLike) -> FloatArray:
        z = np.maximum(np.asarray(x, dtype=float), 0.0) / self.scale
        return -np.expm1(-(z**self.shape))

    def ppf(self, u: ArrayLike) -> FloatArray:
        return self.scale * (-np.log1p(-np.asarray(u, dtype=float))) ** (1.0 / self.shape)


class Uniform(_Dist):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: float = Field(ge=0, le=MAX_PARAMETER)
    high: float = Field(gt=0, le=MAX_PARAMETER)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    @property
    def second_moment(self) -> float:
        return (self.low**2 + self.low * self.high + self.high**2) / 3.0

    def cdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def ppf(self, u: ArrayLike) -> FloatArray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)


class Triangular(_Dist):
    """Triangular on [low, high] with the given mode."""

    dist: Literal["triangular"]
    low: float = Field(ge=0, le=MAX_PARAMETER)
    mode: float = Field(ge=0, le=MAX_PARAMETER)
    high: float = Field(gt=0, le=MAX_PARAMETER)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError("need low <= mode <= high and low < high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3.0

    @property
    def second_moment(self) -> float:
        a, c, b = self.low, self.mode, self.high
        var = (a * a + b * b + c * c - a * b - a * c - b * c) / 18.0
        return var + self.mean**2

    def cdf(self, x: ArrayLike) -> FloatArray:
        from scipy import stats  # imported when first used: it is slow to import

        width = self.high - self.low
        c = (self.mode - self.low) / width
        return np.asarray(stats.triang.cdf(x, c, loc=self.low, scale=width), dtype=float)

    def ppf(self, u: ArrayLike) -> FloatArray:
        from scipy import stats

        width = self.high - self.low
        c = (self.mode - self.low) / width
        return np.asarray(stats.triang.ppf(u, c, loc=self.low, scale=width), dtype=float)


class Fixed(_Dist):
    """Always the same value."""

    dist: Literal["fixed"]
    value: float = Field(ge=0, le=MAX_PARAMETER)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def second_moment(self) -> float:
        return self.value**2

    def cdf(self, x: ArrayLike) -> FloatArray:
        return np.where(np.asarray(x, dtype=float) >= self.value, 1.0, 0.0)

    def ppf(self, u: ArrayLike) -> FloatArray:
        return np.full(np.shape(u), self.value, dtype=float)


class Empirical(_Dist):
    """Resampling of observed values, optionally weighted."""

    dist: Literal["empirical"]
    values: list[Annotated[float, Field(ge=0, le=MAX_PARAMETER)]] = Field(
        min_length=1, max_length=10_000
    )
    weights: list[PositiveFloat] | None = None

    @model_validator(mode="after")
    def _matching(self) -> Empirical:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError("weights must have one entry per value")
        return self

    def _table(self) -> tuple[FloatArray, FloatArray]:
        values = np.asarray(self.values, dtype=float)
        weights = np.ones_like(values) if self.weights is None else np.asarray(self.weights)
        order = np.argsort(values, kind="stable")
        cumulative = np.cumsum(weights[order])
        return values[order], cumulative / cumulative[-1]

    @property
    def mean(self) -> float:
        values, cdf = self._table()
        return float(np.dot(values, np.diff(cdf, prepend=0.0)))

    @property
    def second_moment(self) -> float:
        values, cdf = self._table()
        return float(np.dot(values**2, np.diff(cdf, prepend=0.0)))

    def cdf(self, x: ArrayLike) -> FloatArray:
        values, cdf = self._table()
        index = np.searchsorted(values, np.asarray(x, dtype=float), side="right")
        return np.where(index > 0, cdf[np.maximum(index - 1, 0)], 0.0)

    def ppf(self, u: ArrayLike) -> FloatArray:
        values, cdf = self._table()
        index = np.searchsorted(cdf, np.asarray(u, dtype=float), side="right")
        return values[np.minimum(index, len(values) - 1)]


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Weibull | Uniform | Triangular | Fixed | Empirical,
    Field(discriminator="dist"),
]
"""Any distribution a scenario file may name, chosen by its ``dist`` key."""
