"""AnomalyLikelihood: Numenta's anomaly likelihood (nupic's ``anomaly_likelihood.py``, as NAB
uses it)."""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

import numpy as np

from anomark._validation import Constraint, Interval, Options
from anomark.errors import ConfigurationError
from anomark.postprocess._base import PostProcessor

__all__ = ["AnomalyLikelihood"]

# nupic's constants (anomaly_likelihood.py)
_MIN_MEAN = 0.03  # estimateNormal's lower bound on the mean
_MIN_VARIANCE = 0.0003  # ... and on the variance
_FLAT_METRIC_VARIANCE = 1.5e-5  # input values flatter than this: "not anomalous"
_NULL_MEAN, _NULL_STD = 0.5, 1e3  # nullDistribution
_RED = 1.0 - 0.99999  # _filterLikelihoods' red and yellow zones (tail probabilities)
_YELLOW = 1.0 - 0.999
_LOG_DENOMINATOR = -23.02585084720009  # log(1 - 0.9999999999)
_SQRT2_NUPIC = 1.4142  # nupic divides by 1.4142, not sqrt(2)


def _tail(x: float, mean: float, std: float, both: bool) -> float:
    """Tail probability of ``x`` under ``N(mean, std)``, as nupic computes it (``/ 1.4142``).

    ``both=False``: ``P(X > x)``, the tail of the nupic version that produced NAB's published
    numenta results; ``both=True``: ``P(|X - mean| > |x - mean|)`` (nupic's
    ``tailProbability`` since September 2016).
    """
    if both and x < mean:
        x = 2.0 * mean - x
    return 0.5 * math.erfc((x - mean) / std / _SQRT2_NUPIC)


class AnomalyLikelihood(PostProcessor):
    """Numenta's anomaly likelihood: how unusual the recent average score is.

    A faithful port of nupic's ``AnomalyLikelihood`` (``anomalyProbability`` +
    ``computeLogLikelihood``), the post-processing of NAB's "numenta" detectors:

    1. the first ``learning_period + estimation_samples`` rows output a likelihood of 0.5;
    2. a Gaussian is fitted to the ``averaging_window``-row moving averages of the last
       ``historic_window`` earlier scores (skipping the ``learning_period`` first rows while
       they are still in that window; mean at least 0.03, variance at least 0.0003), and
       re-fitted every ``reestimation_period`` rows;
    3. each row's moving average gets its tail probability under that Gaussian; sustained
       very small probabilities (< 1e-5 twice in a row) are raised to 1e-3 so that only the
       onset of a run stands out, and the likelihood is ``1 - probability``;
    4. with ``log_scale`` the output is nupic's log scale
       ``log(1.0000000001 - likelihood) / log(1e-10)``, between 0 and about 1 (0.5 ≈ a
       tail probability of 1e-5), which is what NAB thresholds.

    When the input values are given (``values=``) and have been flat (variance below 1.5e-5
    over the estimation rows), the distribution is the broad null one, so nothing stands out
    (nupic's rule for constant metrics).

    Parameters
    ----------
    learning_period : int, default 375
        Rows whose scores are ignored while the detector settles (nupic ``learningPeriod``).
    estimation_samples : int, default 375
        Rows (after the learning period) needed for the first estimate. NAB's numenta
        detector uses ``floor(p / 2)`` and ``p - floor(p / 2)`` of the probationary period
        ``p = min(0.15 n, 750)``; the defaults are its values for series of 5000 rows or more.
    historic_window : int, default 8640
        Earlier scores kept for the estimates (nupic's default: a month of 5-minute data).
    reestimation_period : int, default 100
        Rows between re-estimates (NAB's numenta detector).
    averaging_window : int, default 10
        Rows in the moving average of the scores (nupic's default).
    log_scale : bool, default True
        Output nupic's log-scaled likelihood (NAB's final score) instead of the likelihood.
    tail : {"upper", "both"}, default "upper"
        ``"upper"``: the probability of a higher average, as in the nupic version behind
        NAB's published numenta results (this class reproduces their ``anomaly_score`` from
        their ``raw_score`` to 1e-11); ``"both"``: the two-sided tail of later nupic versions
        (an average far *below* the usual one also counts as unlikely).

    Examples
    --------
    >>> import numpy as np
    >>> from anomark.postprocess import AnomalyLikelihood
    >>> rng = np.random.default_rng(0)
    >>> s = rng.normal(1.0, 0.1, 600)
    >>> s[500:510] = 3.0                                    # a burst of high scores
    >>> out = AnomalyLikelihood(learning_period=50, estimation_samples=100).update(s)
    >>> float(out[:150].max()) < 0.05, float(out[500:510].max()) > 0.9
    (True, True)
    """

    name: ClassVar[str] = "likelihood"
    uses_values: ClassVar[bool] = True
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "learning_period": [Interval(int, 0, None)],
        "estimation_samples": [Interval(int, 1, None)],
        "historic_window": [Interval(int, 1, None)],
        "reestimation_period": [Interval(int, 1, None)],
        "averaging_window": [Interval(int, 1, None)],
        "log_scale": [Options(True, False)],
        "tail": [Options("upper", "both")],
    }
    _scalar_state: ClassVar[tuple[str, ...]] = (
        "n_columns_", "dist_mean_", "dist_std_", "ma_total_",
    )
    _array_state: ClassVar[tuple[str, ...]] = (
        "history_", "history_values_", "ma_scores_", "recent_probabilities_",
    )

    def __init__(
        self,
        learning_period: int = 375,
        estimation_samples: int = 375,
        historic_window: int = 8640,
        reestimation_period: int = 100,
        averaging_window: int = 10,
        log_scale: bool = True,
        tail: str = "upper",
    ) -> None:
        self.learning_period = learning_period
        self.estimation_samples = estimation_samples
        self.historic_window = historic_window
        self.reestimation_period = reestimation_period
        self.averaging_window = averaging_window
        self.log_scale = log_scale
        self.tail = tail

    def _check_params(self) -> None:
        super()._check_params()
        if self.historic_window < self.estimation_samples:
            raise ConfigurationError(
                f"AnomalyLikelihood: historic_window ({self.historic_window}) must be at least "
                f"estimation_samples ({self.estimation_samples})"
            )

    # ------------------------------------------------------------------ state
    def _start(self, n_columns: int | None) -> None:
        self.n_seen_ = 0
        self.n_columns_ = None
        self.dist_mean_: float | None = None
        self.dist_std_: float | None = None
        self.ma_total_ = 0.0
        self.history_ = np.empty(0)
        self.history_values_: np.ndarray | None = None
        self.ma_scores_ = np.empty(0)
        self.recent_probabilities_ = np.empty(0)

    def _set_columns(self, n_columns: int) -> None:
        super()._set_columns(n_columns)
        self.history_values_ = np.empty((0, n_columns))

    def _check_state(self) -> None:
        expected = min(self.n_seen_, int(self.historic_window))
        if self.history_ is None or self.history_.shape != (expected,):
            raise ValueError(f"history_ must hold the last {expected} scores")
        if self.n_columns_ is not None:
            if (
                isinstance(self.n_columns_, bool) or not isinstance(self.n_columns_, int)
                or self.n_columns_ < 1 or self.history_values_ is None
                or self.history_values_.shape != (expected, self.n_columns_)
            ):
                raise ValueError("history_values_ must match history_ and n_columns_")
        elif self.history_values_ is not None:
            raise ValueError("history_values_ without n_columns_")
        if (self.dist_mean_ is None) != (self.dist_std_ is None):
            raise ValueError("dist_mean_ and dist_std_ go together")
        if self.dist_std_ is not None and self.dist_std_ <= 0:
            raise ValueError("dist_std_ must be > 0")
        aw = int(self.averaging_window)
        for key in ("ma_scores_", "recent_probabilities_"):
            arr = getattr(self, key)
            if arr is None or arr.ndim != 1 or len(arr) > aw:
                raise ValueError(f"{key} must hold at most {aw} numbers")

    # ------------------------------------------------------------------ algorithm
    def _estimate(
        self, history: np.ndarray, history_values: np.ndarray | None, n_ingested: int
    ) -> tuple[float, float, deque[float], float, deque[float]]:
        """nupic's estimateAnomalyLikelihoods on the historic window (``_calcSkipRecords``)."""
        aw = int(self.averaging_window)
        shifted_out = max(0, n_ingested - int(self.historic_window))
        skip = min(n_ingested, max(0, int(self.learning_period) - shifted_out))
        csum = np.concatenate(([0.0], np.cumsum(history)))
        j = np.arange(len(history))
        lo = np.maximum(j + 1 - aw, 0)
        averages = (csum[j + 1] - csum[lo]) / (j + 1 - lo)
        if len(averages) <= skip:
            mean, std = _NULL_MEAN, _NULL_STD
        else:
            sample = averages[skip:]
            mean = max(float(sample.mean()), _MIN_MEAN)
            std = math.sqrt(max(float(sample.var()), _MIN_VARIANCE))
            if history_values is not None:
                flat = history_values[skip:].var(axis=0)
                if bool((flat < _FLAT_METRIC_VARIANCE).all()):
                    mean, std = _NULL_MEAN, _NULL_STD
        both = self.tail == "both"
        ma = deque((float(v) for v in history[-aw:]), maxlen=aw)
        probabilities = deque((_tail(float(a), mean, std, both) for a in averages[-aw:]), maxlen=aw)
        return mean, std, ma, float(sum(ma)), probabilities

    def _update(self, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        n0 = int(self.n_seen_)
        k = len(scores)
        window = int(self.historic_window)
        aw = int(self.averaging_window)
        probation = int(self.learning_period) + int(self.estimation_samples)
        period = int(self.reestimation_period)
        both = self.tail == "both"
        ext = np.concatenate((self.history_, scores))
        h = len(self.history_)
        vext = None
        if values is not None and self.history_values_ is not None:
            vext = np.concatenate((self.history_values_, values))
        likelihood = np.full(k, 0.5)
        mean, std = self.dist_mean_, self.dist_std_
        ma: deque[float] = deque((float(v) for v in self.ma_scores_), maxlen=aw)
        total = float(self.ma_total_)
        recent: deque[float] = deque((float(v) for v in self.recent_probabilities_), maxlen=aw)
        for j in range(max(0, probation - n0), k):
            i = n0 + j
            if mean is None or i % period == 0:
                p = h + j
                lo = max(0, p - window)
                mean, std, ma, total, recent = self._estimate(
                    ext[lo:p], None if vext is None else vext[lo:p], i
                )
            assert std is not None
            score = float(scores[j])
            # nupic's MovingAverage.compute: drop the oldest, add the new one, running total
            if len(ma) == aw:
                total -= ma[0]
            ma.append(score)
            total += score
            probability = _tail(total / len(ma), mean, std, both)
            previous = recent[-1] if recent else None
            recent.append(probability)
            if previous is not None and probability <= _RED and previous <= _RED:
                probability = _YELLOW  # _filterLikelihoods: only the first red row stays red
            likelihood[j] = 1.0 - probability
        self.dist_mean_, self.dist_std_ = mean, std
        self.ma_scores_ = np.array(ma, dtype=np.float64)
        self.ma_total_ = total
        self.recent_probabilities_ = np.array(recent, dtype=np.float64)
        self.history_ = ext[-window:].copy()
        if vext is not None:
            self.history_values_ = vext[-window:].copy()
        self.n_seen_ = n0 + k
        if self.log_scale:
            return np.log(1.0000000001 - likelihood) / _LOG_DENOMINATOR
        return likelihood
