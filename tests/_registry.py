"""Parametrisation over every registered detector, shared by the cross-detector test modules."""

from __future__ import annotations

from typing import Any

import pytest

from anomark.detectors import available_detectors

#: Detectors needing TensorFlow (their cases carry the ``tensorflow`` marker).
TENSORFLOW = {"conv-ae"}


def detector_params() -> list[Any]:
    """One ``pytest.param`` per registered detector name, marked when it needs TensorFlow."""
    out = []
    for name in available_detectors():
        marks = [pytest.mark.tensorflow] if name in TENSORFLOW else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out
