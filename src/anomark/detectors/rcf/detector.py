"""Random Cut Forest detector: AWS's RCF on shingles, locally (numba) or on SageMaker.

The local engines are :class:`anomark.detectors.rcf.forest.RandomCutForest` (batch, ``fit``)
and :class:`anomark.detectors.rcf.streaming.StreamingForest` (online: ``partial_fit``,
``score_update``, ``detect_update``; see :mod:`anomark.detectors.rcf._online`); with
``sagemaker=`` the same detector trains SageMaker's built-in RCF algorithm instead (batch
only). Parameter names and ranges are SageMaker's, and the local scores use the same
anomaly-score definition, so thresholds carry over between the engines.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from anomark._validation import Constraint, Interval, check_param
from anomark.dataset import Dataset
from anomark.detection import Detection
from anomark.detectors.base import N_JOBS, SAGEMAKER, SEED, Detector, Pinned
from anomark.detectors.rcf._kernels import check_forest_memory
from anomark.detectors.rcf._limits import FEATURE_DIM_RANGE, NUM_SAMPLES_RANGE, NUM_TREES_RANGE
from anomark.detectors.rcf._online import OnlineMixin
from anomark.detectors.rcf.forest import DTYPE, SCORE_TYPE, RandomCutForest
from anomark.detectors.rcf.streaming import StreamingForest
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.persistence import split_prefixed
from anomark.postprocess import PostProcessor
from anomark.seasonal import SeasonalResidual
from anomark.threshold import Threshold
from anomark.windowing import Windowing

__all__ = ["RCFDetector"]

_ARRAY_PREFIX = "forest_"
_STREAM_PREFIX = "stream_"
_ONLINE_PREFIX = "online_"


class RCFDetector(OnlineMixin, Detector):
    """Random Cut Forest (Guha et al., 2016) on shingles, scored like AWS's RCF.

    The series is cut into stride-1 shingles of ``shingle_size`` rows (all columns of a row
    side by side, time-major: a multivariate series is shingled per column and the shingles
    concatenated per time step), a forest of ``num_trees`` trees is built on
    ``num_samples_per_tree`` shingles sampled uniformly per tree, and each shingle's score is
    credited to its last timestamp (the first ``shingle_size - 1`` rows get the first
    shingle's score).

    Scores follow AWS's anomaly-score definition (the random-cut-forest-by-aws library and
    SageMaker's built-in algorithm): typical points score around 1 and clear anomalies well
    above; see :class:`anomark.detectors.rcf.forest.RandomCutForest`. ``score_type="codisp"``
    scores with collusive displacement instead (local engine only).

    Online use (local engine): :meth:`partial_fit` learns rows as they arrive,
    :meth:`score_update` scores each row then learns it, :meth:`detect_update` adds causal
    flags, :meth:`attribution` splits scores over the columns. The trees then keep
    time-decayed samples (AWS's streaming RCF, ``time_decay``); ``fit`` keeps building the
    balanced batch forest, which the first online call converts. Detections' events report
    ``located_at``, where the anomalous values entered, from the attribution of the peak's
    score over the shingle's time offsets.

    Parameters
    ----------
    num_trees : int, default 100
        Trees in the forest; SageMaker's range 50-1000.
    num_samples_per_tree : int, default 256
        Shingles sampled per tree; SageMaker's range 1-2048 (capped at the number of shingles).
    shingle_size : int, default 1
        Rows per shingle. ``shingle_size * n_columns`` is SageMaker's ``feature_dim`` and must be
        at most 10,000. The CLI picks one day of samples, see :meth:`default_window`.
    threshold : Threshold, optional
        Rule turning scores into flags; ``None`` means ``Threshold.mean_std(3)`` (mean + 3 std of
        the training scores, as in AWS's RCF example notebook).
    random_state : int or None, default None
        Seed of the sampling and the cuts (local engine): equal seeds give equal scores.
    n_jobs : int or None, default None
        Threads for building and scoring: ``None`` means 1 (scikit-learn's convention),
        ``-1`` all cores.
    sagemaker : SageMakerConfig, optional
        Train and score with SageMaker's built-in RCF instead of the local engine.
    score_type : {"anomaly", "codisp"}, default "anomaly"
        AWS's anomaly score, or collusive displacement (local engine only).
    time_decay : float or None, default None
        AWS's ``lambda`` for the online methods: a shingle's chance of staying in a tree's
        sample falls by ``exp(-time_decay)`` per newer shingle (an old regime's share is
        about ``1/e`` after ``1/time_decay`` shingles). ``None`` means
        ``1 / (10 * num_samples_per_tree)`` (AWS's default); ``0`` keeps a uniform sample.
        ``fit`` ignores it.
    output_after : int or None, default None
        Shingles the online forest must have seen before it scores (AWS's ``outputAfter``);
        earlier rows score 0.0 and are never flagged. ``None`` means
        ``1 + num_samples_per_tree // 4`` (AWS's default).
    postprocess : list of PostProcessor, optional
        Causal post-processing of the scores (:mod:`anomark.postprocess`, e.g.
        ``[RunningZScore(), RangeRule(value=10)]``), applied inside ``score`` and
        ``score_update`` and fitted and saved with the detector; the threshold is fitted on
        the post-processed scores.
    seasonal : SeasonalResidual, optional
        A causal seasonal baseline (:class:`anomark.seasonal.SeasonalResidual`): the model
        reads each column and, next to it, its residual against the same slot of the
        previous periods (e.g. ``SeasonalResidual()`` picks one day or one week as the data
        shows); fitted and saved with the detector. Detections' ``data`` holds those columns.
    dtype : {"float64", "float32"}, default "float64"
        Precision of the local forest's sampled shingles, boxes and cuts. ``"float32"`` is
        the precision of AWS's own RCF (and of the data SageMaker's algorithm reads): half
        the memory, about a quarter less time; values are rounded to float32 (a warning
        says when that is coarse for a column, e.g. large values that vary little). Scores
        stay float64 and find the same anomalies, but are not float64's bit for bit: a cut
        that rounds onto a data value sends the trees apart.

    Attributes
    ----------
    forest_ : RandomCutForest or StreamingForest
        The local forest: the batch forest after ``fit``, the streaming one after the first
        online call (``None`` with the SageMaker engine).
    engine_ : object
        The fitted engine (the forest, or a ``SageMakerRCFEngine``).
    windowing_ : Windowing
        Stride-1 windowing of size ``shingle_size``, scores aligned to the window end.
    feature_dim_ : int
        ``shingle_size * n_features_in_``.
    threshold_ : Threshold
        Threshold fitted on the training scores; after online calls, the online threshold's
        current value (``Threshold.fixed``).

    Raises
    ------
    ConfigurationError
        From ``fit``: a parameter outside SageMaker's range, a shingle longer than 10,000 values,
        an unknown ``score_type``, or ``score_type="codisp"`` with SageMaker.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark import RCFDetector
    >>> t = np.arange(2000)
    >>> x = np.sin(2 * np.pi * t / 50)
    >>> x[1500:1520] += 3.0
    >>> det = RCFDetector(shingle_size=8, random_state=0).fit(x)
    >>> scores = det.score(x)
    >>> 1500 <= int(scores.to_numpy().argmax()) < 1530
    True
    >>> bool(det.detect(x).flags.iloc[1500:1530].any())
    True
    """

    name: ClassVar[str] = "rcf"
    default_threshold: ClassVar[tuple[str, float]] = ("mean_std", 3.0)
    window_param: ClassVar[str | None] = "shingle_size"
    max_window_values: ClassVar[int | None] = FEATURE_DIM_RANGE[1]
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector._parameter_constraints,
        "num_trees": [Interval(int, *NUM_TREES_RANGE)],
        "num_samples_per_tree": [Interval(int, *NUM_SAMPLES_RANGE)],
        "shingle_size": [Interval(int, 1, FEATURE_DIM_RANGE[1])],
        "random_state": [SEED, None],
        "n_jobs": N_JOBS,
        "sagemaker": [SAGEMAKER, None],
        "score_type": [SCORE_TYPE],
        "time_decay": [Interval(float, 0.0, None), None],
        "output_after": [Interval(int, 0, None), None],
        "dtype": [DTYPE],
    }

    def __init__(
        self,
        num_trees: int = 100,
        num_samples_per_tree: int = 256,
        shingle_size: int = 1,
        threshold: Threshold | None = None,
        random_state: int | None = None,
        n_jobs: int | None = None,
        sagemaker: Any = None,
        score_type: str = "anomaly",
        time_decay: float | None = None,
        output_after: int | None = None,
        postprocess: list[PostProcessor] | None = None,
        seasonal: SeasonalResidual | None = None,
        dtype: str = "float64",
    ) -> None:
        self.num_trees = num_trees
        self.num_samples_per_tree = num_samples_per_tree
        self.shingle_size = shingle_size
        self.threshold = threshold
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.sagemaker = sagemaker
        self.score_type = score_type
        self.time_decay = time_decay
        self.output_after = output_after
        self.postprocess = postprocess
        self.seasonal = seasonal
        self.dtype = dtype

    # ------------------------------------------------------------------ hooks
    def _validate_params(self) -> None:
        super()._validate_params()
        if self.sagemaker is not None and self.score_type != "anomaly":
            raise ConfigurationError(
                "score_type='codisp' is only available with the local engine; SageMaker's "
                "RCF returns the anomaly score (use score_type='anomaly' or sagemaker=None)"
            )

    def _min_rows(self) -> int:
        # online calls take any number of rows (shingles continue across calls)
        return 1 if getattr(self, "_stream_rows_ok", False) else int(self.shingle_size)

    @staticmethod
    def _check_feature_dim(size: int, n_features: int) -> None:
        feature_dim = size * n_features
        if feature_dim > FEATURE_DIM_RANGE[1]:
            raise ConfigurationError(
                f"shingle_size {size} x {n_features} columns = feature_dim {feature_dim}, "
                f"above SageMaker RCF's limit of {FEATURE_DIM_RANGE[1]}; use a smaller shingle "
                "or fewer columns"
            )

    def _fit(self, ds: Dataset) -> None:
        size = int(self.shingle_size)
        feature_dim = size * ds.n_features
        self._check_feature_dim(size, ds.n_features)
        if len(ds) < size:
            raise DataError(
                f"RCFDetector needs at least shingle_size={size} rows to fit, got {len(ds)}"
            )
        self.windowing_ = Windowing(size, stride=1, align="end")
        self.feature_dim_ = feature_dim
        if self.sagemaker is not None:
            from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine

            engine: Any = SageMakerRCFEngine(
                self.sagemaker, int(self.num_trees), int(self.num_samples_per_tree), feature_dim
            )
            engine.fit(self.windowing_.shingles(ds.values))
            self.forest_: RandomCutForest | StreamingForest | None = None
        else:
            check_forest_memory(
                int(self.num_trees), min(int(self.num_samples_per_tree), len(ds) - size + 1),
                feature_dim, "RCFDetector.fit", elsewhere=", or train on SageMaker (sagemaker=)",
                itemsize=np.dtype(self.dtype).itemsize,
            )
            engine = RandomCutForest(
                int(self.num_trees),
                int(self.num_samples_per_tree),
                score_type=self.score_type,  # type: ignore[arg-type]
                random_state=self.random_state,
                n_jobs=self.n_jobs,
                dtype=self.dtype,
            ).fit_series(self._local_values(ds, "fit", first=True), size)
            self.forest_ = engine
        self.engine_ = engine

    def _window_scores(self, values: np.ndarray) -> np.ndarray:
        if self.forest_ is not None:
            return self.forest_.score_series(values, self.windowing_.size)
        engine = self.engine_
        if engine.resolve_scoring(self.windowing_.n_windows(len(values))) != "endpoint":
            # one batch transform job for the whole series (it stages the rows in parts)
            return np.asarray(engine.score(self.windowing_.shingles(values)), dtype=np.float64)
        # one endpoint for all batches of shingles (each batch stays under ~256 MB)
        with engine.endpoint():
            out = [
                np.asarray(engine.score(batch), dtype=np.float64).reshape(-1)
                for _, batch in self.windowing_.iter_shingles(values)
            ]
        return np.concatenate(out)

    # ------------------------------------------------------------------ SageMaker
    @classmethod
    def attach(
        cls,
        training_job_name: str,
        sagemaker: Any,
        data: Any,
        *,
        shingle_size: int | None = None,
        threshold: Threshold | None = None,
    ) -> RCFDetector:
        """A fitted detector from a finished SageMaker RCF training job (waits if running).

        Parameters
        ----------
        training_job_name : str
            The job (started by anomark or by hand with SageMaker's RCF image).
        sagemaker : SageMakerConfig
            Session, region and scoring settings.
        data : Dataset, DataFrame, Series or array
            Reference data with the training columns: scored (remotely) to fit the threshold.
        shingle_size : int, optional
            Rows per shingle; default ``feature_dim / n_columns`` of the job.
        threshold : Threshold, optional
            Threshold rule (default ``mean_std(3)``).

        Raises
        ------
        RemoteJobError
            Unknown, failed or stopped job, or not an RCF job.
        ConfigurationError
            The job's ``feature_dim`` does not match ``shingle_size`` x the data's columns.
        """
        from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine

        engine = SageMakerRCFEngine.attach(training_job_name, sagemaker)
        return cls._from_engine(engine, sagemaker, data, shingle_size, threshold)

    @classmethod
    def from_endpoint(
        cls,
        name: str,
        sagemaker: Any,
        data: Any,
        *,
        shingle_size: int = 1,
        threshold: Threshold | None = None,
    ) -> RCFDetector:
        """A detector that scores with an existing RCF endpoint (never deleted by anomark).

        ``data`` (reference data with the training columns) is scored through the endpoint to
        fit the threshold; ``shingle_size`` must be the one the endpoint's model was trained
        with. ``num_trees``/``num_samples_per_tree`` keep their defaults: the endpoint does not
        tell them.
        """
        from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine

        ds = Dataset.from_any(data)
        size = check_param(
            shingle_size, "shingle_size", cls._parameter_constraints["shingle_size"], cls.__name__
        )
        engine = SageMakerRCFEngine.from_endpoint(
            name, sagemaker, feature_dim=size * ds.n_features
        )
        return cls._from_engine(engine, sagemaker, ds, size, threshold)

    @classmethod
    def _from_engine(
        cls,
        engine: Any,
        sagemaker: Any,
        data: Any,
        shingle_size: int | None,
        threshold: Threshold | None,
    ) -> RCFDetector:
        ds = Dataset.from_any(data)
        feature_dim = int(engine.feature_dim)
        if shingle_size is None:
            shingle_size, rest = divmod(feature_dim, ds.n_features)
            if rest or shingle_size < 1:
                raise ConfigurationError(
                    f"the model has feature_dim {feature_dim}, not a multiple of the data's "
                    f"{ds.n_features} columns; pass shingle_size= and the training columns"
                )
        det = cls(
            num_trees=int(getattr(engine, "num_trees", None) or 100),
            num_samples_per_tree=int(getattr(engine, "num_samples_per_tree", None) or 256),
            shingle_size=shingle_size,
            threshold=threshold,
            sagemaker=sagemaker,
        )
        det._validate_params()
        ds = det._check_input(ds, reset=True)
        if int(shingle_size) * ds.n_features != feature_dim:
            raise ConfigurationError(
                f"shingle_size {shingle_size} x {ds.n_features} columns = "
                f"{int(shingle_size) * ds.n_features}, but the model has feature_dim "
                f"{feature_dim}"
            )
        det.windowing_ = Windowing(int(shingle_size), stride=1, align="end")
        det.feature_dim_ = feature_dim
        det.forest_ = None
        det.engine_ = engine
        scores = det._score(ds)
        det._check_scores(scores, len(ds))
        det.threshold_ = det._make_threshold().fit(scores)
        return det

    def endpoint(self) -> Any:
        """Context manager: one real-time endpoint for repeated scoring, deleted on exit.

        Only for a detector fitted with ``sagemaker=`` (or attached); inside it, ``score`` and
        ``detect`` send every batch to the open endpoint.

        >>> with det.endpoint():                       # doctest: +SKIP
        ...     monday, tuesday = det.score(mon), det.score(tue)
        """
        self._check_fitted()
        if self.forest_ is not None:
            raise ConfigurationError(
                "endpoint() needs a detector fitted on SageMaker (sagemaker=SageMakerConfig)"
            )
        return self.engine_.endpoint()

    def _score(self, ds: Dataset) -> np.ndarray:
        values = ds.values if self.forest_ is None else self._local_values(ds, "score")
        window_scores = self._window_scores(values)
        return self.windowing_.to_points(window_scores, len(ds))

    def _fit_scores(self, data: Any) -> tuple[Dataset, np.ndarray]:
        # fit starts afresh: no streaming state survives it
        for name in ("_stream_rows_", "_stream_index_", "_online_", "_fit_tail_"):
            self.__dict__.pop(name, None)
        ds, scores = super()._fit_scores(data)
        if self.forest_ is not None:
            self._start_online(ds, scores)
        return ds, scores

    def detect(
        self,
        data: Any,
        *,
        refit_threshold: bool = False,
        threshold: Threshold | None = None,
    ) -> Detection:
        """Score ``data`` and flag the points above the threshold (see :meth:`Detector.detect`).

        Events' ``located_at`` (local engine, ``score_type="anomaly"``) is where the
        anomalous values entered: the first time offset of the peak's shingle carrying at
        least half of the largest offset's attribution. After online calls whose threshold
        has not warmed up yet, nothing is flagged (threshold ``inf``) and a warning says what
        it waits for, unless ``threshold`` or ``refit_threshold`` gives another rule.
        """
        waiting = None if threshold is not None or refit_threshold else self._warming_up()
        if waiting is None:
            result = super().detect(data, refit_threshold=refit_threshold, threshold=threshold)
            return self._with_locations(result)
        warnings.warn(
            f"{type(self).__name__}.detect: the online threshold is still warming up, so no "
            f"row is flagged: {waiting}; pass threshold= or refit_threshold=True to flag by "
            "another rule",
            UserWarning,
            stacklevel=2,
        )
        ds, scores = self._score_data(data)
        return Detection(scores, math.inf, data=ds, detector=type(self).__name__)

    def fit_detect(self, data: Any) -> Detection:
        """``fit(data)`` then detect on the same data, scoring it only once (events located
        as in :meth:`detect`)."""
        return self._with_locations(super().fit_detect(data))

    # ------------------------------------------------------------------ persistence
    def _pinned_params(self) -> dict[str, Pinned]:
        size = self.windowing_.size
        pins = {"shingle_size": Pinned.equal(size, f"the model reads shingles of {size} rows")}
        if self.forest_ is None:  # SageMaker: the hyperparameters the model was trained with
            engine = self.engine_
            trees, samples = int(engine.num_trees), int(engine.num_samples_per_tree)
            pins["num_trees"] = Pinned.equal(trees, f"the SageMaker model has {trees} trees")
            pins["num_samples_per_tree"] = Pinned.equal(
                samples, f"the SageMaker model samples {samples} shingles per tree"
            )
            return pins
        forest = self.forest_
        trees, samples = int(forest.num_trees), int(forest.num_samples_per_tree)
        pins["num_trees"] = Pinned.equal(trees, f"the forest has {trees} trees")
        pins["dtype"] = Pinned.equal(forest.dtype, f"the forest holds {forest.dtype} values")
        if isinstance(forest, StreamingForest):
            pins["num_samples_per_tree"] = Pinned.equal(
                samples, f"each tree's sample holds up to {samples} shingles"
            )
            return pins
        # fit samples min(num_samples_per_tree, n_shingles) per tree: fewer than asked only
        # when the trees hold every shingle seen
        whole = int(forest.n_seen_) <= samples
        pins["num_samples_per_tree"] = Pinned(
            lambda v: v == samples or (whole and v > samples),
            f"each tree holds {samples} shingles"
            + (", all the training shingles" if whole else ""),
        )
        return pins

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.forest_ is None:
            # the model lives in SageMaker: keep the engine's references (job, model artefact)
            remote = self.engine_.to_state()
            state = {"engine": "sagemaker", "feature_dim": int(self.feature_dim_), "remote": remote}
            return state, {}
        online, online_arrays = self._online_state()
        arrays = {_ONLINE_PREFIX + k: v for k, v in online_arrays.items()}
        if isinstance(self.forest_, StreamingForest):
            arrays.update({_STREAM_PREFIX + k: v for k, v in self.forest_.to_arrays().items()})
            kind = "stream"
        else:
            arrays.update({_ARRAY_PREFIX + k: v for k, v in self.forest_.to_arrays().items()})
            arrays[_ONLINE_PREFIX + "fit_tail"] = self._fit_tail_
            kind = "local"
        return {"engine": kind, "feature_dim": int(self.feature_dim_), **online}, arrays

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        engine_kind = state.get("engine")
        if engine_kind not in ("local", "stream", "sagemaker"):
            raise PersistenceError(f"{folder}: unknown RCF engine {engine_kind!r}")
        expected = {"engine", "feature_dim"} | (
            {"remote"} if engine_kind == "sagemaker" else {"rows", "online", "index_tail"}
        )
        if set(state) != expected:
            unknown = sorted(set(state) - expected)
            missing = sorted(expected - set(state))
            raise PersistenceError(
                f"{folder}: RCF state has unknown keys {unknown} / missing keys {missing}"
            )
        feature_dim = state.get("feature_dim")
        size = int(self.shingle_size)
        n_model = self._n_model_features()  # the input columns and any seasonal residuals
        if not isinstance(feature_dim, int) or feature_dim != size * n_model:
            raise PersistenceError(
                f"{folder}: feature_dim {feature_dim!r} does not match shingle_size {size} x "
                f"{n_model} features"
            )
        self.windowing_ = Windowing(size, stride=1, align="end")
        self.feature_dim_ = feature_dim
        if engine_kind == "sagemaker":
            if self.sagemaker is None:
                raise PersistenceError(
                    f"{folder}: the detector was fitted on SageMaker but has no sagemaker config"
                )
            from anomark.detectors.rcf.sagemaker import SageMakerRCFEngine

            self.forest_ = None
            remote = state["remote"]
            if not isinstance(remote, dict):
                raise PersistenceError(f"{folder}: RCF state 'remote' must be an object")
            self.engine_ = SageMakerRCFEngine.from_state(self.sagemaker, remote)
            return
        if self.sagemaker is not None:
            raise PersistenceError(
                f"{folder}: the detector was fitted locally but its parameters name SageMaker"
            )
        online = split_prefixed(arrays, _ONLINE_PREFIX)[1]
        self._set_online_state(state, online, str(folder))
        forest: RandomCutForest | StreamingForest
        if engine_kind == "stream":
            forest = StreamingForest.from_arrays(
                split_prefixed(arrays, _STREAM_PREFIX)[1],
                num_trees=int(self.num_trees), num_samples_per_tree=int(self.num_samples_per_tree),
                shingle_size=size, time_decay=self.time_decay, output_after=self.output_after,
                score_type=self.score_type, random_state=self.random_state, n_jobs=self.n_jobs,
                dtype=self.dtype,
            )
            if forest.rows_seen_ != self._stream_rows_:
                raise PersistenceError(
                    f"{folder}: the streaming forest has seen {forest.rows_seen_} rows, the "
                    f"detector {self._stream_rows_}"
                )
        else:
            forest = RandomCutForest.from_arrays(
                split_prefixed(arrays, _ARRAY_PREFIX)[1],
                score_type=self.score_type,  # type: ignore[arg-type]
                random_state=self.random_state,
                n_jobs=self.n_jobs,
                dtype=self.dtype,
            )
            tail = np.asarray(online.get("fit_tail", np.zeros((0, 0))))
            if tail.dtype.kind != "f" or tail.shape != (
                min(size - 1, self._stream_rows_), n_model
            ) or not np.isfinite(tail).all():
                raise PersistenceError(f"{folder}: the saved last training rows are invalid")
            self._fit_tail_ = np.ascontiguousarray(tail, dtype=np.float64)
        if forest.dim != feature_dim:
            raise PersistenceError(
                f"{folder}: saved forest has dimension {forest.dim}, expected {feature_dim}"
            )
        self.forest_ = forest
        self.engine_ = forest
