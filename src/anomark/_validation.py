"""Parameter constraints, declared once per class and checked in one place.

As scikit-learn's ``_parameter_constraints``: a class declares a table
``{parameter: [constraint, ...]}`` and :func:`validate_params` checks every parameter against
it (a value is valid when any one of its constraints accepts it). Every range check of the
package lives in such a table, so a range (SageMaker RCF's ``num_trees`` 50-1000, say) is
written once and reported the same way everywhere.

Constraints:

* :class:`Interval` — an integer or a real number in a range (ends open or closed);
* :class:`Options` — one of a fixed set of values (strings, ``True``/``False``, ...);
* :class:`InstanceOf` — an instance of a class (named lazily: ``"anomark.threshold.Threshold"``);
* :class:`IntSequence` — a non-empty sequence of integers in a range (e.g. Keras filters);
* :class:`Duration` — a positive length of time (a Timedelta or text such as ``"7D"``);
* ``None`` — the value ``None`` itself.

Messages name the parameter, what it must be and what it got:
``num_trees must be an integer in [50, 1000], got 10``.

Examples
--------
>>> from anomark._validation import Interval, Options, validate_params
>>> table = {"k": [Interval(int, 1, None)], "mode": [Options("a", "b"), None]}
>>> validate_params(table, {"k": 3, "mode": None}, "Example")
{'k': 3, 'mode': None}
>>> validate_params(table, {"k": 0, "mode": "a"}, "Example")
Traceback (most recent call last):
...
anomark.errors.ConfigurationError: Example: k must be an integer in [1, inf), got 0
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np

from anomark.errors import ConfigurationError

__all__ = [
    "Constraint",
    "Duration",
    "InstanceOf",
    "IntSequence",
    "Interval",
    "Options",
    "check_param",
    "validate_params",
]

Closed = Literal["both", "left", "right", "neither"]


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral | np.integer) and not isinstance(value, bool | np.bool_)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real | np.floating | np.integer) and not isinstance(
        value, bool | np.bool_
    )


@dataclass(frozen=True)
class Interval:
    """A number of ``kind`` (``int`` or ``float``) between ``low`` and ``high``.

    ``None`` for an end means unbounded; ``closed`` says which ends are included. A ``float``
    interval accepts integers too and never NaN or infinity.
    """

    kind: type
    low: float | None
    high: float | None
    closed: Closed = "both"

    def accepts(self, value: Any) -> bool:
        if self.kind is int:
            if not _is_int(value):
                return False
        elif not _is_real(value) or not math.isfinite(float(value)):
            return False
        v = value
        if self.low is not None:
            left_closed = self.closed in ("both", "left")
            if v < self.low or (v == self.low and not left_closed):
                return False
        if self.high is not None:
            right_closed = self.closed in ("both", "right")
            if v > self.high or (v == self.high and not right_closed):
                return False
        return True

    def normalise(self, value: Any) -> Any:
        return int(value) if self.kind is int else float(value)

    def __str__(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        if self.low is None and self.high is None:
            return what
        lb = "[" if self.closed in ("both", "left") and self.low is not None else "("
        rb = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{what} in {lb}{low}, {high}{rb}"


@dataclass(frozen=True, init=False)
class Options:
    """One of the given values (compared by type and value: ``1`` is not ``True``)."""

    values: tuple[Any, ...]

    def __init__(self, *values: Any) -> None:
        object.__setattr__(self, "values", tuple(values))

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values) or (
            # numpy scalars and plain ints/strs compare by value
            any(_is_int(value) and _is_int(v) and value == v for v in self.values)
        )

    def normalise(self, value: Any) -> Any:
        return int(value) if _is_int(value) else value

    def __str__(self) -> str:
        if set(self.values) == {True, False} and len(self.values) == 2:
            return "true or false"
        return f"one of {', '.join(repr(v) for v in self.values)}"


@dataclass(frozen=True)
class InstanceOf:
    """An instance of a class, given by its dotted name so that the module is imported only
    when a value has to be checked (``"anomark.sagemaker.config.SageMakerConfig"``)."""

    qualname: str
    label: str = ""

    def _class(self) -> type:
        module, _, name = self.qualname.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert isinstance(cls, type)
        return cls

    def accepts(self, value: Any) -> bool:
        return isinstance(value, self._class())

    def normalise(self, value: Any) -> Any:
        return value

    def __str__(self) -> str:
        return self.label or f"a {self.qualname.rpartition('.')[2]}"


@dataclass(frozen=True)
class IntSequence:
    """A non-empty sequence of at most ``max_len`` integers, each in ``item``."""

    item: Interval
    max_len: int

    def accepts(self, value: Any) -> bool:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            return False
        return 0 < len(value) <= self.max_len and all(self.item.accepts(v) for v in value)

    def normalise(self, value: Any) -> Any:
        return tuple(int(v) for v in value)

    def __str__(self) -> str:
        return f"a sequence of 1 to {self.max_len} entries, each {self.item}"


@dataclass(frozen=True)
class Duration:
    """A positive length of time: a :class:`pandas.Timedelta` (or ``datetime.timedelta``,
    ``numpy.timedelta64``) or a text pandas reads as one with a unit (``"7D"``, ``"1w"``,
    ``"12h"``; a bare number such as ``"336"`` is refused: pandas would read nanoseconds)."""

    def accepts(self, value: Any) -> bool:
        return self._parse(value) is not None

    @staticmethod
    def _parse(value: Any) -> Any:
        import datetime

        import pandas as pd

        if isinstance(value, str):
            if not any(c.isalpha() for c in value):
                return None
        elif not isinstance(value, datetime.timedelta | np.timedelta64):
            return None
        try:
            with warnings.catch_warnings():  # pandas' deprecation notes on unit aliases
                warnings.simplefilter("ignore")
                delta = pd.Timedelta(value)
        except (ValueError, TypeError, OverflowError):
            return None
        return delta if delta is not pd.NaT and delta > pd.Timedelta(0) else None

    def normalise(self, value: Any) -> Any:
        return value

    def __str__(self) -> str:
        return "a positive duration (a Timedelta or text such as '7D', '1w', '12h')"


Constraint = Interval | Options | InstanceOf | IntSequence | Duration | None


def _describe(constraints: Sequence[Constraint]) -> str:
    parts = ["None" if c is None else str(c) for c in constraints]
    return " or ".join(parts)


def _got(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return f"{type(value).__name__} {value!r:.60}"


def check_param(
    value: Any,
    name: str,
    constraints: Sequence[Constraint],
    owner: str = "",
    *,
    error: type[Exception] = ConfigurationError,
) -> Any:
    """Check one value against its constraints; return it normalised (numpy ints -> int).

    Raises
    ------
    ConfigurationError
        (or ``error``) naming ``owner``, the parameter, what it must be and what it got.
    """
    for constraint in constraints:
        if constraint is None:
            if value is None:
                return None
        elif constraint.accepts(value):
            return constraint.normalise(value)
    prefix = f"{owner}: " if owner else ""
    raise error(f"{prefix}{name} must be {_describe(constraints)}, got {_got(value)}")


def validate_params(
    table: Mapping[str, Sequence[Constraint]],
    params: Mapping[str, Any],
    owner: str = "",
    *,
    error: type[Exception] = ConfigurationError,
) -> dict[str, Any]:
    """Check every parameter of ``params`` that ``table`` declares; return them normalised.

    Parameters
    ----------
    table : mapping
        ``{name: [constraint, ...]}``; a value passes when any constraint accepts it.
    params : mapping
        The values (e.g. ``estimator.get_params(deep=False)``). Names missing from ``table``
        are not checked here (the class checks them itself).
    owner : str
        Class name for the message.
    error : exception class
        Raised on a bad value (default :class:`~anomark.errors.ConfigurationError`).

    Returns
    -------
    dict
        The checked values, normalised.
    """
    return {
        name: check_param(params[name], name, constraints, owner, error=error)
        for name, constraints in table.items()
        if name in params
    }
