"""Lazy import of Keras 3 with the TensorFlow backend."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from anomark.errors import DependencyError

__all__ = ["require_keras", "require_tensorflow"]

_HINT = "install it with: pip install 'anomark[tensorflow]'"


def require_tensorflow() -> ModuleType:
    """Import and return ``tensorflow``; raise :class:`DependencyError` when it is missing."""
    try:
        return importlib.import_module("tensorflow")
    except ImportError as exc:
        raise DependencyError(
            f"the convolutional autoencoder needs TensorFlow ({exc}); {_HINT}"
        ) from exc


def require_keras() -> ModuleType:
    """Import and return Keras 3 running on the TensorFlow backend.

    ``KERAS_BACKEND`` defaults to ``"tensorflow"`` when unset.

    Raises
    ------
    DependencyError
        TensorFlow or Keras is not installed, Keras is older than 3, or Keras was already
        configured with another backend.
    """
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    require_tensorflow()
    try:
        keras = importlib.import_module("keras")
    except ImportError as exc:
        raise DependencyError(
            f"the convolutional autoencoder needs Keras 3 ({exc}); {_HINT}"
        ) from exc
    version = str(getattr(keras, "__version__", "0"))
    if int(version.split(".")[0]) < 3:
        raise DependencyError(
            f"the convolutional autoencoder needs Keras >= 3, found {version}; {_HINT}"
        )
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise DependencyError(
            f"the convolutional autoencoder needs Keras' TensorFlow backend, but Keras runs on "
            f"{backend!r}; set KERAS_BACKEND=tensorflow before importing keras"
        )
    return keras
