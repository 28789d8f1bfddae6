"""Training loop and streaming inference for the convolutional autoencoder.

Used by the local detector and by the SageMaker entry script alike. Importing this module
imports Keras 3 (TensorFlow backend); a missing installation raises
:class:`~anomark.errors.DependencyError` naming ``anomark[tensorflow]``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from anomark._optional import require_keras
from anomark.detectors.conv_autoencoder.model import padding_for
from anomark.detectors.conv_autoencoder.source import ColumnStats, Scaler, WindowSource
from anomark.errors import ConfigurationError, DataError
from anomark.scoring import ReconstructionScorer

keras = require_keras()
logger = logging.getLogger("anomark.training")

__all__ = [
    "Cluster",
    "EpochTimer",
    "MultiWorkerCluster",
    "WindowBatches",
    "cluster_column_stats",
    "predict_chunk_size",
    "reconstruct_windows",
    "reconstruction_errors",
    "set_seed",
    "train_autoencoder",
    "train_data_parallel",
]


def set_seed(random_state: int | None, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow (``keras.utils.set_random_seed``).

    With ``deterministic=True`` also turn on TensorFlow's op determinism, which is
    process-wide and stays on (``tf.config.experimental.enable_op_determinism``).
    """
    if random_state is None:
        return
    keras.utils.set_random_seed(int(random_state))
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


class WindowBatches(keras.utils.PyDataset):  # type: ignore[misc,name-defined]
    """Batches ``(x, x)`` of scaled windows from a :class:`WindowSource`, for ``Model.fit``.

    Every window start in ``starts`` is delivered exactly once per epoch, the last partial batch
    included. With ``shuffle=True`` the window starts are permuted here (reshuffled at every
    epoch end), so pass ``shuffle=False`` to ``Model.fit``: shuffling the batch order there
    gains nothing and defeats read locality.

    Parameters
    ----------
    source : WindowSource
        Where windows are read from.
    starts : numpy.ndarray
        Start rows of the windows to deliver (see :meth:`WindowSource.window_starts`).
    batch_size : int
        Windows per batch.
    scaler : Scaler, optional
        Fixed per-column scaling applied to every window (``None``: cast to float32 only).
    shuffle : bool, default False
        Permute the window starts every epoch.
    seed : int, optional
        Seed of the shuffling (repeatable epochs).
    workers, use_multiprocessing, max_queue_size
        Passed to ``keras.utils.PyDataset`` (Keras 3 takes them here, not in ``fit``).
    """

    def __init__(
        self,
        source: WindowSource,
        starts: np.ndarray,
        batch_size: int,
        *,
        scaler: Scaler | None = None,
        shuffle: bool = False,
        seed: int | None = None,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ) -> None:
        super().__init__(
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
        )
        if batch_size < 1:
            raise ConfigurationError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.starts = np.asarray(starts, dtype=np.int64)
        if self.starts.size == 0:
            raise ConfigurationError("no windows to deliver (the data is shorter than a window)")
        self.batch_size = int(batch_size)
        self.scaler = scaler
        self.shuffle = shuffle
        self._rng = np.random.default_rng(seed)
        self.epoch = 0
        self.order = self._rng.permutation(self.starts) if shuffle else self.starts

    def __len__(self) -> int:
        return math.ceil(len(self.starts) / self.batch_size)

    def batch_starts(self, index: int) -> np.ndarray:
        """Window start rows of batch ``index`` in the current epoch."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range 0..{len(self) - 1}")
        return self.order[index * self.batch_size : (index + 1) * self.batch_size]

    def windows(self, index: int) -> np.ndarray:
        """Scaled float32 windows of batch ``index``: ``(k, window_size, n_features)``."""
        raw = self.source.read_windows(self.batch_starts(index))
        if self.scaler is None:
            return raw.astype(np.float32, copy=False)
        return self.scaler.transform(raw)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        x = self.windows(index)[..., None]
        return x, x

    def on_epoch_end(self) -> None:
        """Reshuffle the window starts for the next epoch (when ``shuffle``)."""
        self.epoch += 1
        if self.shuffle:
            self.order = self._rng.permutation(self.starts)


class EpochTimer(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
    """Records the wall-clock seconds of every epoch in ``seconds``."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def train_autoencoder(
    model: Any,
    train: WindowBatches,
    validation: WindowBatches | None = None,
    *,
    epochs: int = 10,
    patience: int | None = None,
    restore_best_weights: bool = True,
    verbose: int | str = 0,
    callbacks: Sequence[Any] = (),
) -> dict[str, list[float]]:
    """Fit ``model`` on streamed batches; return the Keras history (loss per epoch).

    The returned dict also holds ``"epoch_seconds"``: wall-clock time of every epoch (the first
    includes tracing the training function).

    Parameters
    ----------
    model : keras.Model
        A compiled autoencoder (see
        :func:`~anomark.detectors.conv_autoencoder.model.build_conv_autoencoder`).
    train, validation : WindowBatches
        Training batches (shuffled by the source, so ``fit`` gets ``shuffle=False``) and
        optional validation batches (the time-wise last part of the data).
    epochs : int
        Maximum number of epochs.
    patience : int, optional
        Early stopping after this many epochs without improvement of ``val_loss`` (of ``loss``
        without validation data). ``None``: train all epochs.
    restore_best_weights : bool, default True
        With early stopping, keep the weights of the best epoch.
    verbose : int or "auto"
        Keras progress output (0 silent, 1 progress bar, 2 one line per epoch).
    callbacks : sequence of keras.callbacks.Callback
        Extra callbacks (e.g. checkpoints on SageMaker).
    """
    timer = EpochTimer()
    cbs = [*callbacks, timer]
    if patience is not None:
        cbs.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss" if validation is not None else "loss",
                patience=int(patience),
                restore_best_weights=bool(restore_best_weights),
            )
        )
    history = model.fit(
        train,
        validation_data=validation,
        epochs=int(epochs),
        shuffle=False,
        verbose=verbose,
        callbacks=cbs,
    )
    out = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    out["epoch_seconds"] = [round(t, 4) for t in timer.seconds]
    return out


def predict_chunk_size(model: Any, budget: int = 2**24) -> int:
    """Windows per inference call so that one layer's activations stay near ``budget`` floats."""
    _, h, w, _ = model.input_shape
    depth = sum(1 for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D))
    ph, pw = padding_for(int(h), int(w), depth)
    widest = max(
        (int(layer.filters) for layer in model.layers if isinstance(layer, keras.layers.Conv2D)),
        default=1,
    )
    return max(1, budget // ((h + ph) * (w + pw) * widest))


_PREDICT_FNS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _predict_fn(model: Any) -> Any:
    """A traced inference function per model (cheaper per call than ``predict_on_batch``)."""
    fn = _PREDICT_FNS.get(model)
    if fn is None:
        import tensorflow as tf

        ref = weakref.ref(model)  # the function must not keep the model alive
        _, h, w, c = model.input_shape
        spec = tf.TensorSpec([None, h, w, c], tf.float32)

        def call(x: Any) -> Any:
            return ref()(x, training=False)  # type: ignore[misc]

        fn = tf.function(call, input_signature=[spec])  # traced once per model
        _PREDICT_FNS[model] = fn
    return fn


def reconstruct_windows(model: Any, scaled: np.ndarray) -> np.ndarray:
    """Reconstructions ``(k, window_size, n_features)`` of already scaled windows (float32)."""
    x = np.ascontiguousarray(scaled, dtype=np.float32)[..., None]
    out = _predict_fn(model)(x)
    return np.asarray(out.numpy(), dtype=np.float32)[..., 0]


def reconstruction_errors(
    model: Any,
    source: WindowSource,
    starts: np.ndarray,
    scaler: Scaler,
    *,
    per_feature: bool = False,
    chunk_windows: int | None = None,
) -> np.ndarray:
    """Mean squared reconstruction error of each window, streamed chunk by chunk.

    Errors are measured on the scaled data (so columns are comparable) with
    :class:`~anomark.scoring.ReconstructionScorer`; reconstructions are never all held at once.

    Returns
    -------
    numpy.ndarray
        ``(len(starts),)``, or ``(len(starts), n_features)`` with ``per_feature=True``.
    """
    starts = np.asarray(starts, dtype=np.int64)
    chunk = chunk_windows or predict_chunk_size(model)
    scorer = ReconstructionScorer("mse", per_feature=per_feature)
    parts = []
    for a in range(0, len(starts), chunk):
        x = scaler.transform(source.read_windows(starts[a : a + chunk]))
        parts.append(scorer.score(x, reconstruct_windows(model, x)))
    if not parts:
        shape = (0, source.n_features) if per_feature else (0,)
        return np.zeros(shape)
    return np.concatenate(parts)


# ---------------------------------------------------------------------------- data parallel
class Cluster:
    """The processes that train one model together: here, this process alone.

    :class:`MultiWorkerCluster` is the data-parallel case. The detector's training asks its
    cluster for the variable scope, to exchange small arrays (scaling statistics, training
    scores) and whether this process saves the result (the chief).
    """

    n_workers: int = 1
    index: int = 0

    @property
    def is_chief(self) -> bool:
        """Whether this process saves the model (worker 0)."""
        return self.index == 0

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """Context in which the model's variables are created."""
        return contextlib.nullcontext()

    def gather(self, values: np.ndarray) -> list[np.ndarray]:
        """Every worker's ``values`` (float64, any first-axis length), in worker order."""
        return [np.asarray(values, dtype=np.float64)]


class MultiWorkerCluster(Cluster):
    """Data-parallel training with ``tf.distribute.MultiWorkerMirroredStrategy``.

    The cluster comes from ``TF_CONFIG`` (``{"cluster": {"worker": ["host:port", ...]},
    "task": {"type": "worker", "index": i}}``), as SageMaker's TensorFlow toolkit sets it for
    ``multi_worker_mirrored_strategy``. Variables are created in the strategy's scope (worker
    0's initial values are broadcast), gradients are summed across workers at every step, so
    every worker ends with the same weights.

    Parameters
    ----------
    strategy : tf.distribute.MultiWorkerMirroredStrategy, optional
        Default: a new one (connects to the other workers; all must start).
    timeout : float, default 900
        Seconds a collective operation waits for the other workers before failing, so that a
        worker that died (bad data on its shard...) fails the job instead of leaving the
        others waiting until the job's ``max_runtime``.
    """

    def __init__(self, strategy: Any = None, *, timeout: float = 900.0) -> None:
        import tensorflow as tf

        self.strategy = strategy if strategy is not None else (
            tf.distribute.MultiWorkerMirroredStrategy(
                communication_options=tf.distribute.experimental.CommunicationOptions(
                    timeout_seconds=float(timeout)
                )
            )
        )
        resolver = self.strategy.cluster_resolver
        self.n_workers = int(resolver.cluster_spec().num_tasks("worker"))
        self.index = int(resolver.task_id)
        self._tf = tf

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        return self.strategy.scope()  # type: ignore[no-any-return]

    def _gather_fixed(self, values: np.ndarray) -> np.ndarray:
        tf = self._tf
        tensor = tf.constant(np.asarray(values, dtype=np.float64)[None])
        per_replica = self.strategy.run(lambda: tf.identity(tensor))
        return np.asarray(self.strategy.gather(per_replica, axis=0).numpy())

    def gather(self, values: np.ndarray) -> list[np.ndarray]:
        arr = np.asarray(values, dtype=np.float64)
        lengths = self._gather_fixed(np.array([arr.shape[0]], dtype=np.float64))
        lengths = lengths.reshape(self.n_workers).astype(int)
        padded = np.zeros((int(lengths.max()), *arr.shape[1:]), dtype=np.float64)
        padded[: arr.shape[0]] = arr
        every = self._gather_fixed(padded)
        return [every[i, : lengths[i]] for i in range(self.n_workers)]


def train_data_parallel(
    model: Any,
    train: WindowBatches,
    cluster: MultiWorkerCluster,
    *,
    epochs: int = 10,
    patience: int | None = None,
    restore_best_weights: bool = True,
    verbose: int | str = 0,
) -> dict[str, list[float]]:
    """Train ``model`` data-parallel: each worker feeds batches of its own windows.

    Every step, each worker takes ``train.batch_size`` windows of its shard (the per-host
    batch; the global batch is that times the number of workers), the loss is the mean
    squared error over the global batch and the gradients are summed across workers
    (``MultiWorkerMirroredStrategy``), so all workers apply the same update. All workers run
    the same number of steps per epoch — that of the largest shard; smaller shards wrap around
    their (reshuffled) windows — and every batch is full. Early stopping watches the global
    training loss, which every worker sees alike.

    Keras 3's ``Model.fit`` cannot be used here: with a multi-worker strategy it fails to
    reduce ``(x, y)`` batches while building and reduces the scalar loss along an axis (TF
    backend, Keras 3.15), so this is a small custom loop with the same loss and optimizer.

    Returns
    -------
    dict
        ``{"loss": [...], "epoch_seconds": [...]}``, the loss averaged over all workers.
    """
    tf = cluster._tf
    strategy = cluster.strategy
    batch = int(train.batch_size)
    steps = int(max(int(n) for n in np.concatenate(cluster.gather(np.array([len(train)])))))
    global_batch = batch * cluster.n_workers
    shape = (batch, train.source.window_size, train.source.n_features, 1)

    def batches() -> Any:
        while True:
            order = np.resize(train.order, steps * batch)  # wraps around a smaller shard
            for s in range(steps):
                raw = train.source.read_windows(order[s * batch : (s + 1) * batch])
                x = raw.astype(np.float32) if train.scaler is None else train.scaler.transform(raw)
                yield x[..., None]
            train.on_epoch_end()

    def dataset_fn(_: Any) -> Any:
        return tf.data.Dataset.from_generator(
            batches, output_signature=tf.TensorSpec(shape, tf.float32)
        ).prefetch(2)

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))
    with cluster.scope():
        model.optimizer.build(model.trainable_variables)
    variables = model.trainable_variables

    def replica_step(x: Any) -> Any:
        with tf.GradientTape() as tape:
            reconstruction = tf.cast(model(x, training=True), tf.float32)
            per_window = tf.reduce_mean(tf.square(x - reconstruction), axis=[1, 2, 3])
            loss = tf.reduce_sum(per_window) / global_batch
        grads = tape.gradient(loss, variables)
        model.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return tf.reduce_sum(per_window)

    @tf.function
    def step(it: Any) -> Any:
        per_replica = strategy.run(replica_step, args=(next(it),))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    history: dict[str, list[float]] = {"loss": [], "epoch_seconds": []}
    best, best_weights, wait = math.inf, None, 0
    for epoch in range(int(epochs)):
        start = time.perf_counter()
        total = 0.0
        for _ in range(steps):
            total += float(step(iterator))
        loss = total / (steps * global_batch)
        history["loss"].append(loss)
        history["epoch_seconds"].append(round(time.perf_counter() - start, 4))
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs} - loss: {loss:.6g} ({cluster.n_workers} workers)")
        if patience is None:
            continue
        if loss < best:
            best, wait = loss, 0
            if restore_best_weights:
                best_weights = model.get_weights()
        else:
            wait += 1
            if wait >= int(patience):
                logger.info("early stopping after epoch %d", epoch + 1)
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    return history


def cluster_column_stats(cluster: Any, source: WindowSource, stats: Any) -> Any:
    """Column statistics of every worker's rows, merged in worker order (same on all)."""
    import hashlib

    digest = hashlib.sha256("\0".join(source.columns).encode()).digest()
    mine = np.array([source.n_features, int.from_bytes(digest[:4], "big")], dtype=np.float64)
    seen = cluster.gather(mine[None])
    if any(not np.array_equal(other[0], mine) for other in seen):
        widths = [int(other[0][0]) for other in seen]
        raise DataError(
            f"the workers' files have different columns (widths {widths}); every host of a "
            "data-parallel job needs files with the same columns"
        )
    merged = ColumnStats(source.n_features)
    for vector in cluster.gather(stats.to_vector()[None]):
        merged = merged.merge(ColumnStats.from_vector(vector[0]))
    return merged
