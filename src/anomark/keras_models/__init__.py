"""Keras convolutional autoencoder: architecture, streaming window source and training loop.

The pieces are plain importable functions so that the local detector
(:class:`~anomark.detectors.conv_autoencoder.ConvAutoencoderDetector`) and the SageMaker
training entry script run exactly the same code:

* :mod:`anomark.keras_models.source` — window sources over an in-memory array or a
  memory-mappable ``.npy`` cache of many CSV files, per-column statistics in one streaming
  pass, and :class:`~anomark.keras_models.source.Scaler`. NumPy only: importing it never
  imports TensorFlow.
* :mod:`anomark.keras_models.model` — :func:`~anomark.keras_models.model.build_conv_autoencoder`.
* :mod:`anomark.keras_models.training` — the Keras ``PyDataset`` of shuffled window batches,
  :func:`~anomark.keras_models.training.train_autoencoder` and streaming reconstruction errors.

``model`` and ``training`` import Keras 3 (TensorFlow backend) when they are imported; a missing
installation raises :class:`~anomark.errors.DependencyError` naming ``anomark[tensorflow]``.
"""

from __future__ import annotations

from anomark.keras_models._deps import require_keras

__all__ = ["require_keras"]
