"""Scorers: from an engine's raw output to one anomaly score per window.

* :class:`ReconstructionScorer` — for autoencoders: per-window MSE or MAE between the input
  windows and their reconstructions, optionally per feature (which column drove an anomaly).
* :class:`PassThroughScorer` — for engines that emit scores natively (RCF, Isolation Forest):
  checks shape and finiteness and passes the scores on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np

from anomark.errors import ConfigurationError, DataError

__all__ = ["PassThroughScorer", "ReconstructionScorer", "Scorer"]


class Scorer(ABC):
    """Turns raw engine output into one score per window (higher = more anomalous)."""

    @abstractmethod
    def score(self, *raw: Any) -> np.ndarray:
        """Return scores of shape ``(n_windows,)`` (or ``(n_windows, n_features)``)."""

    @staticmethod
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

    @staticmethod
    def _check_finite(scores: np.ndarray, what: str) -> np.ndarray:
        bad = ~np.isfinite(scores)
        if bad.any():
            first = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
            raise DataError(
                f"{what} produced {int(bad.sum())} NaN/inf score(s) (first at window {first}); "
                "the input is probably out of the range the model can represent"
            )
        return scores


class PassThroughScorer(Scorer):
    """For engines whose output already is an anomaly score per window."""

    def score(self, *raw: Any) -> np.ndarray:
        """Validate and return ``raw[0]`` as a 1-D float array."""
        if len(raw) != 1:
            raise TypeError("PassThroughScorer.score takes one array of scores")
        arr = self._as_float(raw[0], "the engine's scores")
        if arr.ndim != 1:
            raise DataError(f"expected one score per window (1-D), got shape {arr.shape}")
        return self._check_finite(arr, "the engine")

    def __repr__(self) -> str:
        return "PassThroughScorer()"


class ReconstructionScorer(Scorer):
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
        windows = self._as_float(raw[0], "windows")
        recon = self._as_float(raw[1], "reconstructions")
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
        return self._check_finite(out, "the reconstruction")

    def __repr__(self) -> str:
        return f"ReconstructionScorer(metric={self.metric!r}, per_feature={self.per_feature})"
