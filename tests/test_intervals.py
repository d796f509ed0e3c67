"""The confidence intervals of the summaries are scipy.stats' own, computed without importing it.

``mean_ci`` and ``proportion_ci`` run in every command that summarises replications; they use
``scipy.special`` so that the commands need not import ``scipy.stats`` (half a second). Their
results must be scipy.stats' bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.analysis.statistics import mean_ci, proportion_ci, wilson_interval


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_the_wilson_interval_is_scipys(confidence: float) -> None:
    """Every k of n trials (n from 1 to 250) gives scipy's Wilson interval exactly."""
    for n in (1, 2, 3, 7, 10, 30, 200, 250):
        for k in range(n + 1):
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
            assert wilson_interval(k, n, confidence) == (float(ci.low), float(ci.high)), (k, n)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_mean_and_proportion_intervals_are_scipys(confidence: float) -> None:
    """The Student-t interval of a mean and the Wilson interval of an indicator equal scipy's."""
    rng = np.random.default_rng(11)
    for n in (2, 3, 10, 40, 200, 1000):
        x = rng.lognormal(1.0, 0.8, n)
        mean, sd, low, high, count = mean_ci(x, confidence)
        expected = stats.t.interval(
            confidence, n - 1, loc=x.mean(), scale=x.std(ddof=1) / np.sqrt(n)
        )
        assert (low, high) == (float(expected[0]), float(expected[1]))
        assert count == n and mean == float(x.mean()) and sd == float(x.std(ddof=1))
        flags = (rng.random(n) < 0.2).astype(float)
        k = int(flags.sum())
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        assert proportion_ci(flags, confidence)[2:4] == (float(ci.low), float(ci.high))
