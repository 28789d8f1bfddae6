"""The convolutional autoencoder of the reference tutorial, made to round-trip any shape.

Importing this module imports Keras 3 (TensorFlow backend); a missing installation raises
:class:`~anomark.errors.DependencyError` naming ``anomark[tensorflow]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from anomark._optional import require_keras
from anomark.errors import ConfigurationError

keras = require_keras()

__all__ = ["build_conv_autoencoder", "export_serving_model", "padding_for"]

Precision = Literal["float32", "mixed_bfloat16"]


def padding_for(window_size: int, n_features: int, depth: int) -> tuple[int, int]:
    """Rows and columns of zero padding that make both sides divisible by ``2 ** depth``.

    Each of the ``depth`` max-pooling stages halves the height and width and each up-sampling
    stage doubles them, so only sides divisible by ``2 ** depth`` come back to their size.

    Examples
    --------
    >>> padding_for(48, 1, 3)
    (0, 7)
    >>> padding_for(5, 1600, 3)
    (3, 0)
    """
    div = 2**depth
    return (-window_size) % div, (-n_features) % div


def build_conv_autoencoder(
    window_size: int,
    n_features: int,
    *,
    filters: Sequence[int] = (16, 8, 8),
    kernel_size: int = 4,
    learning_rate: float = 1e-3,
    dropout: float = 0.0,
    output_activation: Literal["sigmoid", "linear"] = "sigmoid",
    precision: Precision = "float32",
    compile: bool = True,
) -> Any:
    """Build (and compile) the tutorial's 2-D convolutional autoencoder.

    Input and output have the shape ``(window_size, n_features, 1)``: a window is treated as a
    one-channel image (time x features). The encoder is ``len(filters)`` stages of
    ``Conv2D(f, kernel_size, relu, same)`` (+ ``Dropout`` when ``dropout > 0``) and
    ``MaxPooling2D(2)``; the decoder mirrors it with ``Conv2D`` + ``UpSampling2D(2)`` in reverse
    filter order, then ``Conv2D(1, kernel_size, output_activation)``. With the defaults this is
    exactly the tutorial's 16-8-8 / 8-8-16 network, Adam(1e-3) and MSE loss.

    Unlike the tutorial, the input is zero-padded inside the model to multiples of
    ``2 ** len(filters)`` and the output cropped back, so any window size and any number of
    features (including 1) reconstruct exactly the input's shape.

    Parameters
    ----------
    window_size, n_features : int
        Window length and number of columns.
    filters : sequence of int, default (16, 8, 8)
        Filters of each encoder stage; the depth is ``len(filters)``.
    kernel_size : int, default 4
        Square convolution kernel size.
    learning_rate : float, default 1e-3
        Adam learning rate.
    dropout : float, default 0.0
        Dropout rate after each encoder convolution (0 = none, as in the tutorial).
    output_activation : {"sigmoid", "linear"}, default "sigmoid"
        ``"sigmoid"`` for data scaled into [0, 1] (min-max), ``"linear"`` otherwise.
    precision : {"float32", "mixed_bfloat16"}, default "float32"
        Layer compute dtype. ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights
        (faster on CPUs with AVX512-BF16/AMX); the output layer always computes in float32.
        Set per layer, so the global Keras policy is left alone.
    compile : bool, default True
        Compile with Adam and MSE loss.

    Returns
    -------
    keras.Model

    Raises
    ------
    ConfigurationError
        For non-positive sizes or an empty ``filters``.
    """
    if window_size < 1 or n_features < 1:
        raise ConfigurationError(
            f"window_size and n_features must be >= 1, got {window_size} and {n_features}"
        )
    filters = [int(f) for f in filters]
    if not filters or min(filters) < 1:
        raise ConfigurationError(
            f"filters must be a non-empty list of positive ints, got {filters}"
        )
    if precision not in ("float32", "mixed_bfloat16"):
        raise ConfigurationError(
            f"precision must be 'float32' or 'mixed_bfloat16', got {precision!r}"
        )
    layers = keras.layers
    policy = precision
    depth = len(filters)
    pad_h, pad_w = padding_for(window_size, n_features, depth)

    def conv(f: int, activation: str, name: str, dtype: str = policy) -> Any:
        return layers.Conv2D(
            f, kernel_size, activation=activation, padding="same", name=name, dtype=dtype
        )

    inputs = keras.Input(shape=(window_size, n_features, 1), name="window")
    x = inputs
    if pad_h or pad_w:
        x = layers.ZeroPadding2D(((0, pad_h), (0, pad_w)), name="pad", dtype=policy)(x)
    for i, f in enumerate(filters):
        x = conv(f, "relu", f"encoder_conv_{i}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"encoder_dropout_{i}", dtype=policy)(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"encoder_pool_{i}", dtype=policy)(x)
    for i, f in enumerate(reversed(filters)):
        x = conv(f, "relu", f"decoder_conv_{i}")(x)
        x = layers.UpSampling2D(2, name=f"decoder_upsample_{i}", dtype=policy)(x)
    x = conv(1, output_activation, "reconstruction", dtype="float32")(x)
    if pad_h or pad_w:
        x = layers.Cropping2D(((0, pad_h), (0, pad_w)), name="crop", dtype="float32")(x)
    model = keras.Model(inputs, x, name="conv_autoencoder")
    if compile:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model


def export_serving_model(
    model: Any,
    path: str,
    *,
    offset: Sequence[float],
    scale: Sequence[float],
    stride: int = 1,
) -> None:
    """Write the TensorFlow Serving SavedModel of a trained autoencoder, with its signatures.

    * ``serving_default`` — ``window`` float32 ``(None, window_size, n_features, 1)`` scaled
      windows → their reconstructions, same shape (for plots and ``reconstruct``).
    * ``score`` — same input → ``score`` float64 ``(None,)``: each window's mean squared
      reconstruction error, computed in float64 on the scaled input exactly as
      :class:`~anomark.scoring.ReconstructionScorer` does (replies shrink by a factor of
      window x columns).
    * ``feature_scores`` — same input → ``feature_scores`` float64 ``(None, n_features)``:
      the error per window and column.
    * ``score_rows`` — ``rows`` float64 ``(None, n_features)`` consecutive raw rows (original
      units) → ``score`` float64: the rows are scaled with the fitted ``offset``/``scale``
      (float64, then float32, as :class:`~anomark.detectors.conv_autoencoder.source.Scaler`),
      cut into windows ``stride`` rows apart and scored as ``score`` does. Batch transform
      sends such blocks, so windows are built inside the job.

    Parameters
    ----------
    model : keras.Model
        The trained autoencoder.
    path : str
        Folder of the SavedModel (a TF Serving version folder such as ``.../1``).
    offset, scale : sequence of float
        The fitted per-column scaling.
    stride : int, default 1
        Step between windows in ``score_rows``.
    """
    import tensorflow as tf

    _, w, f, _ = model.input_shape
    w, f = int(w), int(f)
    off = tf.constant([float(v) for v in offset], dtype=tf.float64)
    sc = tf.constant([float(v) for v in scale], dtype=tf.float64)
    window_spec = tf.TensorSpec([None, w, f, 1], tf.float32, name="window")
    rows_spec = tf.TensorSpec([None, f], tf.float64, name="rows")

    def errors(window: Any) -> Any:
        reconstruction = tf.cast(model(window, training=False), tf.float64)
        diff = tf.cast(window, tf.float64) - reconstruction
        return tf.reduce_mean(tf.square(diff), axis=[1, 3])  # over time (and the channel)

    def reconstruct(window: Any) -> Any:
        return {"reconstruction": model(window, training=False)}

    def score(window: Any) -> Any:
        return {"score": tf.reduce_mean(errors(window), axis=1)}

    def feature_scores(window: Any) -> Any:
        return {"feature_scores": errors(window)}

    def score_rows(rows: Any) -> Any:
        check = tf.debugging.assert_greater_equal(
            tf.shape(rows)[0], w, message=f"score_rows needs at least window_size={w} rows"
        )
        # the check must run before the model: a graph orders only stateful ops by itself,
        # and the convolution of zero windows fails with an unrelated message if it runs first
        with tf.control_dependencies([check] if check is not None else []):
            rows = tf.identity(rows)
        scaled = tf.cast((rows - off) / sc, tf.float32)
        windows = tf.signal.frame(scaled, w, int(stride), axis=0)  # (k, w, f); k may be 0
        return {"score": tf.reduce_mean(errors(windows[..., None]), axis=1)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", reconstruct, input_signature=[window_spec])
    archive.add_endpoint("score", score, input_signature=[window_spec])
    archive.add_endpoint("feature_scores", feature_scores, input_signature=[window_spec])
    archive.add_endpoint("score_rows", score_rows, input_signature=[rows_spec])
    try:
        archive.write_out(path, verbose=False)
    except TypeError:  # Keras releases before ``verbose`` was added
        archive.write_out(path)
