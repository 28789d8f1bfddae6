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

__all__ = ["build_conv_autoencoder", "padding_for"]

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
