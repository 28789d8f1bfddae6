"""Convolutional autoencoder family: the detector, its Keras model and its SageMaker engine.

* :mod:`~anomark.detectors.conv_autoencoder.detector` — :class:`ConvAutoencoderDetector`;
  :mod:`~anomark.detectors.conv_autoencoder.remote` — its SageMaker side (training in the
  container, loading the artefact, choosing where to score).
* :mod:`~anomark.detectors.conv_autoencoder.source` — window sources over arrays or a ``.npy``
  cache of many CSV files, and the scaler (NumPy only).
* :mod:`~anomark.detectors.conv_autoencoder.model` and
  :mod:`~anomark.detectors.conv_autoencoder.training` — the Keras network, its TF Serving
  export, the training loop and data-parallel training (they import Keras when imported).
* :mod:`~anomark.detectors.conv_autoencoder.sagemaker` — the engine: training jobs, TF Serving
  endpoints and batch transform (imported lazily; never imports the detector).
* :mod:`~anomark.detectors.conv_autoencoder.container` — what the containers see: source
  tarball, hyperparameters, artefact layout, batch records;
  :mod:`~anomark.detectors.conv_autoencoder.train_entry` is the entry script.
"""

from anomark.detectors.conv_autoencoder.detector import ConvAutoencoderDetector

__all__ = ["ConvAutoencoderDetector"]
