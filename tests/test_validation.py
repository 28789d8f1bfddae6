"""Tests of the constraint tables in anomark._validation."""

from __future__ import annotations

import numpy as np
import pytest

from anomark._validation import (
    InstanceOf,
    Interval,
    IntSequence,
    Options,
    check_param,
    validate_params,
)
from anomark.detectors.base import get_detector_class
from anomark.errors import ConfigurationError, DataError


@pytest.mark.parametrize(
    "constraint, good, bad",
    [
        (Interval(int, 1, 5), [1, 5, np.int64(3)], [0, 6, 2.0, True, "3", None]),
        (Interval(int, 1, 5, closed="neither"), [2, 4], [1, 5]),
        (Interval(float, 0.0, 1.0, closed="right"), [1.0, 0.5, 1, np.float32(0.25)],
         [0.0, 1.5, float("nan"), float("inf"), False]),
        (Interval(float, None, None), [-1e300, 0, 7.5], [float("nan"), float("-inf")]),
        (Options("a", "b"), ["a", "b"], ["c", 1, None]),
        (Options(True, False), [True, False], [1, 0, "true"]),
        (Options(0, 1, "auto"), [0, 1, np.int64(1), "auto"], [2, True, "AUTO"]),
        (IntSequence(Interval(int, 1, 9), 3), [(1, 2), [9], np.array([1, 2, 3])],
         [(), (1, 2, 3, 4), (0,), "12", 5, (1.5,)]),
        (InstanceOf("numpy.random.RandomState"), [np.random.RandomState(0)], [0, None]),
    ],
)
def test_constraints_accept_and_reject(constraint, good, bad) -> None:
    for value in good:
        assert constraint.accepts(value), value
    for value in bad:
        assert not constraint.accepts(value), value


def test_messages_name_owner_parameter_rule_and_value() -> None:
    table = {"num_trees": [Interval(int, 50, 1000)], "mode": [Options("a", "b"), None]}
    with pytest.raises(
        ConfigurationError, match=r"^RCF: num_trees must be an integer in \[50, 1000\], got 10$"
    ):
        validate_params(table, {"num_trees": 10, "mode": None}, "RCF")
    with pytest.raises(
        ConfigurationError, match=r"^mode must be one of 'a', 'b' or None, got 'c'$"
    ):
        validate_params(table, {"num_trees": 50, "mode": "c"})
    with pytest.raises(DataError, match=r"x must be a number in \(0, 1\], got list \[1\]"):
        check_param([1], "x", [Interval(float, 0, 1, closed="right")], error=DataError)


def test_values_are_normalised_and_undeclared_names_ignored() -> None:
    out = validate_params(
        {"n": [Interval(int, 0, None)], "f": [IntSequence(Interval(int, 1, 8), 4)]},
        {"n": np.int64(3), "f": [1, 2], "other": object()},
    )
    assert out == {"n": 3, "f": (1, 2)}
    assert type(out["n"]) is int


def test_every_detector_checks_its_table_in_fit() -> None:
    for name in ("iforest", "rcf", "conv-ae"):
        cls = get_detector_class(name)
        assert "threshold" in cls._parameter_constraints
        det = cls(threshold="mean_std:3")  # type: ignore[call-arg]
        with pytest.raises(ConfigurationError, match=f"{cls.__name__}: threshold must be a "):
            det._validate_params()
