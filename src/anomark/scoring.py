"""Scores: the one check of score arrays, and reconstruction scoring.

:func:`as_scores` is how every consumer of scores (thresholds, post-processors) reads them.
:class:`ReconstructionScorer` gives the per-window MSE or MAE between the input windows and
their reconstructions, optionally per feature (which column drove an anomaly). Engines that
emit scores natively (RCF, Isolation Forest) need no scorer: the detectors check their
scores (shape, finiteness) in :class:`~anomark.detectors.base.Detector`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from anomark.errors import ConfigurationError, DataError

__all__ = ["ReconstructionScorer", "as_scores"]


def as_scores(
    scores: Any, what: str, *, allow_empty: bool = False
) -> tuple[np.ndarray, pd.Index | None]:
    """Scores as a finite float64 1-D array, and the index of a Series input (else ``None``).

    Parameters
    ----------
    scores : array-like or pandas.Series
        One real score per row.
    what : str
        The caller, for messages (``"Threshold.mad.fit"``).
    allow_empty : bool, default False
        Accept no scores (a stream chunk may be empty).

    Raises
    ------
    DataError
        A DataFrame, text, complex or boolean values, not 1-D, empty (unless allowed), NaN or
        infinite values (the message gives the first position).
    """
    if isinstance(scores, pd.DataFrame):
        raise DataError(
            f"{what}: expected one score per row (a Series or 1-D array), got a DataFrame"
        )
    index = scores.index if isinstance(scores, pd.Series) else None
    try:
        raw = np.asarray(scores)
        if np.iscomplexobj(raw) or raw.dtype == np.bool_:
            raise DataError(f"{what}: scores must be real numbers, got dtype {raw.dtype}")
        arr = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{what}: scores must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{what}: scores must be 1-D, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise DataError(f"{what}: no scores given")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{what}: {int(bad.sum())} score(s) are NaN or infinite (first at position "
            f"{int(np.flatnonzero(bad)[0])})"
        )
    return arr, index


def _as_float(raw: Any, what: str) -> np.ndarray:
    """``raw`` as a float64 array, or a DataError for text, ragged or complex input."""
    try:
        arr = np.asarray(raw)
        if np.iscomplexobj(arr):
            raise DataError(f"{what} must be real numbers, got complex values")
        return np.asarray(arr, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{what} must be an array of numbers: {exc}") from None


def _check_finite(scores: np.ndarray, what: str) -> np.ndarray:
    bad = ~np.isfinite(scores)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
        raise DataError(
            f"{what} produced {int(bad.sum())} NaN/inf score(s) (first at window {first}); "
            "the input is probably out of the range the model can represent"
        )
    return scores


class ReconstructionScorer:
    """Reconstruction error per window: mean squared (``"mse"``) or absolute (``"mae"``) error.

    Parameters
    ----------
    metric : {"mse", "mae"}, default "mse"
        Error averaged over the time steps (and features) of a window.
    per_feature : bool, default False
        Return one error per feature ``(n_windows, n_features)`` instead of their mean.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 4, 3)); r = x.copy(); r[1, :, 2] = 1.0
    >>> ReconstructionScorer().score(x, r)
    array([0.        , 0.33333333])
    >>> ReconstructionScorer(per_feature=True).score(x, r)[1]
    array([0., 0., 1.])
    """

    def __init__(self, metric: Literal["mse", "mae"] = "mse", per_feature: bool = False) -> None:
        if metric not in ("mse", "mae"):
            raise ConfigurationError(f"metric must be 'mse' or 'mae', got {metric!r}")
        self.metric = metric
        self.per_feature = bool(per_feature)

    def score(self, *raw: Any) -> np.ndarray:
        """Error between ``windows`` and ``reconstructions`` (both ``(n, size, n_features)``)."""
        if len(raw) != 2:
            raise TypeError("ReconstructionScorer.score takes (windows, reconstructions)")
        windows = _as_float(raw[0], "windows")
        recon = _as_float(raw[1], "reconstructions")
        if windows.ndim == 2:
            windows = windows[:, :, None]
        if recon.ndim == 2:
            recon = recon[:, :, None]
        if windows.shape != recon.shape or windows.ndim != 3:
            raise DataError(
                f"windows {windows.shape} and reconstructions {recon.shape} must have the same "
                "3-D shape (n_windows, window_size, n_features)"
            )
        if windows.shape[0] == 0:  # no windows: no scores
            return np.zeros((0, windows.shape[2]) if self.per_feature else (0,))
        if windows.shape[1] == 0 or windows.shape[2] == 0:
            raise DataError(
                f"windows of shape {windows.shape} have 0 time steps or 0 features: there is "
                "no error to average"
            )
        diff = windows - recon
        err = diff * diff if self.metric == "mse" else np.abs(diff)
        per_feature = err.mean(axis=1)
        out = per_feature if self.per_feature else per_feature.mean(axis=1)
        return _check_finite(out, "the reconstruction")

    def __repr__(self) -> str:
        return f"ReconstructionScorer(metric={self.metric!r}, per_feature={self.per_feature})"
