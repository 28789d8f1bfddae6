"""How a detector runs its ``seasonal=`` stage: fitted copy, batch and online use, saving.

A detector with ``seasonal=SeasonalResidual(...)`` keeps a fitted copy in ``seasonal_`` (the
parameter itself is never modified, as scikit-learn requires) and its model reads the
*model data*: the input columns followed by their residual columns.

* ``fit`` fits the stage on the training rows (:func:`fit_seasonal`: ``"auto"`` decides with
  all of them, as the model learns from all of them), leaving it at the end of the training
  data;
* ``score`` / ``detect`` take new data as :meth:`SeasonalResidual.transform` does (continuing
  after the training rows when the timestamps follow them, else on its own), without
  changing the state (:func:`transform_seasonal`);
* the online methods (``score_update``...) continue the state (:func:`update_seasonal`); a
  stream started cold decides as the rows arrive, so no output depends on a later row;
* ``save`` / ``load`` keep the state (:func:`seasonal_state`, :func:`restore_seasonal`) as
  JSON values and arrays prefixed ``seasonal_.`` in the detector's ``arrays.npz``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import clone

from anomark.dataset import Dataset
from anomark.errors import ConfigurationError, PersistenceError
from anomark.seasonal._stage import SeasonalResidual

__all__ = [
    "ARRAY_PREFIX",
    "check_unchanged",
    "fit_seasonal",
    "n_model_features",
    "restore_seasonal",
    "seasonal_state",
    "transform_seasonal",
    "update_seasonal",
]

ARRAY_PREFIX = "seasonal_."


def _param(det: Any) -> SeasonalResidual | None:
    stage = getattr(det, "seasonal", None)
    return stage if isinstance(stage, SeasonalResidual) else None


def fit_seasonal(det: Any, ds: Dataset) -> Dataset:
    """Start ``det.seasonal_`` on the training rows; return their model data."""
    stage = _param(det)
    if stage is None:
        det.seasonal_ = None
        return ds
    fitted = clone(stage)
    model = fitted.fit_transform(ds)
    det.seasonal_ = fitted
    return model


def transform_seasonal(det: Any, ds: Dataset) -> Dataset:
    """The model data of rows scored in batch (the state is not changed)."""
    fitted = getattr(det, "seasonal_", None)
    check_unchanged(det)
    return ds if fitted is None else fitted.transform(ds)


def update_seasonal(det: Any, ds: Dataset, *, cold: bool) -> Dataset:
    """The model data of rows that continue a stream (the state advances); a cold start
    starts the stage on these rows, deciding as they arrive (no look-ahead, any chunking)."""
    if cold:
        stage = _param(det)
        det.seasonal_ = None if stage is None else clone(stage)
        return ds if det.seasonal_ is None else det.seasonal_.update(ds)
    fitted = getattr(det, "seasonal_", None)
    check_unchanged(det)
    return ds if fitted is None else fitted.update(ds)


def check_unchanged(det: Any) -> None:
    """Refuse a ``seasonal`` parameter changed (``set_params``) since the stage was fitted:
    the model reads the columns the fitted stage makes."""
    fitted = getattr(det, "seasonal_", None)
    stage = _param(det)
    if (fitted is None) != (stage is None) or (fitted is not None and not fitted == stage):
        raise ConfigurationError(
            f"seasonal={stage!r} differs from the stage the detector was fitted with "
            f"({fitted!r}); refit, or set it back"
        )


def n_model_features(det: Any) -> int:
    """Columns the model reads: the input columns and the residual columns."""
    fitted = getattr(det, "seasonal_", None)
    return int(det.n_features_in_) + (0 if fitted is None else fitted.n_added_)


def seasonal_state(det: Any) -> tuple[dict[str, Any] | None, dict[str, np.ndarray]]:
    """The fitted stage's state for ``config.json`` and ``arrays.npz`` (``None``: no stage)."""
    fitted = getattr(det, "seasonal_", None)
    if fitted is None:
        return None, {}
    scalars, arrays = fitted.get_state()
    return scalars, {ARRAY_PREFIX + k: v for k, v in arrays.items()}


def restore_seasonal(det: Any, state: Any, arrays: dict[str, np.ndarray], where: str) -> None:
    """Rebuild ``det.seasonal_`` from its parameter and a saved state."""
    stage = _param(det)
    if stage is None:
        if state is not None or arrays:
            raise PersistenceError(
                f"{where}: seasonal state saved, but the detector has no seasonal stage"
            )
        det.seasonal_ = None
        return
    if state is None:
        raise PersistenceError(
            f"{where}: the detector has a seasonal stage but no saved seasonal state"
        )
    fitted = clone(stage)
    try:
        fitted.set_state(state, arrays)
    except PersistenceError as exc:
        raise PersistenceError(f"{where}: {exc}") from None
    if fitted.columns_ != [str(c) for c in det.feature_names_in_]:
        raise PersistenceError(
            f"{where}: the seasonal stage was fitted on columns {fitted.columns_}, the "
            f"detector on {[str(c) for c in det.feature_names_in_]}"
        )
    det.seasonal_ = fitted
