"""The :class:`PostProcessor` contract, input checks, state (de)serialisation and :class:`Chain`."""

from __future__ import annotations

import copy
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from anomark._validation import Constraint, validate_params
from anomark.errors import ConfigurationError, DataError, PersistenceError
from anomark.scoring import as_scores

__all__ = ["Chain", "PostProcessor"]


def _as_values(values: Any, n: int, what: str) -> np.ndarray | None:
    """Input values as a finite float64 ``(n, d)`` array (``None`` stays ``None``)."""
    if values is None:
        return None
    if hasattr(values, "values") and not isinstance(values, np.ndarray):
        values = values.values  # Dataset, DataFrame, Series
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what}: values must be numbers ({exc})") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DataError(
            f"{what}: values must have one row per score ({n}), got shape {arr.shape}"
        )
    if arr.shape[1] == 0:
        raise DataError(f"{what}: values have no columns")
    if not np.isfinite(arr).all():
        raise DataError(f"{what}: values hold NaN or infinite numbers")
    return arr


class PostProcessor(BaseEstimator, ABC):  # type: ignore[misc]
    """A causal, stateful transform of an anomaly-score stream.

    The output for a row depends only on that row and earlier ones (scores and, for the rules
    that read them, input values), so changing later rows never changes an earlier output.

    * :meth:`update` processes rows that continue the stream and keeps the new state:
      ``update(a)`` then ``update(b)`` returns exactly what ``update(a + b)`` returns.
    * :meth:`transform` returns what :meth:`update` would, without changing the state (a
      fresh post-processor processes the rows from scratch).
    * :meth:`reset` forgets the state; :meth:`get_state` / :meth:`set_state` save and restore
      it as JSON-compatible values plus numeric arrays (no pickle).

    Parameters are stored by the constructor and checked (against the class's
    ``_parameter_constraints`` table) when the post-processor is first used. Fitted state ends
    with ``_``; ``n_seen_`` counts the rows processed so far.
    """

    #: Short name used in the text form (``"zscore"``, ``"likelihood"``, ``"range"``).
    name: ClassVar[str] = ""
    #: Whether the rule reads the input values (``values=``) besides the scores.
    uses_values: ClassVar[bool] = False
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}
    #: Names of the scalar (JSON) and array parts of the fitted state.
    _scalar_state: ClassVar[tuple[str, ...]] = ()
    _array_state: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ hooks
    def _check_params(self) -> None:
        """Check the parameters; subclasses add checks that involve several of them."""
        validate_params(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )

    @abstractmethod
    def _start(self, n_columns: int | None) -> None:
        """Set the empty state (``n_seen_ = 0`` and the rule's own attributes)."""

    @abstractmethod
    def _update(self, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        """Process validated rows, advance the state, return one output per row."""

    # ------------------------------------------------------------------ public API
    @property
    def is_started(self) -> bool:
        """Whether the post-processor holds a state (it has processed at least one call)."""
        return hasattr(self, "n_seen_")

    def update(self, scores: Any, values: Any = None) -> Any:
        """Process scores that continue the stream; keep the new state.

        Parameters
        ----------
        scores : array-like or pandas.Series
            Finite scores, oldest first (higher = more anomalous).
        values : array-like, optional
            The input rows the scores belong to, ``(n,)`` or ``(n, n_columns)``; read by the
            rules whose ``uses_values`` is true (:class:`RangeRule`,
            :class:`AnomalyLikelihood`'s constant-input check) and ignored by the others.

        Returns
        -------
        numpy.ndarray or pandas.Series
            One output per score (a Series named ``"score"`` with the input's index when
            ``scores`` is a Series).

        Raises
        ------
        ConfigurationError
            A parameter out of range.
        DataError
            Scores that are not finite 1-D numbers, values with another number of rows or
            columns than before, NaN or infinite values.
        """
        what = f"{type(self).__name__}.update"
        self._check_params()
        arr, index = as_scores(scores, what, allow_empty=True)
        vals = _as_values(values, len(arr), what) if self.uses_values else None
        if not self.is_started:
            self._start(None if vals is None else vals.shape[1])
        self._check_columns(vals, what)
        out = self._update(arr, vals) if len(arr) else np.empty(0)
        out = np.asarray(out, dtype=np.float64)
        if index is not None:
            return pd.Series(out, index=index, name="score")
        return out

    def transform(self, scores: Any, values: Any = None) -> Any:
        """What :meth:`update` would return, leaving the state unchanged.

        A fresh post-processor processes the rows from scratch; one that has seen a stream
        treats ``scores`` as the rows that follow it.
        """
        return copy.deepcopy(self).update(scores, values)

    def reset(self) -> PostProcessor:
        """Forget the state (the next call starts a new stream); returns ``self``."""
        for key in ("n_seen_", *self._scalar_state, *self._array_state):
            self.__dict__.pop(key, None)
        return self

    def _check_columns(self, values: np.ndarray | None, what: str) -> None:
        expected = getattr(self, "n_columns_", None)
        if not self.uses_values:
            return
        if values is None:
            if expected is not None:
                raise DataError(
                    f"{what}: {type(self).__name__} was given values with {expected} column(s) "
                    "before; give the values of these rows too"
                )
            return
        if expected is None:
            if self.n_seen_ > 0:
                raise DataError(
                    f"{what}: {type(self).__name__} processed rows without values before; "
                    "give values from the first call on or never"
                )
            self._set_columns(values.shape[1])
        elif values.shape[1] != expected:
            raise DataError(
                f"{what}: values have {values.shape[1]} column(s), expected {expected} as before"
            )

    def _set_columns(self, n_columns: int) -> None:
        """Called when the first values arrive (rules reading values size their state)."""
        self.n_columns_: int | None = n_columns

    # ------------------------------------------------------------------ state
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The state as JSON-compatible scalars and numeric arrays (empty when not started)."""
        if not self.is_started:
            return {}, {}
        scalars: dict[str, Any] = {"n_seen_": int(self.n_seen_)}
        for key in self._scalar_state:
            value = getattr(self, key, None)
            if isinstance(value, np.integer):
                value = int(value)
            elif isinstance(value, np.floating):
                value = float(value)
            scalars[key] = value
        arrays = {
            key: np.asarray(getattr(self, key))
            for key in self._array_state
            if getattr(self, key, None) is not None
        }
        return scalars, arrays

    def set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> PostProcessor:
        """Restore a state written by :meth:`get_state`; returns ``self``.

        Raises
        ------
        PersistenceError
            Unknown or missing keys, values of the wrong type, non-finite numbers.
        """
        name = type(self).__name__
        self.reset()
        if not scalars and not arrays:
            return self
        if not isinstance(scalars, dict):
            raise PersistenceError(f"{name} state must be a dict, got {type(scalars).__name__}")
        expected = {"n_seen_", *self._scalar_state}
        if set(scalars) != expected:
            raise PersistenceError(
                f"{name} state: unknown keys {sorted(set(scalars) - expected)} / missing keys "
                f"{sorted(expected - set(scalars))}"
            )
        unknown = set(arrays) - set(self._array_state)
        if unknown:
            raise PersistenceError(f"{name} state: unknown arrays {sorted(unknown)}")
        n_seen = scalars["n_seen_"]
        if isinstance(n_seen, bool) or not isinstance(n_seen, int) or n_seen < 0:
            raise PersistenceError(f"{name} state: n_seen_ must be an integer >= 0, got {n_seen!r}")
        for key in self._scalar_state:
            value = scalars[key]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise PersistenceError(f"{name} state: {key} must be a finite number or null, "
                                       f"got {value!r}")
        for key, value in arrays.items():
            arr = np.asarray(value)
            if arr.dtype.kind not in "fiu" or not np.isfinite(arr).all():
                raise PersistenceError(f"{name} state: array {key} must hold finite numbers")
        self._check_params()
        self.n_seen_ = n_seen
        for key in self._scalar_state:
            setattr(self, key, scalars[key])
        for key in self._array_state:
            setattr(self, key, np.array(arrays[key], dtype=np.float64) if key in arrays else None)
        try:
            self._check_state()
        except (ValueError, TypeError) as exc:
            self.reset()
            raise PersistenceError(f"{name} state is inconsistent: {exc}") from None
        return self

    def _check_state(self) -> None:
        """Check a restored state's consistency (shapes, counts); raise ValueError."""

    # ------------------------------------------------------------------ text form
    def to_text(self) -> str:
        """``NAME[:k=v,...]`` with the parameters that differ from the defaults (exact floats)."""
        return format_step(self)

    def __str__(self) -> str:
        return self.to_text()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, PostProcessor)
        return bool(self.get_params(deep=False) == other.get_params(deep=False))

    __hash__ = None  # type: ignore[assignment]


class Chain(PostProcessor):
    """Post-processors applied one after the other (the output of one feeds the next).

    Every step sees the same input values. A chain is itself a :class:`PostProcessor`:
    causal, stateful, saveable.

    Parameters
    ----------
    steps : sequence of PostProcessor
        The steps, first applied first. An empty chain returns the scores unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> from anomark.postprocess import Chain, RunningZScore, RangeRule
    >>> chain = Chain([RunningZScore(), RangeRule(value=10.0)])
    >>> x = np.array([1.0, 2.0, 1.5, 1.8, 9.0])            # the input values
    >>> s = np.array([0.1, 0.2, 0.1, 0.2, 0.3])            # a detector's scores
    >>> float(chain.update(s, values=x)[-1])               # 9.0 is far outside 1.0 .. 2.0
    10.0
    """

    name: ClassVar[str] = "chain"
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    def __init__(self, steps: Sequence[PostProcessor] = ()) -> None:
        self.steps = steps

    @property
    def uses_values(self) -> bool:  # type: ignore[override]
        return any(step.uses_values for step in self._steps())

    def _steps(self) -> list[PostProcessor]:
        steps = self.steps
        if isinstance(steps, PostProcessor) or not isinstance(steps, Sequence | tuple):
            raise ConfigurationError(
                f"Chain: steps must be a list of post-processors, got {type(steps).__name__}"
            )
        bad = [s for s in steps if not isinstance(s, PostProcessor)]
        if bad:
            raise ConfigurationError(
                f"Chain: every step must be a PostProcessor (RunningZScore, AnomalyLikelihood, "
                f"RangeRule...), got {type(bad[0]).__name__} {bad[0]!r:.60}"
            )
        return list(steps)

    def _check_params(self) -> None:
        for step in self._steps():
            step._check_params()

    def _start(self, n_columns: int | None) -> None:
        self.n_seen_ = 0

    def _check_columns(self, values: np.ndarray | None, what: str) -> None:
        return  # each step checks its own

    def update(self, scores: Any, values: Any = None) -> Any:
        what = "Chain.update"
        self._check_params()
        arr, index = as_scores(scores, what, allow_empty=True)
        steps = self._steps()
        vals = _as_values(values, len(arr), what) if self.uses_values else None
        if not self.is_started:
            self._start(None)
        out = arr
        for step in steps:
            out = np.asarray(step.update(out, vals if step.uses_values else None))
        self.n_seen_ += len(arr)
        if index is not None:
            return pd.Series(out, index=index, name="score")
        return out

    def _update(self, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError  # pragma: no cover - update() is overridden

    def reset(self) -> Chain:
        super().reset()
        for step in self._steps():
            step.reset()
        return self

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if not self.is_started:
            return {}, {}
        scalars: dict[str, Any] = {"n_seen_": int(self.n_seen_), "steps": []}
        arrays: dict[str, np.ndarray] = {}
        for i, step in enumerate(self._steps()):
            s, a = step.get_state()
            scalars["steps"].append(s)
            arrays.update({f"{i}.{k}": v for k, v in a.items()})
        return scalars, arrays

    def set_state(self, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> Chain:
        self.reset()
        if not scalars and not arrays:
            return self
        steps = self._steps()
        if (
            not isinstance(scalars, dict)
            or set(scalars) != {"n_seen_", "steps"}
            or not isinstance(scalars["steps"], list)
            or len(scalars["steps"]) != len(steps)
        ):
            raise PersistenceError(
                f"Chain state must hold n_seen_ and the states of its {len(steps)} step(s)"
            )
        n_seen = scalars["n_seen_"]
        if isinstance(n_seen, bool) or not isinstance(n_seen, int) or n_seen < 0:
            raise PersistenceError(f"Chain state: n_seen_ must be an integer >= 0, got {n_seen!r}")
        for i, (step, state) in enumerate(zip(steps, scalars["steps"], strict=True)):
            prefix = f"{i}."
            step.set_state(
                state, {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            )
        stray = [k for k in arrays if not k.split(".", 1)[0].isdigit()
                 or int(k.split(".", 1)[0]) >= len(steps)]
        if stray:
            raise PersistenceError(f"Chain state: arrays {stray} belong to no step")
        self.n_seen_ = n_seen
        return self

    def to_text(self) -> str:
        return format_postprocess(self._steps())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chain):
            return NotImplemented
        return list(self._steps()) == list(other._steps())


def check_postprocess(value: Any, owner: str = "") -> list[PostProcessor]:
    """A detector's ``postprocess=`` parameter as a list of post-processors.

    ``None`` and ``[]`` mean none. Raises ConfigurationError for anything else than a
    post-processor or a list/tuple of them.
    """
    prefix = f"{owner}: " if owner else ""
    if value is None:
        return []
    if isinstance(value, PostProcessor):
        return [value]
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigurationError(
            f"{prefix}postprocess must be a list of post-processors (e.g. [RunningZScore(), "
            f"RangeRule()]) or None, got {type(value).__name__} {value!r:.60}"
        )
    for step in value:
        if not isinstance(step, PostProcessor):
            raise ConfigurationError(
                f"{prefix}postprocess must hold post-processors from anomark.postprocess, got "
                f"{type(step).__name__} {step!r:.60}"
            )
        step._check_params()
    return list(value)


# ---------------------------------------------------------------------- text form
def _defaults(cls: type) -> dict[str, Any]:
    return {
        name: p.default
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _format_value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_step(step: PostProcessor) -> str:
    """``NAME[:k=v,...]`` listing the parameters that differ from the defaults."""
    defaults = _defaults(type(step))
    parts = []
    for key, value in step.get_params(deep=False).items():
        if key in defaults and type(defaults[key]) is type(value) and defaults[key] == value:
            continue
        parts.append(f"{key}={_format_value(value)}")
    return step.name + (":" + ",".join(parts) if parts else "")


def format_postprocess(steps: Any) -> str:
    """The text form of a list of post-processors (``"none"`` for an empty one)."""
    steps = check_postprocess(steps)
    return "+".join(format_step(s) for s in steps) if steps else "none"
