"""Convolutional autoencoder family: the detector, its Keras model and its SageMaker engine.

* :mod:`~anomark.detectors.conv_autoencoder.detector` — :class:`ConvAutoencoderDetector`.
* :mod:`~anomark.detectors.conv_autoencoder.source` — window sources over arrays or a ``.npy``
  cache of many CSV files, and the scaler (NumPy only).
* :mod:`~anomark.detectors.conv_autoencoder.model` and
  :mod:`~anomark.detectors.conv_autoencoder.training` — the Keras network and training loop
  (they import Keras when imported).
* :mod:`~anomark.detectors.conv_autoencoder.sagemaker` — training in SageMaker's TensorFlow
  container and TF Serving endpoints (imported lazily); ``train_entry.py`` is the entry script.
"""

from anomark.detectors.conv_autoencoder.detector import ConvAutoencoderDetector

__all__ = ["ConvAutoencoderDetector"]
