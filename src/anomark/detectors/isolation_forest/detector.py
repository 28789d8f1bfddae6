"""Isolation Forest on sliding windows (shingles), with scores where higher = more anomalous.

scikit-learn's :class:`~sklearn.ensemble.IsolationForest` grows the trees. Its trees are then
copied into plain numeric arrays (``_trees.Forest``) and every score — right after ``fit`` and
after :meth:`~anomark.detectors.base.Detector.load` — is computed from those arrays by one
compiled (numba) traversal that reproduces scikit-learn's ``score_samples`` arithmetic (float32
inputs, per-tree path length + average path length of the leaf,
``2 ** (-depth / c(max_samples))``).
The trees are grown on the training data mapped column by column onto ``[-1, 1]``
(``offset_``/``scale_``), so their float32 arithmetic does not depend on the data's units.
Saving therefore stores only arrays (``.npz``, no pickle) and a reloaded detector gives
bit-for-bit the same scores, independently of scikit-learn's private attributes.
"""

from __future__ import annotations

from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from anomark._validation import Constraint, InstanceOf, Interval, Options
from anomark.dataset import Dataset
from anomark.detectors.base import N_JOBS, SEED, Detector, Pinned
from anomark.detectors.isolation_forest._trees import FLOAT32_MAX, Forest
from anomark.errors import PersistenceError
from anomark.postprocess import PostProcessor
from anomark.seasonal import SeasonalResidual
from anomark.threshold import Threshold
from anomark.windowing import Windowing

__all__ = ["IsolationForestDetector"]


class IsolationForestDetector(Detector):
    """Isolation Forest on sliding windows of the series (scikit-learn's trees).

    Each window of ``window_size`` consecutive rows is flattened time-major into one vector
    (:meth:`Windowing.shingles`); an :class:`sklearn.ensemble.IsolationForest` is grown on those
    vectors and each window's score is credited to its last timestamp
    (:meth:`Windowing.to_points`, ``align="end"``; earlier rows get the first window's score).

    The score is **flipped** with respect to scikit-learn so that higher = more anomalous:
    ``score = -IsolationForest.score_samples(window)``, i.e. the Isolation Forest anomaly
    score ``s(x) = 2 ** (-E[h(x)] / c(max_samples))`` of Liu et al., in ``(0, 1]``; values
    near 1 are anomalies, values well below 0.5 are normal. scikit-learn's ``contamination``
    and score ``offset_`` are not used: flags come from the detector's :class:`Threshold`.

    Before windowing, every column is mapped onto ``[-1, 1]`` over the training data
    (``(x - offset_) / scale_`` with the column's mid-range and half-range). The trees work in
    float32 and scikit-learn treats a feature whose range is below about 1e-7 as constant, so
    without this step data in small units (1e-8), tiny variations on a large offset, or values
    beyond the float32 range (1e300) would be scored wrongly or refused. With it, changing the
    units of a column (``x -> a + b * x``) does not change what is found.

    Parameters
    ----------
    n_estimators : int, default 100
        Number of isolation trees.
    max_samples : "auto", int or float, default "auto"
        Windows drawn (without replacement) to grow each tree: ``"auto"`` = min(256, n_windows),
        an int (capped at the number of training windows), or a fraction in ``(0, 1]`` of them.
    window_size : int, default 1
        Rows per window; ``1`` scores each row on its own (point-wise).
    random_state : int, numpy.random.RandomState or None, default None
        Seed for reproducible trees. An int is needed to :meth:`save` the detector.
    threshold : Threshold, optional
        Rule turning scores into flags; default ``Threshold.mean_std(3)`` fitted on the
        training scores.
    n_jobs : int, optional
        Parallel jobs used by scikit-learn to grow the trees (scoring is vectorised NumPy).
    postprocess : list of PostProcessor, optional
        Causal post-processing of the scores (:mod:`anomark.postprocess`, e.g.
        ``[RunningZScore(), RangeRule(value=10)]``), applied inside ``score`` and fitted and
        saved with the detector; the threshold is fitted on the post-processed scores.
    seasonal : SeasonalResidual, optional
        A causal seasonal baseline (:class:`anomark.seasonal.SeasonalResidual`): the model
        reads each column and, next to it, its residual against the same slot of the
        previous periods (e.g. ``SeasonalResidual()`` picks one day or one week as the data
        shows); fitted and saved with the detector. Detections' ``data`` holds those columns.

    Attributes
    ----------
    forest_ : Forest
        The fitted trees as flat arrays (what :meth:`save` writes to ``arrays.npz``).
    max_samples_ : int
        Windows used to grow each tree.
    windowing_ : Windowing
        The windowing used (size ``window_size``, stride 1, ``align="end"``).
    offset_ : numpy.ndarray of shape (n_features,)
        Per-column mid-range of the training data, subtracted before windowing.
    scale_ : numpy.ndarray of shape (n_features,)
        Per-column half-range of the training data (1 for a constant column), divided by.
    threshold_ : Threshold
        Threshold fitted on the training scores.

    Notes
    -----
    Saving stores the trees' arrays (scikit-learn's ``tree_.children_left``,
    ``children_right``, ``feature``, ``threshold``, ``n_node_samples`` and node depths) and
    ``offset_``/``scale_`` in ``arrays.npz``; loading validates them and scores with the same
    code used after ``fit``, so scores after a round trip are identical. Nothing is pickled.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark import IsolationForestDetector
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=500); x[250] = 8.0
    >>> det = IsolationForestDetector(n_estimators=50, random_state=0).fit(x)
    >>> scores = det.score(x)
    >>> int(scores.to_numpy().argmax())
    250
    >>> bool(((scores > 0) & (scores <= 1)).all())
    True
    """

    name: ClassVar[str] = "iforest"
    default_threshold: ClassVar[tuple[str, float]] = ("mean_std", 3.0)
    window_param: ClassVar[str | None] = "window_size"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector._parameter_constraints,
        "n_estimators": [Interval(int, 1, None)],
        "max_samples": [
            Options("auto"), Interval(int, 1, None), Interval(float, 0.0, 1.0, closed="right")
        ],
        "window_size": [Interval(int, 1, None)],
        "random_state": [SEED, InstanceOf("numpy.random.RandomState"), None],
        "n_jobs": N_JOBS,
    }

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: str | int | float = "auto",
        window_size: int = 1,
        random_state: int | np.random.RandomState | None = None,
        threshold: Threshold | None = None,
        n_jobs: int | None = None,
        postprocess: list[PostProcessor] | None = None,
        seasonal: SeasonalResidual | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.window_size = window_size
        self.random_state = random_state
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.postprocess = postprocess
        self.seasonal = seasonal

    # ------------------------------------------------------------------ hooks
    def _min_rows(self) -> int:
        return int(self.window_size)

    def _effective_max_samples(self, n_windows: int) -> int:
        return self._effective_max_samples_of(self.max_samples, n_windows)

    @staticmethod
    def _effective_max_samples_of(ms: Any, n_windows: int) -> int:
        if isinstance(ms, str):
            return min(256, n_windows)
        if isinstance(ms, Integral):
            return min(int(ms), n_windows)
        return max(1, int(float(ms) * n_windows))

    def _learn_scaling(self, values: np.ndarray) -> None:
        """Per-column ``offset_`` (mid-range) and ``scale_`` (half-range; 1 for a constant
        column) mapping the training values onto ``[-1, 1]``."""
        lo, hi = values.min(axis=0), values.max(axis=0)
        offset = lo / 2.0 + hi / 2.0  # halves first: no overflow near the float64 limit
        half_range = hi / 2.0 - lo / 2.0
        self.offset_ = np.asarray(offset, dtype=np.float64)
        self.scale_ = np.where(half_range > 0.0, half_range, 1.0).astype(np.float64)

    def _shingle_source(self, ds: Dataset) -> np.ndarray:
        """The values mapped with ``offset_``/``scale_`` and clipped to the float32 range.

        Training values land in ``[-1, 1]``, where float32 (what the trees compare in) keeps
        about 7 significant digits of every column whatever its units. Values far outside the
        training range may exceed float32: clipping them keeps them beyond every split.
        """
        with np.errstate(over="ignore"):
            z = (ds.values - self.offset_) / self.scale_
        return np.clip(z, -FLOAT32_MAX, FLOAT32_MAX)

    def _fit(self, ds: Dataset) -> None:
        from sklearn.ensemble import IsolationForest

        windowing = Windowing(int(self.window_size))
        windowing.check_length(len(ds))
        self._learn_scaling(ds.values)
        values = self._shingle_source(ds)
        x = windowing.shingles(values).astype(np.float32)
        max_samples = self._effective_max_samples(x.shape[0])
        model = IsolationForest(
            n_estimators=int(self.n_estimators),
            max_samples=max_samples,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        model.fit(x)
        self.windowing_ = windowing
        self.max_samples_ = max_samples
        self._n_windows: int | None = int(x.shape[0])
        self.forest_ = Forest.from_sklearn(model)

    def _score(self, ds: Dataset) -> np.ndarray:
        values = self._shingle_source(ds)
        windowing = self.windowing_
        n = len(ds)
        window_scores = np.empty(windowing.n_windows(n))
        for start, batch in windowing.iter_shingles(values, max_bytes=64 * 2**20):
            window_scores[start : start + batch.shape[0]] = self.forest_.score(batch)
        return windowing.to_points(window_scores, n)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state: dict[str, Any] = {
            "max_samples_": int(self.max_samples_), "window_size": int(self.window_size)
        }
        if self._n_windows is not None:
            state["n_windows"] = self._n_windows
        arrays = dict(self.forest_.arrays())
        arrays.update(offset_=self.offset_, scale_=self.scale_)
        return state, arrays

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        # "n_windows" (training windows) is absent from saves older than the pinned-parameter
        # check; then max_samples is checked only as far as max_samples_ allows
        if not {"max_samples_", "window_size"} <= set(state) <= {
            "max_samples_", "window_size", "n_windows"
        }:
            raise PersistenceError(
                f"{folder}: Isolation Forest state must have keys ['max_samples_', "
                f"'window_size'] and optionally 'n_windows', got {sorted(state)}"
            )
        n_windows = state.get("n_windows")
        if n_windows is not None and (
            isinstance(n_windows, bool) or not isinstance(n_windows, int) or n_windows < 1
        ):
            raise PersistenceError(
                f"{folder}: state n_windows must be a positive integer, got {n_windows!r}"
            )
        if state["window_size"] != self.window_size:
            raise PersistenceError(
                f"{folder}: state window_size {state['window_size']!r} does not match the "
                f"parameter window_size={self.window_size!r}"
            )
        n_features = self._n_model_features()  # the input columns and any seasonal residuals
        scaling: dict[str, np.ndarray] = {}
        for key in ("offset_", "scale_"):
            arr = arrays.get(key)
            if arr is None:
                raise PersistenceError(f"{folder}: saved Isolation Forest lacks array {key!r}")
            if arr.shape != (n_features,) or arr.dtype.kind != "f" or not np.isfinite(arr).all():
                raise PersistenceError(
                    f"{folder}: saved array {key!r} must hold {n_features} finite float(s), got "
                    f"{arr.dtype} with shape {arr.shape}"
                )
            scaling[key] = arr.astype(np.float64)
        if not (scaling["scale_"] > 0.0).all():
            raise PersistenceError(f"{folder}: saved array 'scale_' must be positive")
        n_inputs = int(self.window_size) * n_features
        self.forest_ = Forest.from_arrays(arrays, state["max_samples_"], n_inputs)
        self.offset_ = scaling["offset_"]
        self.scale_ = scaling["scale_"]
        self.max_samples_ = self.forest_.max_samples
        self._n_windows = n_windows
        self.windowing_ = Windowing(int(self.window_size))

    def _pinned_params(self) -> dict[str, Pinned]:
        trees, drawn, n_windows = self.forest_.n_trees, int(self.max_samples_), self._n_windows

        def max_samples_agrees(value: Any) -> bool:
            if n_windows is not None:  # the rule of fit, on the training windows
                return self._effective_max_samples_of(value, n_windows) == drawn
            if isinstance(value, str):
                return drawn <= 256
            return not isinstance(value, Integral) or drawn <= int(value)

        held = f"each tree grew on {drawn} windows" + (
            f" of {n_windows}" if n_windows is not None else ""
        )
        return {
            "n_estimators": Pinned.equal(trees, f"the forest has {trees} trees"),
            "max_samples": Pinned(max_samples_agrees, held),
            "window_size": Pinned.equal(
                self.windowing_.size, f"the trees split windows of {self.windowing_.size} rows"
            ),
        }
