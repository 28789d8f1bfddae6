"""RunningZScore: standardise each score against the scores before it."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from anomark._validation import Constraint, Interval
from anomark.postprocess._base import PostProcessor

__all__ = ["RunningZScore"]

#: Rows per block of the vectorised running moments (re-centred per block for accuracy).
_BLOCK = 4096


class RunningZScore(PostProcessor):
    """``(score - mean) / sd`` of the scores *before* each one (all of them, or a window).

    Causal: row ``t`` is standardised with the mean and (population) standard deviation of
    scores ``< t`` only, so a spike is measured against what came before it, not against
    itself or the future. Scores differ in scale between detectors and series; after this
    step one threshold (e.g. ``3``) can serve them all.

    Parameters
    ----------
    window : int or None, default None
        Standardise against the last ``window`` earlier scores (a sliding window, which
        follows drift) or, with ``None``, against all earlier scores (running moments).
    min_periods : int, default 2
        Rows with fewer earlier scores than this output ``0``.
    burn_in : int, default 0
        The first ``burn_in`` scores of the stream output ``0`` and are left out of the
        moments: the first scores of a detector that is still learning (a streaming forest
        filling its samples) are often far off and would inflate the standard deviation for
        the rest of the stream.

    Notes
    -----
    Rows whose earlier scores have no spread (all equal, or a standard deviation below
    ``1e-12`` of their mean) output ``0``: there is nothing to measure a deviation against
    yet. The moments are computed blockwise with re-centred cumulative sums: one ``update``
    over a stream equals any chunking of it up to rounding (about 1e-12 relative). A window
    that far larger deviations have just left (the running sum of squares holds over 1e4
    times the window's own) is summed directly instead, as the running sums would cancel
    its digits (a score 1e8 sd off left nothing of the spread after it).

    Examples
    --------
    >>> import numpy as np
    >>> from anomark.postprocess import RunningZScore
    >>> z = RunningZScore().update(np.array([1.0, 2.0, 1.0, 2.0, 6.0]))
    >>> float(z[-1])            # earlier scores: mean 1.5, sd 0.5
    9.0
    >>> z = RunningZScore(burn_in=2).update(np.array([50.0, 9.0, 1.0, 2.0, 1.0, 2.0, 6.0]))
    >>> z.round(2).tolist()     # 50 and 9 are left out: the last row is again 9 sd above
    [0.0, 0.0, 0.0, 0.0, -1.0, 1.41, 9.0]
    """

    name: ClassVar[str] = "zscore"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "window": [Interval(int, 2, None), None],
        "min_periods": [Interval(int, 1, None)],
        "burn_in": [Interval(int, 0, None)],
    }
    _scalar_state: ClassVar[tuple[str, ...]] = ("count_", "mean_", "m2_")
    _array_state: ClassVar[tuple[str, ...]] = ("history_",)

    def __init__(self, window: int | None = None, min_periods: int = 2, burn_in: int = 0) -> None:
        self.window = window
        self.min_periods = min_periods
        self.burn_in = burn_in

    def _check_params(self) -> None:
        super()._check_params()
        if self.window is not None and self.min_periods > self.window:
            from anomark.errors import ConfigurationError

            raise ConfigurationError(
                f"RunningZScore: min_periods ({self.min_periods}) cannot exceed window "
                f"({self.window})"
            )

    def _start(self, n_columns: int | None) -> None:
        self.n_seen_ = 0
        self.count_ = 0
        self.mean_ = 0.0
        self.m2_ = 0.0
        self.history_: np.ndarray | None = None if self.window is None else np.empty(0)

    def _check_state(self) -> None:
        if self.window is None:
            if self.history_ is not None:
                raise ValueError("a RunningZScore over all earlier scores keeps no history")
            counted = max(self.n_seen_ - int(self.burn_in), 0)
            if self.count_ != counted or self.m2_ < 0:
                raise ValueError("count_ must equal the rows seen after the burn-in, m2_ >= 0")
        else:
            if self.history_ is None or self.history_.ndim != 1:
                raise ValueError("a windowed RunningZScore needs its history array")
            expected = min(max(self.n_seen_ - int(self.burn_in), 0), int(self.window))
            if len(self.history_) != expected:
                raise ValueError(
                    f"history holds {len(self.history_)} scores, expected {expected}"
                )

    def _update(self, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        skip = min(max(int(self.burn_in) - int(self.n_seen_), 0), len(scores))
        out = np.zeros(len(scores))
        if skip:  # burn-in rows: output 0, not counted
            self.n_seen_ += skip
            scores = scores[skip:]
        if len(scores):
            update = self._update_all if self.window is None else self._update_window
            out[skip:] = update(scores)
            self.n_seen_ += len(scores)
        return out

    @staticmethod
    def _z(scores: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        std = np.sqrt(np.maximum(var, 0.0))
        spread = std > 1e-12 * np.maximum(np.abs(mean), 1e-300)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (scores - mean) / np.where(spread, std, 1.0)
        return np.where(spread, z, 0.0)

    def _update_all(self, scores: np.ndarray) -> np.ndarray:
        out = np.empty(len(scores))
        count, mean, m2 = int(self.count_), float(self.mean_), float(self.m2_)
        min_periods = int(self.min_periods)
        for b in range(0, len(scores), _BLOCK):
            s = scores[b : b + _BLOCK]
            shift = mean if count else float(s[0])
            d = s - shift
            # moments of the scores before each row of the block: history + block[:j]
            s1 = np.concatenate(([0.0], np.cumsum(d)))
            s2 = np.concatenate(([0.0], np.cumsum(d * d)))
            # history deviations from `shift` sum to 0 (shift = its mean) with squares m2
            n = count + np.arange(len(s) + 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mu = np.where(n > 0, shift + s1 / np.maximum(n, 1), shift)
                size = np.maximum(n, 1)
                var = np.where(n > 0, (m2 + s2 - s1 * s1 / size) / size, 0.0)
            z = self._z(s, mu[:-1], var[:-1])
            z[n[:-1] < min_periods] = 0.0
            out[b : b + len(s)] = z
            count = int(n[-1])
            mean = float(mu[-1])
            m2 = max(float(var[-1] * count), 0.0)
        self.count_, self.mean_, self.m2_ = count, mean, m2
        return out

    def _update_window(self, scores: np.ndarray) -> np.ndarray:
        w = int(self.window)  # type: ignore[arg-type]
        min_periods = int(self.min_periods)
        history = np.asarray(self.history_, dtype=np.float64)
        out = np.empty(len(scores))
        for b in range(0, len(scores), _BLOCK):
            s = scores[b : b + _BLOCK]
            ext = np.concatenate((history, s))
            h = len(history)
            # re-centre on earlier scores only (the block's own rows would make the rounding
            # of an output depend on later rows)
            shift = float(history.mean()) if h else float(s[0])
            d = ext - shift
            c1 = np.concatenate(([0.0], np.cumsum(d)))
            c2 = np.concatenate(([0.0], np.cumsum(d * d)))
            pos = h + np.arange(len(s))  # position of each block row in ext
            lo = np.maximum(pos - w, 0)
            cnt = (pos - lo).astype(np.float64)
            safe = np.maximum(cnt, 1.0)
            m1 = (c1[pos] - c1[lo]) / safe
            var = (c2[pos] - c2[lo]) / safe - m1 * m1
            # a window's sums are differences of running sums: once far larger deviations
            # have left the window, the difference cancels their digits (a score 1e8 sd off
            # would leave nothing of the spread after it); such windows are summed directly
            for i in np.flatnonzero(c2[pos] > 1e4 * (c2[pos] - c2[lo])):
                win = d[lo[i] : pos[i]]
                m1[i] = win.mean()
                var[i] = np.mean((win - m1[i]) ** 2)
            z = self._z(s, shift + m1, var)
            z[cnt < min_periods] = 0.0
            out[b : b + len(s)] = z
            history = ext[-w:]
        self.history_ = history.copy()
        self.count_ = len(history)
        self.mean_ = float(history.mean()) if len(history) else 0.0
        self.m2_ = float(((history - self.mean_) ** 2).sum()) if len(history) else 0.0
        return out
