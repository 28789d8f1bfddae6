"""Thresholds turn scores ("how anomalous") into flags ("is it an anomaly").

A :class:`Threshold` is fitted on reference scores (by default the detector's training scores)
and applied to new ones, so a threshold can be swapped without refitting the detector.
A point is flagged when its score is strictly greater than ``value_``: constant scores flag
nothing under the statistical rules.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from anomark.errors import ConfigurationError, DataError, NotFittedError

__all__ = ["Threshold"]

Method = Literal["mean_std", "quantile", "contamination", "mad", "fixed"]
_PARAM_NAMES: dict[str, str] = {
    "mean_std": "k",
    "quantile": "q",
    "contamination": "c",
    "mad": "k",
    "fixed": "value",
}
_MAD_TO_STD = 1.4826


def _as_scores(scores: Any, what: str) -> np.ndarray:
    if isinstance(scores, pd.DataFrame):
        raise DataError(f"{what}: expected one score per row (a Series), got a DataFrame")
    try:
        raw = np.asarray(scores)
        if np.iscomplexobj(raw):
            raise DataError(f"{what}: scores must be real numbers, got complex values")
        arr = np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{what}: scores must be numbers ({exc})") from None
    if arr.ndim != 1:
        raise DataError(f"{what}: scores must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise DataError(f"{what}: no scores given")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"{what}: {int(bad.sum())} score(s) are NaN or infinite (first at position "
            f"{int(np.flatnonzero(bad)[0])})"
        )
    return arr


class Threshold:
    """A rule that turns anomaly scores into boolean flags.

    Build one with a class method: :meth:`mean_std`, :meth:`quantile`, :meth:`contamination`,
    :meth:`mad` or :meth:`fixed`. ``fit(scores)`` learns ``value_``; ``apply(scores)`` returns
    ``scores > value_``.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark import Threshold
    >>> t = Threshold.mean_std(k=2.0).fit(np.array([1.0, 1.0, 1.0, 1.0, 5.0]))
    >>> round(t.value_, 3)  # mean 1.8 + 2 * std 1.6
    5.0
    >>> Threshold.fixed(2.0).fit([0.0]).apply([1.0, 3.0]).tolist()
    [False, True]
    """

    def __init__(self, method: Method, param: float) -> None:
        if not isinstance(method, str) or method not in _PARAM_NAMES:
            raise ConfigurationError(
                f"unknown threshold method {method!r}; choose one of {sorted(_PARAM_NAMES)}"
            )
        if isinstance(param, bool) or not isinstance(param, int | float | np.integer | np.floating):
            raise ConfigurationError(
                f"Threshold.{method}: {_PARAM_NAMES[method]} must be a number, got "
                f"{type(param).__name__} {param!r}"
            )
        value = float(param)
        if not math.isfinite(value):
            raise ConfigurationError(f"Threshold.{method}: {_PARAM_NAMES[method]} must be finite")
        if method in ("mean_std", "mad") and value < 0:
            raise ConfigurationError(f"Threshold.{method}: k must be >= 0, got {value}")
        if method == "quantile" and not 0.0 < value < 1.0:
            raise ConfigurationError(f"Threshold.quantile: q must be in (0, 1), got {value}")
        if method == "contamination" and not 0.0 < value < 0.5:
            raise ConfigurationError(
                f"Threshold.contamination: c must be in (0, 0.5), got {value}"
            )
        self.method: Method = method
        self.param = value

    # ------------------------------------------------------------------ constructors
    @classmethod
    def mean_std(cls, k: float = 3.0) -> Threshold:
        """Flag scores above ``mean + k * std`` of the reference scores."""
        return cls("mean_std", k)

    @classmethod
    def quantile(cls, q: float = 0.999) -> Threshold:
        """Flag scores above the ``q``-quantile of the reference scores."""
        return cls("quantile", q)

    @classmethod
    def contamination(cls, c: float = 0.01) -> Threshold:
        """Flag (about) the top fraction ``c`` of the reference scores."""
        return cls("contamination", c)

    @classmethod
    def mad(cls, k: float = 5.0) -> Threshold:
        """Flag scores above ``median + k * 1.4826 * MAD`` (robust to the anomalies themselves)."""
        return cls("mad", k)

    @classmethod
    def fixed(cls, value: float = 1.5) -> Threshold:
        """Flag scores above a fixed ``value`` (``fit`` learns nothing)."""
        return cls("fixed", value)

    # ------------------------------------------------------------------ fit / apply
    def fit(self, scores: Any) -> Threshold:
        """Learn ``value_`` from reference scores; returns ``self``.

        Constant scores give ``value_`` equal to that constant under every statistical rule,
        so nothing is flagged. The rules are computed on scores scaled by a power of two, so
        scores near 1e300 or 1e-300 neither overflow nor underflow.

        Parameters
        ----------
        scores : array-like or pandas.Series
            Finite, real reference scores (1-D).

        Returns
        -------
        Threshold
            ``self``.

        Raises
        ------
        DataError
            Scores that are not 1-D real numbers, empty, NaN or infinite, or a threshold that
            overflows the float64 range (e.g. ``mean_std`` on scores near ``±1.7e308``).
        """
        what = f"Threshold.{self.method}.fit"
        arr = _as_scores(scores, what)
        if self.method == "fixed":
            self.value_ = self.param
            return self
        lo, hi = float(arr.min()), float(arr.max())
        if lo == hi:
            # constant scores: the rounded mean (or the squares' underflow) must not push the
            # threshold below the constant, which would flag every point
            value = lo
        else:
            # Work on scores scaled by a power of two (exact, so ordinary scores give the
            # same bits as unscaled arithmetic): sums and squares of scores near 1e300
            # cannot overflow and those of scores near 1e-260 cannot underflow.
            _, exponent = np.frexp(max(abs(lo), abs(hi)))
            scale = float(np.ldexp(0.5, int(exponent)))  # max |score| / scale is in [1, 2)
            with np.errstate(over="ignore"):
                value = scale * self._rule(arr / scale)
        if not math.isfinite(value):
            raise DataError(
                f"{what}: the threshold overflows the float64 range (scores span {lo:.6g} .. "
                f"{hi:.6g}); rescale the scores"
            )
        self.value_ = value
        return self

    def _rule(self, arr: np.ndarray) -> float:
        """The statistical rule on scores of magnitude at most 1."""
        if self.method == "mean_std":
            return float(arr.mean() + self.param * arr.std())
        if self.method == "quantile":
            return float(np.quantile(arr, self.param))
        if self.method == "contamination":
            return float(np.quantile(arr, 1.0 - self.param))
        med = float(np.median(arr))  # mad
        return med + self.param * _MAD_TO_STD * float(np.median(np.abs(arr - med)))

    @property
    def is_fitted(self) -> bool:
        """Whether ``value_`` is available."""
        return hasattr(self, "value_")

    def apply(self, scores: Any) -> pd.Series:
        """Boolean flags ``scores > value_``; keeps the index of a Series input."""
        if not self.is_fitted:
            raise NotFittedError(
                f"this {self!r} is not fitted yet; call fit(scores) first"
            )
        arr = _as_scores(scores, f"Threshold.{self.method}.apply")
        index = scores.index if isinstance(scores, pd.Series) else None
        return pd.Series(arr > self.value_, index=index, name="flag")

    def fit_apply(self, scores: Any) -> pd.Series:
        """``fit(scores).apply(scores)``."""
        return self.fit(scores).apply(scores)

    # ------------------------------------------------------------------ text form
    @classmethod
    def parse(cls, text: str) -> Threshold:
        """An unfitted rule from its text form ``METHOD[:PARAM]``, the inverse of ``str()``.

        ``"mean_std:3"``, ``"quantile:0.999"``, ``"mad"`` (the method's default parameter).
        ``=`` also separates method and parameter, ``-`` in the method name reads as ``_``, and
        case is ignored. This one parser serves the CLI (``--threshold``), the SageMaker
        hyperparameters and the training entry script.

        Parameters
        ----------
        text : str
            The rule, e.g. ``str(Threshold.mean_std(3))`` = ``"mean_std:3.0"``.

        Returns
        -------
        Threshold
            Unfitted.

        Raises
        ------
        ConfigurationError
            Not a string, an unknown method, a parameter that is not a number, or out of range.

        Examples
        --------
        >>> Threshold.parse("quantile:0.99")
        Threshold.quantile(q=0.99)
        >>> str(Threshold.mean_std(3))
        'mean_std:3.0'
        >>> Threshold.parse(str(Threshold.mad(4.5))) == Threshold.mad(4.5)
        True
        """
        if not isinstance(text, str):
            raise ConfigurationError(
                f"a threshold rule is text such as 'mean_std:3', got {type(text).__name__} "
                f"{text!r}"
            )
        stripped = text.strip()
        sep = ":" if ":" in stripped else "=" if "=" in stripped else None
        method, raw = stripped.split(sep, 1) if sep else (stripped, None)
        method = method.strip().lower().replace("-", "_")
        if method not in _PARAM_NAMES:
            raise ConfigurationError(
                f"unknown threshold {text!r}; write METHOD[:PARAM] with METHOD one of "
                f"{', '.join(_PARAM_NAMES)} (e.g. mean_std:3, quantile:0.999)"
            )
        factory = getattr(cls, method)
        if raw is None or not raw.strip():
            return factory()  # type: ignore[no-any-return]
        try:
            param = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"threshold parameter {_PARAM_NAMES[method]} in {text!r} must be a number, got "
                f"{raw.strip()!r}"
            ) from None
        return factory(param)  # type: ignore[no-any-return]

    def __str__(self) -> str:
        """The rule's text form ``"method:param"`` (exact: :meth:`parse` reads it back)."""
        return f"{self.method}:{self.param!r}"

    # ------------------------------------------------------------------ misc
    def unfitted(self) -> Threshold:
        """A fresh, unfitted copy with the same rule."""
        return Threshold(self.method, self.param)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description (rule and, when fitted, ``value_``)."""
        out: dict[str, Any] = {"method": self.method, "param": self.param}
        if self.is_fitted:
            out["value"] = self.value_
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Threshold:
        """Inverse of :meth:`to_dict`; validates the content."""
        if not isinstance(data, dict):
            raise ConfigurationError(f"a threshold must be described by a dict, got {data!r}")
        unknown = set(data) - {"method", "param", "value"}
        if unknown or "method" not in data or "param" not in data:
            raise ConfigurationError(
                f"a threshold dict needs 'method' and 'param' (and optionally 'value'), got "
                f"keys {sorted(data)}"
            )
        out = cls(data["method"], data["param"])
        if "value" in data:
            value = data["value"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"threshold value must be a number, got {value!r}")
            if not math.isfinite(float(value)):
                raise ConfigurationError(f"threshold value must be finite, got {value!r}")
            out.value_ = float(value)
        return out

    def __repr__(self) -> str:
        name = _PARAM_NAMES[self.method]
        fitted = f", value_={self.value_:.6g}" if self.is_fitted else ""
        return f"Threshold.{self.method}({name}={self.param:g}{fitted})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Threshold):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
