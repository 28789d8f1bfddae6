"""One import helper for anomark's optional dependencies, with one install hint per extra.

The extras and the modules they provide are declared once, in :data:`EXTRAS`;
:func:`import_optional` imports a module of an extra and, when it is missing, raises
:class:`~anomark.errors.DependencyError` saying what needed it and how to install it
(``pip install 'anomark[EXTRA]'``). TensorFlow, Keras, the SageMaker SDK's core package and
matplotlib are only ever imported through here, inside the functions that need them.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType

from anomark.errors import DependencyError

__all__ = [
    "DISTRIBUTIONS",
    "EXTRAS",
    "import_optional",
    "install_hint",
    "installed_versions",
    "require_keras",
    "require_tensorflow",
]

#: Top-level module -> the extra of ``anomark`` that installs it.
EXTRAS: dict[str, str] = {
    "tensorflow": "tensorflow",
    "keras": "tensorflow",
    "sagemaker": "sagemaker",
    "matplotlib": "plot",
}


#: Project name -> the distributions that can provide it, in order. TensorFlow ships as
#: ``tensorflow`` or as the CPU-only ``tensorflow-cpu`` (and ``tensorflow-intel`` /
#: ``tensorflow-macos``); all of them provide the module ``tensorflow``.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
}


def installed_versions(projects: Iterable[str]) -> dict[str, str]:
    """Installed versions by project name (``{"numpy": "2.4.6", "tensorflow": "2.21.0"}``).

    A project provided by one of several distributions (:data:`DISTRIBUTIONS`: TensorFlow as
    ``tensorflow-cpu``, say) is reported under its project name; projects not installed are
    left out.
    """
    out: dict[str, str] = {}
    for project in projects:
        for dist in DISTRIBUTIONS.get(project, (project,)):
            try:
                out[project] = metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
            break
    return out


def install_hint(extra: str) -> str:
    """The one install hint of an extra: ``install it with: pip install 'anomark[EXTRA]'``."""
    return f"install it with: pip install 'anomark[{extra}]'"


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. ``"sagemaker.core.image_uris"``) of an optional extra.

    Parameters
    ----------
    module : str
        Dotted module name; its top-level package must be one of :data:`EXTRAS`.
    purpose : str
        What needs it, for the message (``"plotting"``, ``"the convolutional autoencoder"``).

    Returns
    -------
    module

    Raises
    ------
    DependencyError
        The module cannot be imported; the message names ``purpose``, the import error and
        the install hint of the extra.
    """
    top = module.split(".", 1)[0]
    extra = EXTRAS.get(top)
    if extra is None:  # pragma: no cover - a programming error
        raise ValueError(f"{top!r} is not an optional dependency of anomark: {sorted(EXTRAS)}")
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"{purpose} needs {top} ({exc}); {install_hint(extra)}"
        ) from exc


def require_tensorflow() -> ModuleType:
    """Import and return ``tensorflow``; raise :class:`DependencyError` when it is missing."""
    return import_optional("tensorflow", "the convolutional autoencoder")


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
    keras = import_optional("keras", "the convolutional autoencoder")
    version = str(getattr(keras, "__version__", "0"))
    if int(version.split(".")[0]) < 3:
        raise DependencyError(
            f"the convolutional autoencoder needs Keras >= 3, found {version}; "
            f"{install_hint('tensorflow')}"
        )
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise DependencyError(
            f"the convolutional autoencoder needs Keras' TensorFlow backend, but Keras runs on "
            f"{backend!r}; set KERAS_BACKEND=tensorflow before importing keras"
        )
    return keras
