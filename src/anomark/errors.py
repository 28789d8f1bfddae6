"""Exceptions raised by anomark.

Every error the library raises on purpose derives from :class:`AnomarkError` and also from
the built-in exception a user would naturally catch (``ValueError``, ``TypeError``...), so
``except ValueError`` keeps working while ``except AnomarkError`` catches everything of ours.
"""

from __future__ import annotations

__all__ = [
    "AnomarkError",
    "ConfigurationError",
    "DataError",
    "DataTypeError",
    "MissingFileError",
    "DependencyError",
    "NotFittedError",
    "PersistenceError",
    "RemoteJobError",
    "SaveExistsError",
]


class AnomarkError(Exception):
    """Base class of every error raised by anomark."""


class DataError(AnomarkError, ValueError):
    """The input data cannot be used: empty, non-numeric, NaN/inf, bad index, wrong columns..."""


class DataTypeError(DataError, TypeError):
    """The input has values of a type that cannot be used at all (e.g. dicts in an object array)."""


class MissingFileError(DataError, FileNotFoundError):
    """A data file named by the user does not exist (also a ``FileNotFoundError``)."""


class ConfigurationError(AnomarkError, ValueError):
    """A parameter or configuration value is invalid (reported when the user acts: ``fit``)."""


class NotFittedError(AnomarkError, ValueError, AttributeError):
    """A detector or threshold was used before ``fit``.

    Also an ``AttributeError`` and ``ValueError``, like scikit-learn's ``NotFittedError``.
    """


class PersistenceError(AnomarkError, ValueError):
    """A saved detector folder is missing files, corrupted, hand-edited wrongly or too new."""


class SaveExistsError(PersistenceError, FileExistsError):
    """``save`` was asked to write over an existing folder without ``overwrite=True``."""


class RemoteJobError(AnomarkError, RuntimeError):
    """A SageMaker job or endpoint failed, was stopped, or returned something unusable."""


class DependencyError(AnomarkError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""
