"""How a detector runs its ``postprocess=`` steps: fitted copy, batch and online use, saving.

The detector keeps a fitted :class:`Chain` of fresh copies of its ``postprocess`` steps in
``postprocess_`` (the parameters themselves are never modified, as scikit-learn requires):

* ``fit`` runs the chain over the training scores (:func:`fit_postprocess`), leaving it in
  the state reached at the end of the training data, and the threshold is fitted on its
  output;
* ``score`` / ``detect`` treat new data as rows that follow the training data, without
  changing the state (:func:`transform_postprocess`);
* ``score_update`` continues the state (:func:`update_postprocess`);
* ``save`` / ``load`` keep the state (:func:`postprocess_state`, :func:`restore_postprocess`)
  as JSON scalars and arrays prefixed ``postprocess_.`` in the detector's ``arrays.npz``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from anomark.errors import PersistenceError
from anomark.postprocess._base import Chain, PostProcessor, check_postprocess

__all__ = [
    "ARRAY_PREFIX",
    "fit_postprocess",
    "online_thresholds",
    "online_value",
    "postprocess_from_dict",
    "postprocess_state",
    "postprocess_to_dict",
    "restore_postprocess",
    "transform_postprocess",
    "update_postprocess",
]

ARRAY_PREFIX = "postprocess_."


def _steps(det: Any) -> list[PostProcessor]:
    return check_postprocess(getattr(det, "postprocess", None), type(det).__name__)


def _fresh_chain(det: Any) -> Chain | None:
    steps = _steps(det)
    return Chain([clone(s) for s in steps]) if steps else None


def fit_postprocess(det: Any, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Start ``det.postprocess_`` on the training scores; return its output."""
    chain = _fresh_chain(det)
    det.postprocess_ = chain
    if chain is None:
        return scores
    return np.asarray(chain.update(scores, values), dtype=np.float64)


def transform_postprocess(det: Any, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """The post-processed scores of rows that follow the training data (state unchanged)."""
    chain = getattr(det, "postprocess_", None)
    if chain is None:
        return scores
    return np.asarray(chain.transform(scores, values), dtype=np.float64)


def update_postprocess(det: Any, scores: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """The post-processed scores of rows that continue the stream (state kept).

    A detector that has never run its post-processors (a cold start of ``score_update``)
    starts them here.
    """
    chain = getattr(det, "postprocess_", None)
    if chain is None:
        chain = _fresh_chain(det)
        det.postprocess_ = chain
        if chain is None:
            return scores
    return np.asarray(chain.update(scores, values), dtype=np.float64)


def postprocess_state(det: Any) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """The fitted chain's state for ``config.json`` and ``arrays.npz`` (``None``: no steps)."""
    chain = getattr(det, "postprocess_", None)
    if chain is None:
        return None, {}
    scalars, arrays = chain.get_state()
    return scalars, {ARRAY_PREFIX + k: v for k, v in arrays.items()}


def restore_postprocess(
    det: Any, state: Any, arrays: dict[str, np.ndarray], where: str
) -> None:
    """Rebuild ``det.postprocess_`` from its parameters and a saved state."""
    chain = _fresh_chain(det)
    if chain is None:
        if state is not None or arrays:
            raise PersistenceError(
                f"{where}: post-processing state saved, but the detector has no postprocess steps"
            )
        det.postprocess_ = None
        return
    if state is None:
        raise PersistenceError(
            f"{where}: the detector has postprocess steps but no saved post-processing state"
        )
    if not isinstance(state, dict):
        raise PersistenceError(f"{where}: post-processing state must be an object")
    chain.set_state(state, arrays)
    det.postprocess_ = chain


def postprocess_to_dict(step: PostProcessor) -> dict[str, Any]:
    """A post-processor parameter as JSON: its exact text form (no state)."""
    from anomark.postprocess._text import format_postprocess, format_step

    if isinstance(step, Chain):
        return {"chain": format_postprocess(step._steps())}
    return {"step": format_step(step)}


def postprocess_from_dict(data: Any) -> PostProcessor:
    """Inverse of :func:`postprocess_to_dict`."""
    from anomark.postprocess._text import parse_postprocess

    if not isinstance(data, dict) or len(data) != 1 or not set(data) <= {"chain", "step"}:
        raise ValueError(f"a post-processor is saved as {{'step': text}}, got {data!r}")
    if "chain" in data:
        return Chain(parse_postprocess(data["chain"]))
    steps = parse_postprocess(data["step"])
    if len(steps) != 1:
        raise ValueError(f"expected one post-processor, got {data['step']!r}")
    return steps[0]


def online_thresholds(det: Any, scores: np.ndarray, ready: np.ndarray) -> np.ndarray | None:
    """Per-row thresholds for ``detect_update`` from the detector's own rule, when that rule
    works online: ``Threshold.spot`` (SPOT/DSPOT learning from the post-processed scores;
    one never fitted calibrates itself on the first ready scores) or ``Threshold.fixed`` (a
    value on a scale the post-processing sets, e.g. z-scores). ``None`` for the other rules
    (the detector's running rule applies). Rows that are not ready get ``inf``.
    """
    from anomark.threshold import Threshold

    rule = getattr(det, "threshold", None)
    if not isinstance(rule, Threshold) or rule.method not in ("spot", "fixed"):
        return None
    out = np.full(len(scores), np.inf)
    if rule.method == "fixed":
        out[ready] = rule.param
        det.threshold_ = rule.unfitted().fit([0.0])
        return out
    current = getattr(det, "threshold_", None)
    if not (isinstance(current, Threshold) and current.method == "spot"
            and current.params == rule.params):
        current = rule.unfitted()
    _, thresholds = current.update_with_thresholds(np.asarray(scores)[ready])
    out[ready] = thresholds
    det.threshold_ = current
    return out


def online_value(det: Any) -> float | None:
    """The current value of an online rule (:func:`online_thresholds`), ``inf`` while SPOT
    calibrates; ``None`` for the other rules."""
    from anomark.threshold import Threshold

    rule = getattr(det, "threshold", None)
    if not isinstance(rule, Threshold) or rule.method not in ("spot", "fixed"):
        return None
    current = getattr(det, "threshold_", None)
    if isinstance(current, Threshold) and current.is_fitted:
        return float(current.value_)
    return float("inf")
