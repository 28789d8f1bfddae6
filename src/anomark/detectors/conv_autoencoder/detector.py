"""Convolutional autoencoder detector (Keras 3, trained locally, optionally from many CSV files).

TensorFlow is imported only when the detector is fitted, scores or is loaded, so importing this
module (to list detectors, build the CLI...) works without it.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pandas as pd

from anomark._validation import Constraint, Options
from anomark.dataset import DataLike, Dataset
from anomark.detectors.base import SAGEMAKER, Detector, Pinned
from anomark.detectors.conv_autoencoder.container import PARAMETER_CONSTRAINTS
from anomark.detectors.conv_autoencoder.remote import ENDPOINT_CHUNK_VALUES, SageMakerScoring
from anomark.detectors.conv_autoencoder.source import (
    ArrayWindowSource,
    CSVWindowSource,
    Scaler,
    WindowSource,
    compute_column_stats,
)
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.postprocess import PostProcessor
from anomark.postprocess import _detector as _post
from anomark.threshold import Threshold
from anomark.windowing import Windowing

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

__all__ = ["ConvAutoencoderDetector"]

MODEL_FILE = "model.keras"
PathLike = str | os.PathLike[str]


def _keras_parts() -> tuple[ModuleType, ModuleType]:
    """Import the Keras-backed modules lazily (DependencyError when TensorFlow is missing)."""
    from anomark.detectors.conv_autoencoder import model, training

    return model, training


class ConvAutoencoderDetector(SageMakerScoring, Detector):
    """Anomalies as windows a convolutional autoencoder reconstructs badly.

    The model is the reference tutorial's 2-D convolutional autoencoder over windows of
    ``window_size`` time steps x all columns (see
    :func:`~anomark.detectors.conv_autoencoder.model.build_conv_autoencoder`), padded internally
    so that any window size and number of columns work, including a univariate series. Inputs
    are scaled per column with statistics learned in ``fit`` and stored with the model (never
    per batch). A window's score is its mean squared reconstruction error on the scaled data,
    credited to its last timestamp; the default threshold is ``Threshold.mean_std(2)``.

    Train on in-memory data with :meth:`fit`, or on many CSV files without loading them with
    :meth:`fit_files` (streamed through a one-time ``.npy`` cache).

    Parameters
    ----------
    window_size : int, default 48
        Time steps per window.
    epochs : int, default 10
        Maximum training epochs.
    batch_size : int, default 128
        Windows per training batch.
    random_state : int, optional
        Seeds weight initialisation, dropout and window shuffling: repeated fits on CPU give
        the same scores. ``None``: not seeded.
    filters : sequence of int, default (16, 8, 8)
        Filters of the encoder stages (the decoder mirrors them); ``len(filters)`` is the depth.
    kernel_size : int, default 4
        Square convolution kernel size.
    learning_rate : float, default 1e-3
        Adam learning rate.
    dropout : float, default 0.0
        Dropout after each encoder convolution.
    validation_split : float, default 0.0
        Fraction of rows, taken from the END of the training data (split by time, no window
        crosses the cut), used for validation loss and early stopping.
    patience : int, optional
        Stop after this many epochs without improvement of the validation loss (the training
        loss when ``validation_split=0``). ``None`` (default, as in the tutorial): all epochs.
    restore_best_weights : bool, default True
        With early stopping, keep the weights of the best epoch.
    scaling : {"minmax", "maxabs", "standard"}, default "minmax"
        Per-column scaling learned in ``fit``. ``"minmax"`` maps training data into [0, 1] and
        the model ends with a sigmoid; the other two use a linear output layer (a sigmoid cannot
        reach the negative values they produce).
    precision : {"float32", "mixed_bfloat16"}, default "float32"
        Compute dtype of the layers; bfloat16 is faster on CPUs with AVX512-BF16/AMX.
    stride : int, default 1
        Step between windows, in training and scoring (rows between two windows' last
        timestamps carry the previous score).
    deterministic : bool, default False
        Also enable TensorFlow's op determinism (process-wide and not undone) when
        ``random_state`` is set; plain seeding is already repeatable on CPU.
    verbose : {0, 1, 2}, default 0
        Keras training output.
    threshold : Threshold, optional
        Threshold rule; default ``Threshold.mean_std(2)``.
    sagemaker : SageMakerConfig, optional
        Train in SageMaker's TensorFlow container with the same training code
        (:mod:`anomark.detectors.conv_autoencoder.train_entry`): ``fit(data)`` stages the
        data as CSV, ``fit("s3://bucket/prefix/")`` / ``fit_files("s3://...")`` trains on CSV
        files already in S3. The trained model is downloaded, so scoring runs locally unless
        ``scoring="endpoint"`` (TF Serving) or inside ``with det.endpoint():``.
    postprocess : list of PostProcessor, optional
        Causal post-processing of the reconstruction errors (:mod:`anomark.postprocess`),
        applied inside ``score``/``score_files`` and fitted and saved with the detector; the
        threshold is fitted on the post-processed scores. Rules that read the input values
        (:class:`~anomark.postprocess.RangeRule`) see none with ``fit_files``/``score_files``
        and pass the scores through. Not available with ``sagemaker=`` yet.

    Attributes
    ----------
    model_ : keras.Model
        The trained autoencoder.
    scaler_ : Scaler
        Per-column ``offset``/``scale`` learned in ``fit``.
    history_ : dict
        Loss (and validation loss) per epoch.
    threshold_ : Threshold
        Fitted on the training scores.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark import ConvAutoencoderDetector
    >>> x = np.sin(np.arange(400) / 5.0)
    >>> det = ConvAutoencoderDetector(window_size=8, epochs=1, filters=(4, 4, 4),
    ...                               random_state=0).fit(x)  # doctest: +SKIP
    >>> det.score(x).shape  # doctest: +SKIP
    (400,)
    """

    name: ClassVar[str] = "conv-ae"
    default_threshold: ClassVar[tuple[str, float]] = ("mean_std", 2.0)
    window_param: ClassVar[str | None] = "window_size"
    min_window: ClassVar[int] = 2
    benchmark_params: ClassVar[Mapping[str, Any]] = MappingProxyType(
        {"epochs": 20, "batch_size": 32}
    )
    #: The SageMaker engine after a fit with ``sagemaker=`` (None after a local fit).
    engine_: Any
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        **Detector._parameter_constraints,
        **PARAMETER_CONSTRAINTS,
        "verbose": [Options(0, 1, 2, "auto")],
        "sagemaker": [SAGEMAKER, None],
    }

    def __init__(
        self,
        window_size: int = 48,
        epochs: int = 10,
        batch_size: int = 128,
        random_state: int | None = None,
        *,
        filters: Sequence[int] = (16, 8, 8),
        kernel_size: int = 4,
        learning_rate: float = 1e-3,
        dropout: float = 0.0,
        validation_split: float = 0.0,
        patience: int | None = None,
        restore_best_weights: bool = True,
        scaling: Literal["minmax", "maxabs", "standard"] = "minmax",
        precision: Literal["float32", "mixed_bfloat16"] = "float32",
        stride: int = 1,
        deterministic: bool = False,
        verbose: int = 0,
        threshold: Threshold | None = None,
        sagemaker: Any = None,
        postprocess: list[PostProcessor] | None = None,
    ) -> None:
        self.window_size = window_size
        self.epochs = epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.filters = filters
        self.kernel_size = kernel_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.validation_split = validation_split
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.scaling = scaling
        self.precision = precision
        self.stride = stride
        self.deterministic = deterministic
        self.verbose = verbose
        self.threshold = threshold
        self.sagemaker = sagemaker
        self.postprocess = postprocess

    # ------------------------------------------------------------------ params
    def _min_rows(self) -> int:
        return int(self.window_size)

    def _windowing(self) -> Windowing:
        return Windowing(int(self.window_size), int(self.stride))

    # ------------------------------------------------------------------ training
    def _split_starts(self, source: WindowSource) -> tuple[np.ndarray, np.ndarray | None]:
        n = source.n_rows
        w = int(self.window_size)
        if n < w:
            raise DataError(
                f"{type(self).__name__} needs at least window_size={w} rows to fit, got {n}"
            )
        if not self.validation_split:
            return source.window_starts(0, n), None
        n_val = math.ceil(n * float(self.validation_split))
        cut = n - n_val
        if cut < w or n_val < w:
            raise DataError(
                f"validation_split={self.validation_split} splits {n} rows into {cut} training "
                f"and {n_val} validation rows; both need at least window_size={w} rows "
                "(use more data, a smaller window or validation_split=0)"
            )
        return source.window_starts(0, cut), source.window_starts(cut, n)

    def _train(
        self,
        source: WindowSource,
        *,
        workers: int = 1,
        use_multiprocessing: bool = False,
        cluster: Any = None,
    ) -> None:
        model_mod, training = _keras_parts()
        parallel = cluster is not None and int(cluster.n_workers) > 1
        train_starts, val_starts = self._split_starts(source)
        stats = compute_column_stats(source)
        if parallel:
            if val_starts is not None:
                raise ConfigurationError(
                    "validation_split is not supported in data-parallel training (several "
                    "hosts); use validation_split=0"
                )
            stats = training.cluster_column_stats(cluster, source, stats)
        scaler = Scaler.from_stats(stats, self.scaling)
        training.set_seed(self.random_state, deterministic=bool(self.deterministic))

        def build() -> Any:
            return model_mod.build_conv_autoencoder(
                int(self.window_size),
                source.n_features,
                filters=[int(f) for f in self.filters],
                kernel_size=int(self.kernel_size),
                learning_rate=float(self.learning_rate),
                dropout=float(self.dropout),
                output_activation=scaler.output_activation,
                precision=self.precision,
            )

        with cluster.scope() if parallel else contextlib.nullcontext():
            model = build()
        kwargs: dict[str, Any] = {
            "scaler": scaler,
            "workers": workers,
            "use_multiprocessing": use_multiprocessing,
        }
        train = training.WindowBatches(
            source,
            train_starts,
            int(self.batch_size),
            shuffle=True,
            seed=self.random_state,
            **kwargs,
        )
        if parallel:
            self.history_ = training.train_data_parallel(
                model,
                train,
                cluster,
                epochs=int(self.epochs),
                patience=self.patience,
                restore_best_weights=bool(self.restore_best_weights),
                verbose=self.verbose,
            )
            trained, model = model, build()  # a plain copy: no distributed variables
            model.set_weights(trained.get_weights())
            model.optimizer.build(model.trainable_variables)
            for mine, theirs in zip(
                model.optimizer.variables, trained.optimizer.variables, strict=True
            ):
                mine.assign(np.asarray(theirs))
        else:
            val = None
            if val_starts is not None:
                val = training.WindowBatches(source, val_starts, int(self.batch_size), **kwargs)
            self.history_ = training.train_autoencoder(
                model,
                train,
                val,
                epochs=int(self.epochs),
                patience=self.patience,
                restore_best_weights=bool(self.restore_best_weights),
                verbose=self.verbose,
            )
        self.model_ = model
        self.scaler_ = scaler

    def _fit(self, ds: Dataset) -> None:
        if self.sagemaker is not None:
            self._fit_sagemaker(ds, adopt_threshold=False)
            return
        self.engine_ = None
        source = ArrayWindowSource(ds.values, int(self.window_size), int(self.stride), ds.columns)
        self._train(source)

    def fit(self, data: DataLike | CSVWindowSource, y: Any = None) -> ConvAutoencoderDetector:
        """Train the autoencoder, score the training data and fit the threshold.

        Parameters
        ----------
        data : Dataset, DataFrame, Series, array, CSVWindowSource or "s3://..." prefix
            Training data (rows = time steps); a :class:`CSVWindowSource` is streamed as in
            :meth:`fit_files`; an ``s3://`` prefix of CSV files trains on SageMaker (needs
            ``sagemaker=``). With ``sagemaker=``, the threshold is the one the training
            container fitted on the training scores (the data is not scored again here).
        y : ignored

        Returns
        -------
        self
        """
        if isinstance(data, CSVWindowSource) or (
            isinstance(data, str) and data.startswith("s3://")
        ):
            return self.fit_files(data)
        if self.sagemaker is not None:
            self._validate_params()
            ds = self._check_input(data, reset=True)
            self._fit_sagemaker(ds, adopt_threshold=True)
            return self
        self._fit_scores(data)
        return self

    def fit_files(
        self,
        paths: PathLike | Sequence[PathLike] | CSVWindowSource,
        *,
        time_column: str | None = None,
        columns: Sequence[str] | None = None,
        cache_dir: PathLike | None = None,
        progress: bool = True,
        workers: int = 1,
        use_multiprocessing: bool = False,
        read_csv_kwargs: Mapping[str, Any] | None = None,
        cluster: Any = None,
    ) -> ConvAutoencoderDetector:
        """Train on many CSV files without loading them all into memory.

        The files are converted once into a ``.npy`` cache (see
        :class:`~anomark.detectors.conv_autoencoder.source.CSVWindowSource`); the scaling
        statistics come from one streaming pass over the cache, training reads shuffled windows
        straight from it, and the training data is then scored window by window to fit the
        threshold.

        Parameters
        ----------
        paths : str, path, list of them, or CSVWindowSource
            CSV files, glob patterns or folders (e.g. a local copy of an S3 prefix), in any
            order (files are ordered by time), or a prepared source (then the other reading
            options are ignored).
        time_column : str, optional
            Timestamp column; detected when omitted.
        columns : sequence of str, optional
            Value columns to use (default: all).
        cache_dir : str or path, optional
            Cache folder (default ``$ANOMARK_CACHE_DIR`` or ``~/.cache/anomark/windows``).
        progress : bool, default True
            Progress bar while converting CSV files (training output follows ``verbose``).
        workers, use_multiprocessing : int, bool
            Parallel batch loading (Keras ``PyDataset`` options).
        read_csv_kwargs : mapping, optional
            Passed to :func:`pandas.read_csv`.
        cluster : MultiWorkerCluster, optional
            Train data-parallel with the other processes of this cluster, each on its own
            files (:class:`~anomark.detectors.conv_autoencoder.training.MultiWorkerCluster`;
            the SageMaker entry script passes one on multi-host jobs). The scaling comes
            from the statistics of all workers' rows and the threshold from all their
            training scores, so every worker ends with the same detector.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Unreadable, non-numeric or overlapping files, or too few rows.
        ConfigurationError
            Invalid parameters.
        """
        self._validate_params()
        if self.sagemaker is not None or (isinstance(paths, str) and paths.startswith("s3://")):
            if self.sagemaker is None:
                raise ConfigurationError(
                    f"{paths} is in S3: training on an S3 prefix needs sagemaker=SageMakerConfig"
                    "(...); to train locally, copy the files to a local folder first"
                )
            if not (isinstance(paths, str) and paths.startswith("s3://")):
                raise ConfigurationError(
                    "with sagemaker=, fit_files takes an s3://bucket/prefix/ of CSV files; "
                    "upload local files there, or pass in-memory data to fit()"
                )
            self._fit_sagemaker(paths, adopt_threshold=True)
            return self
        self.engine_ = None
        source = self._as_source(paths, time_column, columns, cache_dir, progress, read_csv_kwargs)
        source.prepare()
        self.n_features_in_ = source.n_features
        self.feature_names_in_ = np.asarray(source.columns, dtype=object)
        self._fitted_with_names_ = True
        self._train(
            source, workers=workers, use_multiprocessing=use_multiprocessing, cluster=cluster
        )
        scores = self._source_scores(source)
        self._check_scores(scores, source.n_rows)
        if cluster is not None and int(cluster.n_workers) > 1:
            scores = np.concatenate(cluster.gather(scores))  # every shard, in worker order
        scores = _post.fit_postprocess(self, scores, None)  # postprocess= steps
        self.threshold_ = self._make_threshold().fit(scores)
        return self

    def score_files(
        self,
        paths: PathLike | Sequence[PathLike] | CSVWindowSource,
        *,
        time_column: str | None = None,
        cache_dir: PathLike | None = None,
        progress: bool = True,
        read_csv_kwargs: Mapping[str, Any] | None = None,
    ) -> pd.Series:
        """Score many CSV files streamed through the cache (one score per row, time-indexed).

        The files must have the training columns (selected by name). Windows span file
        boundaries, as in :meth:`fit_files`. An ``s3://bucket/prefix/`` of CSV files is
        downloaded first (needs ``sagemaker=`` for the session). A detector fitted on
        SageMaker scores as its engine says (``scoring``): locally, through an endpoint, or
        with a batch transform job for large inputs.

        Returns
        -------
        pandas.Series
            Indexed by timestamp, named ``"score"``.
        """
        self._check_fitted()
        if isinstance(paths, str) and paths.startswith("s3://"):
            from anomark.sagemaker.staging import download_objects

            with tempfile.TemporaryDirectory(prefix="anomark-s3-") as tmp:
                local = download_objects(
                    self._s3_client(), paths, tmp, suffixes=(".csv", ".csv.gz")
                )
                return self.score_files(
                    [str(p) for p in local],
                    time_column=time_column,
                    cache_dir=cache_dir,
                    progress=progress,
                    read_csv_kwargs=read_csv_kwargs,
                )
        names = [str(c) for c in self.feature_names_in_]
        source = self._as_source(paths, time_column, None, cache_dir, progress, read_csv_kwargs)
        if source.columns != names:
            missing = [c for c in names if c not in source.columns]
            if missing or isinstance(paths, CSVWindowSource):
                raise DataError(
                    f"the files have columns {source.columns}, expected the training columns "
                    f"{names} (missing {missing})"
                )
            # extra or reordered columns: select the training columns by name
            source = self._as_source(
                paths, time_column, names, cache_dir, progress, read_csv_kwargs
            )
        if source.n_rows < int(self.window_size):
            raise DataError(
                f"{type(self).__name__} needs at least {self.window_size} rows to score, "
                f"got {source.n_rows}"
            )
        scores = self._source_scores(source)
        self._check_scores(scores, source.n_rows)
        scores = _post.transform_postprocess(self, scores, None)  # postprocess= steps
        return pd.Series(scores, index=source.timestamps(), name="score")

    def _as_source(
        self,
        paths: Any,
        time_column: str | None,
        columns: Sequence[str] | None,
        cache_dir: PathLike | None,
        progress: bool,
        read_csv_kwargs: Mapping[str, Any] | None,
    ) -> CSVWindowSource:
        if isinstance(paths, CSVWindowSource):
            if paths.window_size != int(self.window_size) or paths.stride != int(self.stride):
                raise ConfigurationError(
                    f"the CSVWindowSource has window_size={paths.window_size}, "
                    f"stride={paths.stride} but the detector window_size={self.window_size}, "
                    f"stride={self.stride}"
                )
            return paths
        return CSVWindowSource(
            paths,
            int(self.window_size),
            int(self.stride),
            time_column=time_column,
            columns=columns,
            cache_dir=cache_dir,
            progress=progress,
            read_csv_kwargs=read_csv_kwargs,
        )

    # ------------------------------------------------------------------ scoring
    def _window_errors(self, source: WindowSource, per_feature: bool = False) -> np.ndarray:
        _, training = _keras_parts()
        starts = source.window_starts()
        return training.reconstruction_errors(  # type: ignore[no-any-return]
            self.model_, source, starts, self.scaler_, per_feature=per_feature
        )

    def _source_scores(self, source: WindowSource) -> np.ndarray:
        mode = self._remote_mode(source)
        if mode == "endpoint":
            errors = self.engine_.endpoint_window_errors(source)
        elif mode == "batch":
            errors = self.engine_.batch_window_errors(source)
        else:
            errors = self._window_errors(source)
        return self._windowing().to_points(np.asarray(errors, dtype=np.float64), source.n_rows)

    def _score(self, ds: Dataset) -> np.ndarray:
        source = ArrayWindowSource(ds.values, int(self.window_size), int(self.stride))
        return self._source_scores(source)

    def feature_scores(self, data: DataLike) -> pd.DataFrame:
        """Reconstruction error per timestamp AND column: which column drove an anomaly.

        Each window's mean squared error per column (on the scaled data) is credited to its
        timestamps like :meth:`score`; the row mean equals :meth:`score`. A detector fitted on
        SageMaker asks the endpoint (``feature_scores`` signature) when it scores through one,
        and uses the downloaded model otherwise.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Data with the training columns.

        Returns
        -------
        pandas.DataFrame
            Index of ``data``, one column per feature.
        """
        self._check_fitted()
        ds = self._check_input(data, reset=False)
        source = ArrayWindowSource(ds.values, int(self.window_size), int(self.stride))
        if self._remote_mode(source) == "endpoint":
            errors = self._endpoint_errors(source, self.engine_.feature_scores_windows)
        else:
            errors = self._window_errors(source, per_feature=True)
        points = self._windowing().to_points(np.asarray(errors, dtype=np.float64), len(ds))
        return pd.DataFrame(
            points, index=ds.index, columns=[str(c) for c in self.feature_names_in_]
        )

    def reconstruct(self, data: DataLike) -> pd.DataFrame:
        """The model's reconstruction of ``data`` in the original units, for plotting.

        Every timestamp averages its reconstructions from all windows (stride 1) covering it.
        A detector fitted on SageMaker asks the endpoint (``serving_default``) when it scores
        through one.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Data with the training columns.

        Returns
        -------
        pandas.DataFrame
            Same index and columns as the input.
        """
        self._check_fitted()
        ds = self._check_input(data, reset=False)
        w = int(self.window_size)
        source = ArrayWindowSource(ds.values, w, 1)
        starts = source.window_starts()
        total = np.zeros((len(ds), ds.n_features))
        count = np.zeros((len(ds), 1))
        rebuild: Callable[[np.ndarray], np.ndarray]
        if self._remote_mode(source) == "endpoint":
            chunk = max(1, ENDPOINT_CHUNK_VALUES // (w * ds.n_features))
            context: Any = self.engine_.endpoint()

            def rebuild(x: np.ndarray) -> np.ndarray:
                return np.asarray(self.engine_.reconstruct_windows(x))[..., 0]

        else:
            _, training = _keras_parts()
            chunk = training.predict_chunk_size(self.model_)
            context = contextlib.nullcontext()

            def rebuild(x: np.ndarray) -> np.ndarray:
                return np.asarray(training.reconstruct_windows(self.model_, x))

        with context:
            for a in range(0, len(starts), chunk):
                part = starts[a : a + chunk]
                rec = rebuild(self.scaler_.transform(source.read_windows(part)))
                for j in range(w):  # overlap-add; starts are distinct, so no index repeats
                    total[part + j] += rec[:, j, :]
                    count[part + j] += 1.0
        values = self.scaler_.inverse(total / count)
        return pd.DataFrame(
            values, index=ds.index, columns=[str(c) for c in self.feature_names_in_]
        )

    # ------------------------------------------------------------------ persistence
    def _pinned_params(self) -> dict[str, Pinned]:
        model = self.model_
        layers = {layer.name: layer for layer in model.layers}
        convs = [layers[n] for n in sorted(layers) if n.startswith("encoder_conv_")]
        convs.sort(key=lambda layer: int(layer.name.rsplit("_", 1)[1]))
        dropout = layers.get("encoder_dropout_0")
        rate = float(dropout.rate) if dropout is not None else 0.0
        filters = [int(c.filters) for c in convs]
        kernel = int(convs[0].kernel_size[0])
        window = int(model.input_shape[1])
        precision = str(convs[0].dtype_policy.name)
        pins = {
            "window_size": Pinned.equal(window, f"the model takes windows of {window} rows"),
            "filters": Pinned.equal(filters, f"the encoder has filters {filters}"),
            "kernel_size": Pinned.equal(kernel, f"the convolutions have {kernel}x{kernel} kernels"),
            "dropout": Pinned(lambda v: float(v) == rate, f"the encoder drops out {rate}"),
            "precision": Pinned.equal(precision, f"the layers compute in {precision}"),
            "scaling": Pinned.equal(
                self.scaler_.method, f"the data was scaled with {self.scaler_.method!r}"
            ),
        }
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            lr = np.float32(np.asarray(optimizer.learning_rate))
            pins["learning_rate"] = Pinned(
                lambda v: np.float32(v) == lr, f"the optimizer has learning rate {float(lr):.6g}"
            )
        loss = self.history_.get("loss") if isinstance(self.history_, dict) else None
        if loss:  # a trained model knows how long it trained and whether it validated
            ran, stops = len(loss), self.patience is not None
            pins["epochs"] = Pinned(
                lambda v: v >= ran if stops else v == ran,
                f"training ran {ran} epoch(s)" + ("" if stops else " without early stopping"),
            )
            validated = "val_loss" in self.history_
            pins["validation_split"] = Pinned(
                lambda v: (float(v) > 0.0) == validated,
                "the training history has " + ("a" if validated else "no") + " validation loss",
            )
        return pins

    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        history = {
            k: [v if math.isfinite(v) else None for v in vals] for k, vals in self.history_.items()
        }
        state: dict[str, Any] = {
            "scaling": self.scaler_.method,
            "history": history,
            # who wrote model.keras: a model saved in a training container must name the
            # Keras/TensorFlow it came from when the client's cannot load it
            "writer": _framework_versions(),
        }
        engine = getattr(self, "engine_", None)
        if engine is not None:
            state["sagemaker_engine"] = engine.to_state()
        arrays = {"scale_offset": self.scaler_.offset, "scale_scale": self.scaler_.scale}
        return state, arrays

    def _write_extra_files(self, folder: Path) -> list[str]:
        self.model_.save(folder / MODEL_FILE)
        return [MODEL_FILE]

    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        from anomark._optional import require_keras

        keras = require_keras()
        offset = np.asarray(arrays["scale_offset"], dtype=np.float64)
        scale = np.asarray(arrays["scale_scale"], dtype=np.float64)
        n = int(self.n_features_in_)
        if offset.shape != (n,) or scale.shape != (n,) or not (scale > 0).all():
            raise PersistenceError(f"{folder}: scaling arrays do not match {n} features")
        if state["scaling"] != self.scaling:
            raise PersistenceError(
                f"{folder}: saved scaling {state['scaling']!r} differs from parameter "
                f"{self.scaling!r}"
            )
        unknown = set(state) - {"scaling", "history", "sagemaker_engine", "writer"}
        if unknown:
            raise PersistenceError(f"{folder}: unknown state key(s) {sorted(unknown)}")
        history = state["history"]
        if not isinstance(history, dict):
            raise PersistenceError(f"{folder}: history must be an object")
        engine: Any = None
        if "sagemaker_engine" in state:
            if self.sagemaker is None:
                raise PersistenceError(
                    f"{folder}: the detector was fitted on SageMaker but has no sagemaker config"
                )
            from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine

            try:
                engine = SageMakerConvAEEngine.from_state(self.sagemaker, state["sagemaker_engine"])
            except ConfigurationError as exc:
                raise PersistenceError(f"{folder}: invalid SageMaker state: {exc}") from None
            engine.adopt(self.get_params(), n)
        self.engine_ = engine
        writer = state.get("writer", {})
        if not isinstance(writer, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in writer.items()
        ):
            raise PersistenceError(f"{folder}: writer must map package names to versions")
        try:
            model = keras.saving.load_model(folder / MODEL_FILE, safe_mode=True)
        except Exception as exc:
            raise PersistenceError(_load_failure(folder, writer, exc)) from None
        expected = (None, int(self.window_size), n, 1)
        if tuple(model.input_shape) != expected:
            raise PersistenceError(
                f"{folder}: the saved model takes {model.input_shape}, expected {expected} "
                f"(window_size={self.window_size}, {n} feature(s))"
            )
        self.model_ = model
        self.scaler_ = Scaler(self.scaling, offset, scale)
        self.history_ = {
            str(k): [float("nan") if v is None else float(v) for v in vals]
            for k, vals in history.items()
        }


def _framework_versions() -> dict[str, str]:
    """Versions of Keras and TensorFlow installed (``tensorflow-cpu`` counts as TensorFlow)."""
    from anomark._optional import installed_versions

    return installed_versions(("keras", "tensorflow"))


def _load_failure(folder: Path, writer: Mapping[str, str], exc: BaseException) -> str:
    """The message for a ``model.keras`` that does not load, naming writer and reader."""

    def describe(versions: Mapping[str, str]) -> str:
        return (
            f"Keras {versions.get('keras', '?')} (TensorFlow {versions.get('tensorflow', '?')})"
        )

    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    cause = (lines[-1] if lines else type(exc).__name__)[:400]  # Keras' innermost reason
    here = _framework_versions()
    if writer and any(writer.get(k) != here.get(k) for k in ("keras", "tensorflow")):
        return (
            f"{folder}: cannot load {MODEL_FILE}: it was written by {describe(writer)} and this "
            f"process has {describe(here)} ({cause}); install keras=={writer.get('keras', '?')} "
            "(and the matching TensorFlow) to load it, or retrain with the same versions on both "
            "sides (for SageMaker, pick the training image's framework_version to match your "
            "client)"
        )
    return f"{folder}: cannot load {MODEL_FILE}: {cause}"
