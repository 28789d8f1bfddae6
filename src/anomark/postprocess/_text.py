"""Text form of post-processors: ``NAME[:k=v,...]`` steps joined by ``+`` (``"none"``: no step)."""

from __future__ import annotations

import re
from typing import Any

from anomark.errors import ConfigurationError
from anomark.postprocess._base import (
    PostProcessor,
    _defaults,
    format_postprocess,
    format_step,
)
from anomark.postprocess._likelihood import AnomalyLikelihood
from anomark.postprocess._range import RangeRule
from anomark.postprocess._zscore import RunningZScore

__all__ = ["format_postprocess", "format_step", "parse_postprocess", "postprocessor_classes"]


def postprocessor_classes() -> dict[str, type[PostProcessor]]:
    """The post-processors by text name."""
    return {cls.name: cls for cls in (RunningZScore, AnomalyLikelihood, RangeRule)}


def _parse_value(text: str, default: Any, where: str) -> Any:
    raw = text.strip()
    low = raw.lower()
    if low in ("none", "null"):
        return None
    if isinstance(default, bool):
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
        raise ConfigurationError(f"{where}: expected true or false, got {raw!r}")
    if isinstance(default, str):
        return raw
    if re.fullmatch(r"[+-]?\d+", raw):
        return int(raw)
    try:
        return float(raw)
    except ValueError:
        if isinstance(default, int | float) or default is None:
            raise ConfigurationError(f"{where}: expected a number, got {raw!r}") from None
        return raw


def parse_postprocess(text: str) -> list[PostProcessor]:
    """Post-processors from their text form, the inverse of :func:`format_postprocess`.

    ``"zscore"``, ``"zscore:window=500+range:value=10"``, ``"likelihood+range"``, ``"none"``.
    Steps are joined by ``+``; each is ``NAME`` or ``NAME:key=value,key=value``. Names:
    ``zscore`` (:class:`RunningZScore`), ``likelihood`` (:class:`AnomalyLikelihood`),
    ``range`` (:class:`RangeRule`). Case is ignored and ``-`` reads as ``_``.

    Raises
    ------
    ConfigurationError
        Not a string, an unknown name or parameter, a value of the wrong kind, or a value the
        post-processor rejects.

    Examples
    --------
    >>> from anomark.postprocess import parse_postprocess, format_postprocess
    >>> steps = parse_postprocess("zscore:window=500+range:value=10")
    >>> steps
    [RunningZScore(window=500), RangeRule(value=10.0)]
    >>> format_postprocess(steps)
    'zscore:window=500+range:value=10.0'
    """
    if not isinstance(text, str):
        raise ConfigurationError(
            f"post-processing is text such as 'zscore+range', got {type(text).__name__} {text!r}"
        )
    stripped = text.strip()
    if stripped.lower() in ("", "none"):
        return []
    classes = postprocessor_classes()
    steps: list[PostProcessor] = []
    # '+' separates steps, but not the sign of an exponent ("1e+4")
    for part in re.split(r"\+(?=\s*[A-Za-z_])", stripped):
        part = part.strip()
        name, _, raw = part.partition(":")
        key = name.strip().lower().replace("-", "_")
        if key not in classes:
            raise ConfigurationError(
                f"unknown post-processor {name.strip()!r} in {text!r}; use "
                f"{', '.join(classes)} (joined by '+', e.g. 'zscore+range:value=10')"
            )
        cls = classes[key]
        defaults = _defaults(cls)
        params: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in raw.split(","))) if raw.strip() else ():
            pname, eq, pvalue = item.partition("=")
            pname = pname.strip().lower().replace("-", "_")
            if not eq or pname not in defaults:
                raise ConfigurationError(
                    f"{key}: expected key=value with key one of {', '.join(defaults)}, got "
                    f"{item!r} in {text!r}"
                )
            if pname in params:
                raise ConfigurationError(f"{key}: {pname} given twice in {text!r}")
            value = _parse_value(pvalue, defaults[pname], f"{key}: {pname}")
            if isinstance(defaults[pname], float) and isinstance(value, int):
                value = float(value)
            params[pname] = value
        step = cls(**params)
        step._check_params()
        steps.append(step)
    return steps
