"""Thresholds turn scores ("how anomalous") into flags ("is it an anomaly").

A :class:`Threshold` is fitted on reference scores (by default the detector's training scores)
and applied to new ones, so a threshold can be swapped without refitting the detector.
A point is flagged when its score is strictly greater than ``value_``: constant scores flag
nothing under the statistical rules.

Two rules come from extreme-value theory (Siffer et al., "Anomaly detection in streams with
extreme value theory", KDD 2017): :meth:`Threshold.pot` fits a generalised Pareto distribution
to the tail of the reference scores and thresholds at a chosen risk; :meth:`Threshold.spot`
does the same and then keeps learning from a stream (:meth:`Threshold.update`), optionally
relative to a moving mean (DSPOT, ``depth=``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from anomark.errors import ConfigurationError, DataError, NotFittedError
from anomark.scoring import as_scores

__all__ = ["Threshold"]

Method = Literal["mean_std", "quantile", "contamination", "mad", "fixed", "pot", "spot"]
_PARAM_NAMES: dict[str, str] = {
    "mean_std": "k",
    "quantile": "q",
    "contamination": "c",
    "mad": "k",
    "fixed": "value",
}
#: The extreme-value rules take several named parameters (defaults as Siffer et al.).
_EVT_PARAMS: dict[str, tuple[str, ...]] = {"pot": ("q", "level"), "spot": ("q", "level", "depth")}
_EVT_DEFAULTS: dict[str, float | int | None] = {"q": 1e-4, "level": 0.98, "depth": None}
_METHODS = (*_PARAM_NAMES, *_EVT_PARAMS)
_MAD_TO_STD = 1.4826


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

    def __init__(self, method: Method, param: float | None = None, **params: Any) -> None:
        if not isinstance(method, str) or method not in _METHODS:
            raise ConfigurationError(
                f"unknown threshold method {method!r}; choose one of {sorted(_METHODS)}"
            )
        if method in _EVT_PARAMS:
            self._init_evt(method, param, params)
            return
        if params:
            raise ConfigurationError(
                f"Threshold.{method} takes one parameter ({_PARAM_NAMES[method]}), got "
                f"{sorted(params)}"
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
        self.params: dict[str, Any] = {_PARAM_NAMES[method]: value}

    def _init_evt(self, method: str, param: float | None, params: dict[str, Any]) -> None:
        names = _EVT_PARAMS[method]
        unknown = set(params) - set(names)
        if unknown:
            raise ConfigurationError(
                f"Threshold.{method}: unknown parameter(s) {sorted(unknown)}; it takes "
                f"{', '.join(names)}"
            )
        if param is not None:
            if "q" in params:
                raise ConfigurationError(f"Threshold.{method}: q given twice")
            params = {**params, "q": param}
        values: dict[str, Any] = {k: params.get(k, _EVT_DEFAULTS[k]) for k in names}
        for key in ("q", "level"):
            v = values[key]
            if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
                raise ConfigurationError(
                    f"Threshold.{method}: {key} must be a number, got {type(v).__name__} {v!r}"
                )
            values[key] = float(v)
            if not 0.0 < values[key] < 1.0:
                raise ConfigurationError(
                    f"Threshold.{method}: {key} must be in (0, 1), got {values[key]!r}"
                )
        if values["q"] >= 1.0 - values["level"]:
            raise ConfigurationError(
                f"Threshold.{method}: the risk q ({values['q']:g}) must be smaller than the "
                f"share of scores above the initial level (1 - level = {1 - values['level']:g})"
            )
        if method == "spot":
            depth = values["depth"]
            if depth is not None and (
                isinstance(depth, bool) or not isinstance(depth, int | np.integer) or depth < 1
            ):
                raise ConfigurationError(
                    f"Threshold.spot: depth must be an integer >= 1 or None, got {depth!r}"
                )
            values["depth"] = None if depth is None else int(depth)
        self.method = method  # type: ignore[assignment]
        self.param = values["q"]
        self.params = values

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

    @classmethod
    def pot(cls, q: float = 1e-4, level: float = 0.98) -> Threshold:
        """Peaks over threshold: the score exceeded with probability ``q`` per the tail model.

        ``fit`` takes the ``level`` quantile ``t`` of the reference scores, fits a generalised
        Pareto distribution to the excesses over ``t`` by maximum likelihood and sets
        ``value_`` to ``t + sigma / gamma * ((q n / n_t) ** -gamma - 1)`` (Siffer et al.,
        KDD 2017), so about a fraction ``q`` of scores from the same distribution exceed it —
        also far beyond the largest reference score, which a quantile cannot reach.

        Parameters
        ----------
        q : float, default 1e-4
            Risk: the probability that a normal score exceeds the threshold.
        level : float, default 0.98
            Quantile of the reference scores above which the tail is modelled.

        Notes
        -----
        Limits: the reference scores must hold at least 10 scores above the ``level``
        quantile (so at least ``10 / (1 - level)`` scores: 500 at 0.98) and must not be
        constant (:class:`~anomark.errors.DataError` otherwise); ``q`` must be below
        ``1 - level``. The model assumes the reference scores are independent draws from
        one distribution: anomalies among them, strong autocorrelation or drift bias it (use
        :meth:`spot` with ``depth`` for drifting scores). The shape parameter is kept at
        ``gamma >= -1``, where the likelihood has a maximum.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> t = Threshold.pot(q=1e-3).fit(rng.exponential(size=20_000))
        >>> round(t.value_, 1)                  # the exact 1 - 1e-3 quantile is log(1000) = 6.9
        6.9
        """
        return cls("pot", q=q, level=level)

    @classmethod
    def spot(cls, q: float = 1e-4, level: float = 0.98, depth: int | None = None) -> Threshold:
        """Streaming peaks over threshold (SPOT; DSPOT with ``depth``), Siffer et al. 2017.

        ``fit(scores)`` is the calibration of :meth:`pot`; :meth:`update` then runs the stream:
        a score above the current threshold is flagged (and not learned), a score above the
        initial level adds a peak and refits the tail, others only count. With ``depth`` the
        rule works on each score minus the mean of the ``depth`` learned scores before it,
        so it follows scores that drift (DSPOT); ``value_`` then includes that moving mean.

        Parameters
        ----------
        q : float, default 1e-4
            Risk (probability of a false alarm per normal score).
        level : float, default 0.98
            Quantile of the calibration scores that starts the tail.
        depth : int or None, default None
            DSPOT's window of recent scores; ``None`` for SPOT.

        Notes
        -----
        Limits: the calibration needs at least ``10 / (1 - level)`` varied scores (plus
        ``depth``); flagged scores are never learned (as in the reference algorithm), so a
        lasting level shift stays flagged with SPOT (DSPOT's moving mean does not learn it
        either: keep ``depth`` short or refit), and over a long stream of normal scores the
        tail the fit sees is trimmed at the threshold, which then drifts somewhat low (about
        10 % below the exact quantile after 50,000 exponential scores at ``q=1e-3``); each
        new peak refits the tail (about a millisecond), so a stream costs in proportion to
        its share of scores above the initial level.

        Examples
        --------
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> t = Threshold.spot(q=1e-3).fit(rng.exponential(size=5000))
        >>> stream = rng.exponential(size=2000)
        >>> stream[1000] = 30.0
        >>> flags = t.update(stream)
        >>> bool(flags[1000]), int(flags.sum()) <= 5
        (True, True)
        """
        return cls("spot", q=q, level=level, depth=depth)

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
        arr, _ = as_scores(scores, what)
        if self.method == "fixed":
            self.value_ = self.param
            return self
        if self.method in _EVT_PARAMS:
            return self._fit_evt(arr, what)
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

    def _fit_evt(self, arr: np.ndarray, what: str) -> Threshold:
        self.__dict__.pop("_pending", None)
        from anomark import _gpd

        depth = self.params.get("depth")
        try:
            state = _gpd.spot_calibrate(arr, self.params["level"], depth)
        except DataError as exc:
            raise DataError(f"{what}: {exc}") from None
        self._set_evt_state(state)
        return self

    def _set_evt_state(self, state: Any) -> None:
        from anomark import _gpd

        zq = _gpd.spot_extreme(state, self.params["q"])
        value = zq + state.local_mean()
        if not math.isfinite(value):
            raise DataError(
                f"Threshold.{self.method}: the fitted threshold is not finite (tail shape "
                f"{state.fit.gamma:.3g}); rescale the scores or use a larger q"
            )
        self.value_ = float(value)
        self.gamma_ = float(state.fit.gamma)
        self.sigma_ = float(state.fit.sigma)
        self._state = state if self.method == "spot" else None

    def update(self, scores: Any) -> Any:
        """SPOT/DSPOT on a stream: flag each score, learning the normal ones (``spot`` only).

        Scores are processed in order: a score above the current threshold is flagged and
        not learned; any other score is learned (a score above the initial level refits the
        tail, moving ``value_``). ``update(a)`` then ``update(b)`` flags exactly what
        ``update(a + b)`` flags. A rule that was never fitted calibrates itself on the first
        :attr:`calibration_size` scores it is given (they are not flagged), then goes on.

        Parameters
        ----------
        scores : array-like or pandas.Series
            New scores, oldest first.

        Returns
        -------
        numpy.ndarray or pandas.Series of bool
            The flags (a Series named ``"flag"`` with the input's index for a Series input).

        Raises
        ------
        ConfigurationError
            On a rule other than ``spot``.
        DataError
            Scores that are not finite numbers, or calibration scores that cannot be fitted
            (constant, too few above the level).
        """
        flags, _ = self.update_with_thresholds(scores)
        return flags

    @property
    def calibration_size(self) -> int:
        """Scores an unfitted ``spot`` rule collects before calibrating itself:
        ``max(1000, 20 / (1 - level))`` plus ``depth``."""
        if self.method != "spot":
            raise ConfigurationError(f"Threshold.{self.method} has no stream calibration")
        depth = self.params["depth"] or 0
        return int(max(1000, math.ceil(20.0 / (1.0 - self.params["level"])))) + depth

    def update_with_thresholds(self, scores: Any) -> tuple[Any, Any]:
        """:meth:`update`, also returning the threshold each score was compared with
        (``inf`` for scores collected for the calibration)."""
        from anomark import _gpd

        if self.method != "spot":
            raise ConfigurationError(
                f"Threshold.{self.method} does not learn from a stream; use Threshold.spot(...) "
                "for update(), or apply() for a fixed threshold"
            )
        arr, _ = as_scores(scores, "Threshold.spot.update", allow_empty=True)
        flags = np.zeros(len(arr), dtype=bool)
        thresholds = np.full(len(arr), math.inf)
        start = 0
        if not self.is_fitted:
            pending = np.concatenate((getattr(self, "_pending", np.empty(0)), arr))
            need = self.calibration_size
            if len(pending) < need:
                self._pending = pending
                return self._wrap(scores, flags, thresholds)
            start = need - (len(pending) - len(arr))  # first row of arr after calibration
            self._fit_evt(pending[:need], "Threshold.spot.update")
            self.__dict__.pop("_pending", None)
        if start < len(arr):
            f, t, state = _gpd.spot_run(self._spot_state(), arr[start:], self.params["q"])
            self._set_evt_state(state)
            flags[start:], thresholds[start:] = f, t
        return self._wrap(scores, flags, thresholds)

    @staticmethod
    def _wrap(scores: Any, flags: np.ndarray, thresholds: np.ndarray) -> tuple[Any, Any]:
        if isinstance(scores, pd.Series):
            return (pd.Series(flags, index=scores.index, name="flag"),
                    pd.Series(thresholds, index=scores.index, name="threshold"))
        return flags, thresholds

    def _spot_state(self) -> Any:
        state = getattr(self, "_state", None)
        if state is None:  # pragma: no cover - set by fit / from_dict
            raise NotFittedError(f"this {self!r} has no stream state; call fit(scores) first")
        return state

    def _check_is_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {self!r} is not fitted yet; call fit(scores) first"
            )

    @property
    def is_fitted(self) -> bool:
        """Whether ``value_`` is available."""
        return hasattr(self, "value_")

    def apply(self, scores: Any) -> pd.Series:
        """Boolean flags ``scores > value_``; keeps the index of a Series input.

        For ``spot`` the flags are those :meth:`update` would give from the current state,
        which is left unchanged.
        """
        self._check_is_fitted()
        arr, index = as_scores(scores, f"Threshold.{self.method}.apply")
        if self.method == "spot":
            from anomark import _gpd

            flags, _, _ = _gpd.spot_run(self._spot_state(), arr, self.params["q"])
            return pd.Series(flags, index=index, name="flag")
        return pd.Series(arr > self.value_, index=index, name="flag")

    def fit_apply(self, scores: Any) -> pd.Series:
        """``fit(scores).apply(scores)``."""
        return self.fit(scores).apply(scores)

    # ------------------------------------------------------------------ text form
    @classmethod
    def parse(cls, text: str) -> Threshold:
        """An unfitted rule from its text form, the inverse of ``str()``.

        ``"mean_std:3"``, ``"quantile:0.999"``, ``"mad"`` (the method's default parameter);
        the extreme-value rules name their parameters: ``"pot:q=1e-4,level=0.98"``,
        ``"spot:q=0.001,level=0.99,depth=10"`` (``"pot:1e-3"`` sets ``q``; missing ones keep
        their defaults). ``=`` also separates method and parameter, ``-`` in the method name
        reads as ``_``, and case is ignored. This one parser serves the CLI (``--threshold``),
        the SageMaker hyperparameters and the training entry script.

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
            Not a string, an unknown method or parameter name, a parameter that is not a
            number, or out of range.

        Examples
        --------
        >>> Threshold.parse("quantile:0.99")
        Threshold.quantile(q=0.99)
        >>> str(Threshold.mean_std(3))
        'mean_std:3.0'
        >>> Threshold.parse(str(Threshold.mad(4.5))) == Threshold.mad(4.5)
        True
        >>> str(Threshold.parse("pot:q=1e-4,level=0.98"))
        'pot:q=0.0001,level=0.98'
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
        if method not in _METHODS:
            raise ConfigurationError(
                f"unknown threshold {text!r}; write METHOD[:PARAM] with METHOD one of "
                f"{', '.join(_METHODS)} (e.g. mean_std:3, quantile:0.999, pot:q=1e-4,level=0.98)"
            )
        factory = getattr(cls, method)
        if raw is None or not raw.strip():
            return factory()  # type: ignore[no-any-return]
        if method in _EVT_PARAMS:
            return cls._parse_evt(method, raw, text)
        try:
            param = float(raw)
        except ValueError:
            raise ConfigurationError(
                f"threshold parameter {_PARAM_NAMES[method]} in {text!r} must be a number, got "
                f"{raw.strip()!r}"
            ) from None
        return factory(param)  # type: ignore[no-any-return]

    @classmethod
    def _parse_evt(cls, method: str, raw: str, text: str) -> Threshold:
        names = _EVT_PARAMS[method]
        params: dict[str, Any] = {}
        for i, item in enumerate(p.strip() for p in raw.split(",")):
            key, eq, value = item.partition("=")
            if not eq:
                if i > 0:
                    raise ConfigurationError(
                        f"threshold {text!r}: write {method}:{'=...,'.join(names)}=..., got "
                        f"{item!r}"
                    )
                key, value = "q", item
            key = key.strip().lower()
            if key not in names:
                raise ConfigurationError(
                    f"threshold {text!r}: unknown parameter {key!r} for {method}; it takes "
                    f"{', '.join(names)}"
                )
            if key in params:
                raise ConfigurationError(f"threshold {text!r}: {key} given twice")
            value = value.strip()
            if key == "depth":
                if value.lower() in ("none", "null", ""):
                    params[key] = None
                    continue
                try:
                    params[key] = int(value)
                except ValueError:
                    raise ConfigurationError(
                        f"threshold {text!r}: depth must be an integer or none, got {value!r}"
                    ) from None
                continue
            try:
                params[key] = float(value)
            except ValueError:
                raise ConfigurationError(
                    f"threshold parameter {key} in {text!r} must be a number, got {value!r}"
                ) from None
        return cls(method, **params)  # type: ignore[arg-type]

    def __str__(self) -> str:
        """The rule's text form (exact: :meth:`parse` reads it back).

        ``"method:param"``, or ``"method:name=value,..."`` for :meth:`pot` and :meth:`spot`
        (a ``depth`` of ``None`` is left out).
        """
        if self.method in _EVT_PARAMS:
            parts = [f"{k}={v!r}" for k, v in self.params.items() if v is not None]
            return f"{self.method}:{','.join(parts)}"
        return f"{self.method}:{self.param!r}"

    # ------------------------------------------------------------------ misc
    def unfitted(self) -> Threshold:
        """A fresh, unfitted copy with the same rule."""
        if self.method in _EVT_PARAMS:
            return Threshold(self.method, **self.params)
        return Threshold(self.method, self.param)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description: the rule and, when fitted, ``value_`` (and the
        stream state of ``spot``: initial level, peaks, count, recent scores, tail shape)."""
        if self.method in _EVT_PARAMS:
            out: dict[str, Any] = {"method": self.method, "params": dict(self.params)}
            pending = getattr(self, "_pending", None)
            if pending is not None and not self.is_fitted:
                out["pending"] = [float(v) for v in pending]
            if self.is_fitted:
                out["value"] = self.value_
                out["tail"] = {"gamma": self.gamma_, "sigma": self.sigma_}
                state = getattr(self, "_state", None)
                if state is not None:
                    out["state"] = {
                        "level": state.level,
                        "peaks": [float(v) for v in state.peaks],
                        "n": int(state.n),
                        "window": None if state.window is None
                        else [float(v) for v in state.window],
                    }
            return out
        out = {"method": self.method, "param": self.param}
        if self.is_fitted:
            out["value"] = self.value_
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Threshold:
        """Inverse of :meth:`to_dict`; validates the content."""
        if not isinstance(data, dict):
            raise ConfigurationError(f"a threshold must be described by a dict, got {data!r}")
        method = data.get("method")
        if isinstance(method, str) and method in _EVT_PARAMS:
            return cls._evt_from_dict(data)
        unknown = set(data) - {"method", "param", "value"}
        if unknown or "method" not in data or "param" not in data:
            raise ConfigurationError(
                f"a threshold dict needs 'method' and 'param' (and optionally 'value'), got "
                f"keys {sorted(data)}"
            )
        out = cls(data["method"], data["param"])
        if "value" in data:
            out.value_ = _finite(data["value"], "threshold value")
        return out

    @classmethod
    def _evt_from_dict(cls, data: dict[str, Any]) -> Threshold:
        from anomark import _gpd

        method = data["method"]
        allowed = {"method", "params", "value", "tail", "state", "pending"}
        if set(data) - allowed or not isinstance(data.get("params"), dict):
            raise ConfigurationError(
                f"a {method} threshold dict needs 'method' and 'params' (and, fitted, 'value', "
                f"'tail' and for spot 'state'), got keys {sorted(data)}"
            )
        out = cls(method, **data["params"])
        fitted = [k for k in ("value", "tail", "state") if k in data]
        if "pending" in data:
            pending = data["pending"]
            if method != "spot" or fitted or not isinstance(pending, list) or (
                len(pending) >= out.calibration_size
            ):
                raise ConfigurationError(
                    "only an unfitted spot threshold holds 'pending' calibration scores (fewer "
                    "than its calibration size)"
                )
            out._pending = np.array([_finite(v, "pending score") for v in pending])
            return out
        expected = ["value", "tail"] + (["state"] if method == "spot" else [])
        if not fitted:
            return out
        if fitted != expected:
            raise ConfigurationError(
                f"a fitted {method} threshold dict needs {expected}, got {fitted}"
            )
        tail = data["tail"]
        if not isinstance(tail, dict) or set(tail) != {"gamma", "sigma"}:
            raise ConfigurationError("threshold 'tail' must hold gamma and sigma")
        gamma = _finite(tail["gamma"], "tail gamma")
        sigma = _finite(tail["sigma"], "tail sigma")
        if sigma <= 0:
            raise ConfigurationError(f"tail sigma must be > 0, got {sigma!r}")
        value = _finite(data["value"], "threshold value")
        if method == "pot":
            out.value_, out.gamma_, out.sigma_ = value, gamma, sigma
            out._state = None
            return out
        st = data["state"]
        if not isinstance(st, dict) or set(st) != {"level", "peaks", "n", "window"}:
            raise ConfigurationError("spot 'state' must hold level, peaks, n and window")
        level = _finite(st["level"], "spot level")
        peaks = st["peaks"]
        n = st["n"]
        window = st["window"]
        depth = out.params["depth"]
        if (
            not isinstance(peaks, list) or len(peaks) < _gpd.MIN_EXCESSES
            or isinstance(n, bool) or not isinstance(n, int) or n < len(peaks)
        ):
            raise ConfigurationError("spot state: peaks must be a list of at least 10 "
                                     "excesses and n an integer >= their number")
        peak_arr = np.array([_finite(v, "spot peak") for v in peaks])
        if (peak_arr <= 0).any():
            raise ConfigurationError("spot state: peaks must be positive")
        if depth is None:
            if window is not None:
                raise ConfigurationError("spot state: a window without depth")
            win = None
        else:
            if not isinstance(window, list) or len(window) != depth:
                raise ConfigurationError(f"spot state: window must hold {depth} scores")
            win = np.array([_finite(v, "spot window score") for v in window])
        fit = _gpd.GPDFit(level, gamma, sigma, n, len(peak_arr))
        out._set_evt_state(_gpd.SpotState(level=level, peaks=peak_arr, n=n, window=win, fit=fit))
        if out.value_ != value:
            raise ConfigurationError(
                f"spot state gives the threshold {out.value_!r}, but the dict says {value!r}"
            )
        return out

    def __repr__(self) -> str:
        fitted = f", value_={self.value_:.6g}" if self.is_fitted else ""
        if self.method in _EVT_PARAMS:
            args = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in self.params.items())
            return f"Threshold.{self.method}({args}{fitted})"
        name = _PARAM_NAMES[self.method]
        return f"Threshold.{self.method}({name}={self.param:g}{fitted})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Threshold):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ConfigurationError(f"{what} must be finite, got {value!r}")
    return float(value)
