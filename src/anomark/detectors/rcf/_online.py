"""Online use of :class:`~anomark.detectors.rcf.RCFDetector`: learn and score as rows arrive.

The methods here (``partial_fit``, ``score_update``, ``detect_update``, ``attribution``) run
the streaming engine :class:`~anomark.detectors.rcf.streaming.StreamingForest`. A detector
fitted in batch (``fit``) keeps its balanced batch forest for ``score``/``detect``; its first
online call converts that forest into streaming state (each tree keeps its sample and cuts,
the sampled shingles get reservoir weights by their arrival), and from then on every local
call uses the streaming trees. A detector that never saw ``fit`` starts cold.

Scores go through the detector's ``postprocess=`` steps (their state continues from call to
call) for the rows the forest was ready to score; rows before that keep the score 0.0. With
``seasonal=`` the forest reads the model data (each column and its seasonal residual); the
stage's state continues from call to call as well (a cold start starts it on the first rows).

Online threshold (``detect_update``): with ``threshold=Threshold.spot(...)`` the flags come
from SPOT/DSPOT learning from the (post-processed) scores of the ready rows, ``threshold_``
being that rule (fitted on the training scores after ``fit``; on a cold start it calibrates
itself on the first ready scores, which are not flagged); with ``Threshold.fixed(v)`` a row is
flagged above ``v`` (natural after a ``RunningZScore`` post-processing). With any other rule a
row is flagged when its score exceeds ``mean + k * sd`` of the scores of all earlier rows the
forest was ready to score (``k`` is the ``mean_std`` threshold's, 3 for other threshold rules),
once the forest has scored ``output_after`` rows; the statistics start from the training
scores after ``fit``, and ``threshold_`` holds the current value of that rule
(``Threshold.fixed``), so ``detect(data)`` flags what ``detect_update`` would flag now
(without learning). All are causal: a row's flag depends on that row and earlier ones only.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from anomark.dataset import Dataset
from anomark.detection import Detection
from anomark.detectors.rcf._kernels import check_forest_memory
from anomark.detectors.rcf.forest import RandomCutForest, in_precision
from anomark.detectors.rcf.streaming import StreamingForest, StreamOutput, locate_offsets
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.postprocess import _detector as _post
from anomark.seasonal import _detector as _seasonal
from anomark.threshold import Threshold
from anomark.windowing import Windowing

__all__ = ["OnlineMixin", "running_thresholds"]

#: Memory for one chunk of attribution vectors.
_ATTR_BUDGET = 32 * 2**20
#: Stands for "no threshold yet" in ``threshold_`` (``Threshold.fixed`` needs a finite value).
_NO_THRESHOLD = sys.float_info.max
#: The remedy when untimed rows continue a timed stream.
_TIMED_ROWS = (
    "pass the rows indexed by time (a DataFrame or Series with a DatetimeIndex), or start a "
    "new detector"
)


@njit(cache=True)
def running_thresholds(
    scores: np.ndarray, ready: np.ndarray, k: float, warmup: int, state: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Causal ``mean + k * sd`` thresholds: ``out[i]`` from the ready scores before row ``i``
    (``inf`` before ``warmup`` of them, and for rows not ready); ``state`` holds the running
    ``[count, mean, m2]`` (Welford) and is advanced by every ready score."""
    count, mean, m2 = state[0], state[1], state[2]
    for i in range(scores.shape[0]):
        if not ready[i]:
            out[i] = math.inf
            continue
        if count >= warmup and count > 0:
            out[i] = mean + k * math.sqrt(m2 / count)
        else:
            out[i] = math.inf
        count += 1.0
        delta = scores[i] - mean
        mean += delta / count
        m2 += delta * (scores[i] - mean)
    state[0], state[1], state[2] = count, mean, m2


def _index_to_arrays(index: pd.Index) -> tuple[dict[str, Any], np.ndarray]:
    """The labels of the last rows as int64 (ns for timestamps) plus how to rebuild them."""
    if isinstance(index, pd.DatetimeIndex):
        tz = None if index.tz is None else str(index.tz)
        values = index.tz_convert("UTC").tz_localize(None) if tz else index
        return {"kind": "datetime", "tz": tz}, values.as_unit("ns").asi8.astype(np.int64)
    return {"kind": "position", "tz": None}, np.asarray(index, dtype=np.int64)


def _index_from_arrays(meta: Any, values: np.ndarray, where: str) -> pd.Index:
    if not isinstance(meta, dict) or set(meta) != {"kind", "tz"}:
        raise PersistenceError(f"{where}: 'index_tail' must be an object with kind and tz")
    if values.dtype.kind not in "iu" or values.ndim != 1:
        raise PersistenceError(f"{where}: the saved index tail must be 1-D integers")
    if meta["kind"] not in ("position", "datetime"):
        raise PersistenceError(
            f"{where}: index_tail kind must be 'position' or 'datetime', got {meta['kind']!r}"
        )
    if not (meta["tz"] is None or isinstance(meta["tz"], str)) or (
        meta["kind"] == "position" and meta["tz"] is not None
    ):
        raise PersistenceError(
            f"{where}: index_tail tz must be a time zone name (or null), got {meta['tz']!r}"
        )
    if meta["kind"] == "position":
        return pd.Index(values.astype(np.int64))
    index = pd.DatetimeIndex(values.astype("datetime64[ns]"))
    try:
        return index.tz_localize("UTC").tz_convert(meta["tz"]) if meta["tz"] else index
    except (TypeError, ValueError, KeyError) as exc:
        raise PersistenceError(f"{where}: bad time zone {meta['tz']!r} ({exc})") from None


class OnlineMixin:
    """``partial_fit`` / ``score_update`` / ``detect_update`` / ``attribution`` for
    :class:`~anomark.detectors.rcf.RCFDetector` (see the module docstring)."""

    # provided by RCFDetector / Detector
    num_trees: int
    num_samples_per_tree: int
    shingle_size: int
    threshold: Threshold | None
    random_state: int | None
    n_jobs: int | None
    sagemaker: Any
    score_type: str
    time_decay: float | None
    output_after: int | None
    dtype: str
    forest_: Any
    engine_: Any
    windowing_: Windowing
    feature_dim_: int
    n_features_in_: int
    feature_names_in_: np.ndarray
    threshold_: Threshold

    # ------------------------------------------------------------------ public API
    def partial_fit(self, data: Any, y: Any = None) -> Any:
        """Learn rows in time order, as they arrive (a cold start fits the detector).

        Every row's shingle is scored against the current trees, then offered to every tree's
        time-decayed sample (see :class:`~anomark.detectors.rcf.streaming.StreamingForest`);
        the scores only advance the online threshold. Rows continue the stream: the detector
        keeps the last ``shingle_size - 1`` rows, so the first shingle of this call starts in
        the previous one.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Rows that follow the rows seen so far (timestamps must increase across calls).
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ConfigurationError
            With ``sagemaker=`` (SageMaker's RCF is batch-trained), or when ``num_trees``,
            ``num_samples_per_tree`` or ``shingle_size`` changed since the forest was built.
        DataError
            NaN/inf values, other columns than before, timestamps not after the last row seen.
        """
        self._stream_call(data, "partial_fit", attribution=False)
        return self

    def score_update(self, data: Any) -> pd.Series:
        """Score each row, then learn it: one score per row, with no look-ahead.

        Each row's shingle (the row and the ``shingle_size - 1`` before it, across calls) is
        scored against the trees as they are before the row is learned, so changing later
        rows never changes an earlier score, and one call over all rows gives the same
        scores as any split into several calls, bit for bit (with ``random_state`` set).
        Rows before the forest has seen ``output_after`` shingles (and, on a cold start, the
        first ``shingle_size - 1`` rows, which complete no shingle) score ``0.0``, as AWS's
        RCF does; they are never flagged.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            The next rows (arrays are numbered by their position in the stream).

        Returns
        -------
        pandas.Series
            Named ``"score"``, indexed like ``data``.

        Raises
        ------
        ConfigurationError, DataError
            As :meth:`partial_fit`.
        """
        ds, out, _ = self._stream_call(data, "score_update", attribution=False)
        return pd.Series(out.scores, index=ds.index, name="score")

    def detect_update(self, data: Any) -> Detection:
        """:meth:`score_update` plus flags from the causal online threshold.

        The scores are those of :meth:`score_update` (after the ``postprocess=`` steps). The
        flags come from the detector's online rule: ``Threshold.spot`` (SPOT/DSPOT learning
        from the scores), ``Threshold.fixed``, or else ``mean + k * sd`` of the earlier ready
        scores (see :mod:`anomark.detectors.rcf._online`); the events' ``located_at`` comes
        from each peak's attribution
        over the time offsets of its shingle, computed when the row was scored; the
        Detection's ``located`` holds it for every row.

        Returns
        -------
        Detection
            Scores, per-row ``thresholds`` (``inf`` while the rule warms up), flags and
            events of these rows; ``threshold`` is the rule's value after the last row. An
            event still open at the last row continues in the next call's first event:
            :meth:`Detection.concat` joins the calls' results into whole events.
        """
        attribution = self.score_type == "anomaly"
        ds, out, thresholds = self._stream_call(data, "detect_update", attribution=attribution)
        scores = pd.Series(out.scores, index=ds.index, name="score")
        located = None
        if out.located is not None:
            # where each row's anomalous values entered: offset from its shingle's first row,
            # which may lie in an earlier call (the index tail)
            size = int(self.shingle_size)
            before = self._stream_index_before
            joined = before.append(ds.index) if len(before) else ds.index
            pos = np.arange(len(ds)) - (size - 1) + np.maximum(out.located, 0) + len(before)
            pos = np.where(out.located >= 0, pos, np.arange(len(ds)) + len(before))
            located = pd.Series(joined[pos], index=ds.index, name="located_at")
        current = self._online_value()
        return Detection(
            scores, current if math.isfinite(current) else math.inf, data=ds,
            detector=type(self).__name__,
            thresholds=pd.Series(thresholds, index=ds.index), located=located,
        )

    def attribution(self, data: Any) -> pd.DataFrame:
        """Each column's share of each row's score, against the current trees (no learning).

        Computed as AWS's ``DiVector``: every term of the score is the probability that a
        random cut separates the point at some node (times that node's weight); it is split
        over the shingle's values in proportion to how far the value lies outside the node's
        box along that dimension (both sides), so the values' shares sum to the score. A
        column's share is the sum over the shingle's time offsets. Rows before the first
        full shingle get the first shingle's (as for :meth:`score`).

        Returns
        -------
        pandas.DataFrame
            Rows like ``data``, the fitted columns; each row sums to the row's RCF score
            (``score_type="anomaly"``, before any post-processing).

        Raises
        ------
        ConfigurationError
            With ``sagemaker=`` or ``score_type="codisp"`` (no attribution is defined).
        """
        self._refuse_sagemaker("attribution")
        self._check_fitted()  # type: ignore[attr-defined]
        if self.score_type != "anomaly":
            raise ConfigurationError(
                "attribution is defined for score_type='anomaly' (AWS's DiVector), not codisp"
            )
        ds = self._check_input(data, reset=False)  # type: ignore[attr-defined]
        ds = _seasonal.transform_seasonal(self, ds)  # the columns the forest reads
        values = self._local_values(ds, "attribution")
        size, n_features = int(self.shingle_size), ds.n_features
        n_windows = self.windowing_.n_windows(len(ds))
        out = np.empty((n_windows, n_features))
        step = max(1, _ATTR_BUDGET // (8 * self.feature_dim_))
        for w0 in range(0, n_windows, step):
            windows = np.arange(w0, min(n_windows, w0 + step))
            _, attr = self.forest_.attribution_series(values, size, windows)
            out[windows] = attr.reshape(len(windows), size, n_features).sum(axis=1)
        rows = np.maximum(np.arange(len(ds)) - (size - 1), 0)
        return pd.DataFrame(out[rows], index=ds.index, columns=ds.columns)

    @property
    def last_seen_(self) -> Any:
        """Time (or stream position, for arrays) of the last row learned: by ``fit`` or by the
        online methods; ``None`` before any. Rows up to it are part of the model; a stream
        resumed from a saved detector continues after it."""
        tail = getattr(self, "_stream_index_", None)
        return None if tail is None or not len(tail) else tail[-1]

    # ------------------------------------------------------------------ batch detections
    def _with_locations(self, result: Detection) -> Detection:
        """``result`` with each flagged row located from the attribution of its shingle."""
        forest = getattr(self, "forest_", None)
        if forest is None or self.score_type != "anomaly" or result.data is None or not (
            result.n_flagged
        ):
            return result
        values = result.data.values
        index = result.scores.index
        size = int(self.shingle_size)
        rows = np.flatnonzero(result.flags.to_numpy())
        windows = np.maximum(rows - (size - 1), 0)
        where = np.arange(len(index))
        step = max(1, _ATTR_BUDGET // (8 * self.feature_dim_))
        for i in range(0, len(rows), step):
            _, attr = forest.attribution_series(values, size, windows[i : i + step])
            where[rows[i : i + step]] = windows[i : i + step] + locate_offsets(
                attr, values.shape[1]
            )
        return Detection(
            result.scores, result.threshold, data=result.data, detector=result.detector,
            thresholds=result.thresholds,
            located=pd.Series(index[where], index=index, name="located_at"),
        )

    # ------------------------------------------------------------------ the stream
    def _refuse_sagemaker(self, what: str) -> None:
        if self.sagemaker is not None or (
            hasattr(self, "threshold_") and getattr(self, "forest_", None) is None
        ):
            raise ConfigurationError(
                f"{what} needs the local engine: SageMaker's built-in RCF is batch-trained and "
                "cannot learn row by row or attribute scores; use sagemaker=None for online "
                "detection"
            )

    def _stream_input(self, data: Any, what: str, *, cold: bool) -> Dataset:
        named = isinstance(data, Dataset | pd.DataFrame | pd.Series)
        before = getattr(self, "_stream_index_", None)
        if not cold and not named and isinstance(before, pd.DatetimeIndex) and len(before):
            # refused before the column check, whose warning about the missing names would
            # only precede this error
            raise DataError(
                f"{type(self).__name__}.{what}: these rows have no timestamps (a plain "
                f"array), the stream's earlier rows had them (the last {before[-1]}): "
                f"{_TIMED_ROWS}"
            )
        if cold:
            ds = Dataset.from_any(data)
            ds.check_finite("fitting")
            self.n_features_in_ = ds.n_features
            self.feature_names_in_ = np.asarray(ds.columns, dtype=object)
            self._fitted_with_names_ = named
        else:
            self._stream_rows_ok = True
            try:
                ds = self._check_input(data, reset=False)  # type: ignore[attr-defined]
            finally:
                self._stream_rows_ok = False
        if not named:  # plain arrays: number the rows by their position in the stream
            start = int(getattr(self, "_stream_rows_", 0))
            before = getattr(self, "_stream_index_", None)
            if not cold and before is not None and len(before) and not isinstance(
                before, pd.DatetimeIndex
            ):  # after rows numbered by the caller: the next numbers
                start = max(start, int(before[-1]) + 1)
            frame = pd.DataFrame(
                ds.values, index=pd.RangeIndex(start, start + len(ds)), columns=ds.columns
            )
            ds = Dataset(frame, name=ds.name)
        return ds

    def _local_values(self, ds: Dataset, what: str, *, first: bool = False) -> np.ndarray:
        """The rows of ``ds`` in the local forest's precision (``dtype``), refused or warned
        about (``first``: the data a forest first learns) with the detector's method and the
        columns' names: the engines, which see arrays, could only number the columns."""
        return in_precision(
            ds.values, str(self.dtype), f"{type(self).__name__}.{what}", warn=first,
            columns=list(ds.columns),
        )

    def _streaming_forest(self, n_features: int) -> StreamingForest:
        """The streaming engine, built on the first online call (cold, or from the batch
        forest) and kept in step with ``time_decay``, ``output_after`` and ``n_jobs``."""
        params: dict[str, Any] = {
            "num_trees": int(self.num_trees),
            "num_samples_per_tree": int(self.num_samples_per_tree),
            "shingle_size": int(self.shingle_size),
            "time_decay": self.time_decay,
            "output_after": self.output_after,
            "score_type": self.score_type,
            "random_state": self.random_state,
            "n_jobs": self.n_jobs,
            "dtype": self.dtype,
        }
        forest = getattr(self, "forest_", None)
        if isinstance(forest, StreamingForest):
            for name in ("num_trees", "num_samples_per_tree", "shingle_size", "dtype"):
                if getattr(forest, name) != params[name]:
                    raise ConfigurationError(
                        f"{name}={params[name]} differs from the streaming forest's "
                        f"{getattr(forest, name)}; refit, or set it back"
                    )
            fresh = StreamingForest(**params)  # validates the settings that may change
            forest.time_decay, forest.output_after = fresh.time_decay, fresh.output_after
            forest.score_type, forest.n_jobs = fresh.score_type, fresh.n_jobs
            forest._threads = fresh._threads
            return forest
        if isinstance(forest, RandomCutForest):
            if forest.num_trees_fitted != params["num_trees"] or (
                forest.dim != params["shingle_size"] * n_features
            ) or forest.dtype != params["dtype"]:
                raise ConfigurationError(
                    "num_trees, shingle_size or dtype differ from the fitted forest's; refit, "
                    "or set them back"
                )
            stream = StreamingForest.from_batch(
                forest, self._fit_tail_, int(self._stream_rows_), **params
            )
        else:
            stream = StreamingForest(**params)
        self.forest_ = stream
        self.engine_ = stream
        return stream

    def _stream_call(
        self, data: Any, what: str, *, attribution: bool
    ) -> tuple[Dataset, StreamOutput, np.ndarray]:
        self._validate_params()  # type: ignore[attr-defined]
        self._refuse_sagemaker(what)
        cold = getattr(self, "forest_", None) is None
        ds = self._stream_input(data, what, cold=cold)
        if not cold:
            _seasonal.check_unchanged(self)
        values = ds.values  # the input columns (what the post-processing reads)
        if cold:  # the seasonal= stage starts on these rows (its columns size the forest)
            model = _seasonal.update_seasonal(self, ds, cold=True)
            size = int(self.shingle_size)
            self._check_feature_dim(size, model.n_features)  # type: ignore[attr-defined]
            self.windowing_ = Windowing(size, stride=1, align="end")
            self.feature_dim_ = size * model.n_features
            check_forest_memory(
                int(self.num_trees), int(self.num_samples_per_tree),  # type: ignore[attr-defined]
                self.feature_dim_, f"{type(self).__name__}.{what}",
                itemsize=np.dtype(self.dtype).itemsize,
            )
            self._stream_rows_ = 0
            self._stream_index_ = ds.index[:0]
            self._online_ = np.zeros(3)
        before = self._stream_index_
        if len(before):
            index = ds.index
            timed = isinstance(index, pd.DatetimeIndex)
            if timed and not isinstance(before, pd.DatetimeIndex):
                raise DataError(
                    f"{type(self).__name__}.{what}: these rows have timestamps, the stream's "
                    f"earlier rows had none (positions up to {before[-1]}): a stream cannot "
                    "tell whether timestamped rows come after them; start a new detector"
                )
            if isinstance(before, pd.DatetimeIndex) and not timed:
                raise DataError(
                    f"{type(self).__name__}.{what}: these rows have no timestamps (positions "
                    f"{index[0]}..{index[-1]}), the stream's earlier rows had them (the "
                    f"last {before[-1]}): {_TIMED_ROWS}"
                )
            if isinstance(index, pd.DatetimeIndex) and isinstance(before, pd.DatetimeIndex):
                if (before.tz is None) != (index.tz is None):
                    problem = (
                        f"have no time zone but the stream's are in {before.tz}: give them "
                        "that zone (DataFrame.tz_localize)"
                        if index.tz is None
                        else f"are in {index.tz} but the stream's had no time zone: make them "
                        "naive as the earlier rows were (DataFrame.tz_localize(None) keeps "
                        "the wall-clock times)"
                    )
                    raise DataError(
                        f"{type(self).__name__}.{what}: these timestamps {problem}, or start "
                        "a new detector"
                    )
                before = before.as_unit(index.unit)
                if index.tz is not None:
                    # the same instants in the rows' zone (mixing zones is not a time index)
                    before = before.tz_convert(index.tz)
            last = before[-1]
            if not index[0] > last:
                kind = "timestamp" if timed else "position"
                raise DataError(
                    f"{type(self).__name__}.{what}: rows must continue the stream: the first "
                    f"{kind} {index[0]} is not after the last one seen, {last}"
                )
        if not cold:  # the seasonal= stage continues (the input columns + their residuals)
            model = _seasonal.update_seasonal(self, ds, cold=False)
        rows = self._local_values(model, what, first=cold)  # before a forest is made
        stream = self._streaming_forest(model.n_features)
        out = stream.process(rows, attribution=attribution)
        if out.ready.any():  # the postprocess= steps continue on the rows the forest scored
            scores = out.scores.copy()
            scores[out.ready] = _post.update_postprocess(
                self, out.scores[out.ready], values[out.ready]
            )
            out = dataclasses.replace(out, scores=scores)
        # the detector's own rule when it works online (Threshold.spot / fixed), else the
        # running mean + k sd of earlier scores
        online = _post.online_thresholds(self, out.scores, out.ready)
        thresholds = np.empty(len(ds)) if online is None else online
        if online is None:
            running_thresholds(
                out.scores, out.ready, self._online_k(), stream.output_after_, self._online_,
                thresholds,
            )
        keep = max(int(self.shingle_size) - 1, 1)  # at least the last row's time
        self._stream_index_before = before
        joined = before.append(ds.index) if len(before) else ds.index
        self._stream_index_ = joined[max(len(joined) - keep, 0) :]
        self._stream_rows_ = int(self._stream_rows_) + len(ds)
        if online is None:
            value = self._online_value()
            self.threshold_ = Threshold.fixed(
                value if math.isfinite(value) else _NO_THRESHOLD
            ).fit([0.0])
        return model, out, thresholds

    def _warming_up(self) -> str | None:
        """What the online threshold waits for, while it flags nothing after online calls
        (``threshold_`` then holds a placeholder no score reaches, or SPOT calibrating);
        ``None`` otherwise."""
        if not isinstance(getattr(self, "forest_", None), StreamingForest) or math.isfinite(
            self._online_value()
        ):
            return None
        rule = self.threshold
        first = self.forest_.output_after_
        if isinstance(rule, Threshold) and rule.method == "spot":
            return (f"Threshold.spot calibrates itself on the first {rule.calibration_size} rows "
                    f"the forest scores (it scores once it has seen {first} shingles)")
        return f"the running threshold starts once the forest has scored {first} rows"

    def _online_k(self) -> float:
        rule = self.threshold
        return float(rule.param) if rule is not None and rule.method == "mean_std" else 3.0

    def _online_value(self) -> float:
        """The online threshold's current value (``inf`` while it warms up)."""
        own = _post.online_value(self)  # Threshold.spot / fixed
        if own is not None:
            return own
        count, mean, m2 = (float(v) for v in self._online_)
        forest = self.forest_
        warm = isinstance(forest, StreamingForest) and count >= max(forest.output_after_, 1)
        return mean + self._online_k() * math.sqrt(m2 / count) if warm else math.inf

    # ------------------------------------------------------------------ state
    def _start_online(self, ds: Dataset, scores: np.ndarray) -> None:
        """After a batch fit: the running statistics start from the training scores and the
        stream continues after the training rows."""
        keep = int(self.shingle_size) - 1
        self._online_ = np.zeros(3)
        labels = max(keep, 1)
        running_thresholds(
            np.asarray(scores, dtype=np.float64), np.ones(len(scores), dtype=bool), 3.0, 0,
            self._online_, np.empty(len(scores)),
        )
        self._stream_rows_ = len(ds)
        self._stream_index_ = ds.index[len(ds) - labels :]
        self._fit_tail_ = np.ascontiguousarray(ds.values[len(ds) - keep :])

    def _online_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta, labels = _index_to_arrays(self._stream_index_)
        state = {
            "rows": int(self._stream_rows_),
            "online": [float(v) for v in self._online_],
            "index_tail": meta,
        }
        return state, {"index_tail": labels}

    def _set_online_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], where: str
    ) -> None:
        rows, online = state.get("rows"), state.get("online")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise PersistenceError(f"{where}: 'rows' must be a count of rows")
        if (
            not isinstance(online, list) or len(online) != 3
            or not all(isinstance(v, int | float) and math.isfinite(v) for v in online)
            or online[0] < 0 or online[2] < 0
        ):
            raise PersistenceError(f"{where}: 'online' must be [count, mean, m2]")
        if "index_tail" not in arrays:
            raise PersistenceError(f"{where}: the saved index tail is missing")
        index = _index_from_arrays(state.get("index_tail"), np.asarray(arrays["index_tail"]), where)
        if len(index) != min(max(int(self.shingle_size) - 1, 1), rows):
            raise PersistenceError(f"{where}: the saved index tail has the wrong length")
        self._stream_rows_ = rows
        self._online_ = np.asarray(online, dtype=np.float64)
        self._stream_index_ = index
