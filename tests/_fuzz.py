"""Helpers shared by the hypothesis fuzz suites."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import event

from anomark.errors import AnomarkError


def run(fn: Any) -> tuple[Any, BaseException | None]:
    """Call ``fn``; return (result, None) or (None, anomark error). Other exceptions escape."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn()
        except AnomarkError as exc:
            event(f"error: {type(exc).__name__}")
            return None, exc
    event("valid output")
    return out, None
