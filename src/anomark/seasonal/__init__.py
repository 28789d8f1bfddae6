"""Causal seasonal baselines: each value against the same slot of the previous periods.

A taxi count that is normal for a Sunday is anomalous on a Thursday; a detector that reads one
day at a time (a one-day shingle) cannot tell a public holiday from a weekend.
:class:`SeasonalResidual` adds, next to each column, the column

.. math:: r_t = x_t - \\operatorname{median}(x_{t-P}, x_{t-2P}, \\dots, x_{t-KP})

(``P`` rows per period, ``K = n_periods``; the median over the earlier periods that exist,
``r_t = 0`` before the first one or while no period is chosen). It depends on rows ``<= t``
only, so it never looks ahead; the detectors use it through their ``seasonal=`` parameter.
The median of the same slot over the last few periods is the classical robust seasonal
baseline (a "seasonal naive" forecast made robust to one unusual period); ``K = 4`` weeks is
about a month of history.

``period="auto"`` chooses the period as the rows arrive, so that the choice never looks ahead
either. Its candidates are one day and one week of samples (at the median spacing of the rows);
a candidate is considered once the stream holds three of its periods (the correlation below
then compares at least one whole period with the next), and the choice is made each time a
candidate becomes eligible (three days, then three weeks) from all the rows seen so far: the
candidate whose *seasonal autocorrelation* reaches ``0.5`` (a week only when its ``1 -
autocorrelation`` is at most 0.8 times the day's: a daily pattern repeats every week too),
else none (the residual stays 0). The seasonal autocorrelation is the correlation between
each value and the value one period later after removing a moving average over one period
(the trend estimate of a classical decomposition, so that a trend or a level shift does not
look seasonal); ``0.5`` means the repeating pattern carries about half of the variance, where
the residual is clearly less noisy than the value itself. A detector's batch ``fit`` decides
with all its training rows instead (as its model learns from all of them);
:func:`infer_period` applies that rule to a whole dataset at once. The candidates, the three
periods and the level 0.5 were fixed before any benchmark ran; the 0.8 rule for nested
periods was added when a purely daily test series picked its own weekly echo (a tie broken
by rounding), not from benchmark scores.
"""

from __future__ import annotations

from anomark.seasonal._period import (
    DEFAULT_CANDIDATES,
    LONGER_PERIOD_GAIN,
    MIN_AUTOCORRELATION,
    MIN_CYCLES,
    SUFFIX,
    infer_period,
    residuals,
    seasonal_autocorrelation,
)
from anomark.seasonal._stage import DEFAULT_SEASONAL, SeasonalResidual, parse_seasonal

__all__ = [
    "DEFAULT_CANDIDATES",
    "DEFAULT_SEASONAL",
    "LONGER_PERIOD_GAIN",
    "MIN_AUTOCORRELATION",
    "MIN_CYCLES",
    "SUFFIX",
    "SeasonalResidual",
    "infer_period",
    "parse_seasonal",
    "residuals",
    "seasonal_autocorrelation",
]
