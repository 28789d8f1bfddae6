"""The :class:`Detector` base class: input validation, thresholds, detection and persistence.

Subclasses implement four small hooks and inherit everything else:

``_validate_params()``
    Check the constructor parameters (called at the start of ``fit``); raise
    :class:`~anomark.errors.ConfigurationError`.
``_fit(ds)``
    Learn from a validated, finite :class:`~anomark.dataset.Dataset`; set attributes ending
    in ``_``.
``_score(ds)``
    Return one float score per row of ``ds`` (higher = more anomalous).
``_get_state()`` / ``_set_state(state, arrays, folder)``
    Fitted state as JSON-compatible values + numeric arrays (no pickle), and back.
"""

from __future__ import annotations

import inspect
import os
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from anomark._validation import Constraint, InstanceOf, Interval, validate_params
from anomark.dataset import DataLike, Dataset
from anomark.detection import Detection
from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError
from anomark.persistence import read_saved, register_param_type, split_prefixed, write_saved
from anomark.postprocess import PostProcessor, check_postprocess
from anomark.postprocess import _detector as _post
from anomark.seasonal import SeasonalResidual
from anomark.seasonal import _detector as _seasonal
from anomark.threshold import Threshold
from anomark.windowing import DEFAULT_WINDOW_CAP, default_window_size

__all__ = ["Detector", "Pinned", "available_detectors", "get_detector_class"]

register_param_type("Threshold", Threshold, Threshold.to_dict, Threshold.from_dict)
register_param_type(
    "PostProcessor", PostProcessor, _post.postprocess_to_dict, _post.postprocess_from_dict
)
register_param_type(
    "SeasonalResidual", SeasonalResidual, SeasonalResidual.to_dict, SeasonalResidual.from_dict
)

#: Constraints shared by the detectors' tables.
THRESHOLD = InstanceOf("anomark.threshold.Threshold", "a Threshold (e.g. Threshold.mean_std(3))")
SEED = Interval(int, 0, 2**32 - 1)
N_JOBS: list[Constraint] = [Interval(int, None, -1), Interval(int, 1, None), None]
SAGEMAKER = InstanceOf(
    "anomark.sagemaker.config.SageMakerConfig", "a SageMakerConfig (anomark.SageMakerConfig)"
)
SEASONAL = InstanceOf(
    "anomark.seasonal.SeasonalResidual", "a SeasonalResidual (anomark.seasonal)"
)

_REGISTRY: dict[str, type[Detector]] = {}
#: Keys of the ``fitted`` section of a saved config (written by :meth:`Detector.save`).
_FITTED_KEYS = frozenset(
    {"n_features_in_", "feature_names_in_", "fitted_with_names", "threshold_", "postprocess_",
     "seasonal_"}
)


@dataclass(frozen=True)
class Pinned:
    """What a detector's fitted state says about one of its constructor parameters.

    Returned by :meth:`Detector._pinned_params`: ``accepts(value)`` tells whether a parameter
    value agrees with the fitted state (a forest of 50 trees accepts only ``num_trees=50``),
    ``held`` describes that state for the error message ("the forest has 50 trees").
    """

    accepts: Callable[[Any], bool]
    held: str

    @classmethod
    def equal(cls, value: Any, held: str) -> Pinned:
        """Accept exactly ``value`` (``True`` is not ``1``; lists equal tuples)."""
        return cls(lambda v: _same_value(v, value), held)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def available_detectors() -> dict[str, type[Detector]]:
    """Registered detectors by short name (``"rcf"``, ``"iforest"``, ``"conv-ae"``...)."""
    _import_builtin_detectors()
    return dict(sorted(_REGISTRY.items()))


def get_detector_class(name: str) -> type[Detector]:
    """The detector class registered under ``name`` (short name or class name)."""
    _import_builtin_detectors()
    for short, cls in _REGISTRY.items():
        if name in (short, cls.__name__):
            return cls
    raise ConfigurationError(
        f"unknown detector {name!r}; available: {', '.join(sorted(_REGISTRY))}"
    )


def _import_builtin_detectors() -> None:
    import importlib

    for module in ("isolation_forest", "rcf", "conv_autoencoder"):
        try:
            importlib.import_module(f"anomark.detectors.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"anomark.detectors.{module}":
                raise


class Detector(BaseEstimator, ABC):  # type: ignore[misc]
    """Abstract anomaly detector: ``fit`` / ``score`` / ``detect`` / ``save`` / ``load``.

    Follows scikit-learn's conventions: the constructor only stores its arguments, ``fit``
    validates them and returns ``self``, fitted attributes end with ``_``, and
    ``get_params``/``set_params``/``sklearn.base.clone`` work.

    Input can be a :class:`~anomark.dataset.Dataset`, a DataFrame (time-indexed or with a
    time column), a Series, or a 1-D/2-D array (rows = time steps). Scores are a
    :class:`pandas.Series` with the input's index, named ``"score"``: higher = more anomalous.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : numpy.ndarray of str
        Column names seen in ``fit``.
    threshold_ : Threshold
        The threshold rule fitted on the training scores.
    """

    #: Short name used by the CLI and :func:`get_detector_class`.
    name: ClassVar[str] = ""
    #: Threshold used when ``threshold=None``.
    default_threshold: ClassVar[tuple[str, float]] = ("mean_std", 3.0)
    #: Constructor parameter holding the window length (``"shingle_size"``,
    #: ``"window_size"``), or ``None`` for a point-wise detector.
    window_param: ClassVar[str | None] = None
    #: Smallest window the detector accepts, and the most values (window x columns) one
    #: window may hold (``None``: no limit); both bound :meth:`default_window`.
    min_window: ClassVar[int] = 1
    max_window_values: ClassVar[int | None] = None
    #: Parameters the NAB benchmark sets on top of the window and seed (e.g. fewer epochs).
    benchmark_params: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    #: Constraints of the constructor parameters, checked by :meth:`_validate_params` (see
    #: :mod:`anomark._validation`); subclasses extend it with their own parameters.
    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "threshold": [THRESHOLD, None],
        "seasonal": [SEASONAL, None],  # checked for the detectors that declare it
    }

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name and not inspect.isabstract(cls):
            _REGISTRY[cls.name] = cls

    @classmethod
    def default_window(cls, data: DataLike, *, cap: int = DEFAULT_WINDOW_CAP) -> int | None:
        """This detector's default window for ``data``: one day of samples, at most ``cap``.

        The rule is :func:`anomark.windowing.default_window_size`, bounded by the class's
        :attr:`min_window` and :attr:`max_window_values`. ``None`` for a detector without a
        window parameter (:attr:`window_param`). The CLI and the NAB benchmark use it.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from anomark import RCFDetector
        >>> idx = pd.date_range("2014-07-01", periods=1000, freq="30min")
        >>> RCFDetector.default_window(pd.DataFrame({"v": np.ones(1000)}, index=idx))
        48
        """
        if cls.window_param is None:
            return None
        return default_window_size(
            Dataset.from_any(data), cap=cap, min_size=cls.min_window,
            max_values=cls.max_window_values,
        )

    # ------------------------------------------------------------------ hooks
    def _validate_params(self) -> None:
        """Check the constructor parameters against :attr:`_parameter_constraints`.

        Called first in ``fit`` (and by :meth:`load`); raises ConfigurationError naming the
        parameter. Subclasses override it only for checks that involve several parameters.
        """
        params = self.get_params(deep=False)
        validate_params(self._parameter_constraints, params, type(self).__name__)
        if "postprocess" in params:
            check_postprocess(params["postprocess"], type(self).__name__)

    @abstractmethod
    def _fit(self, ds: Dataset) -> None:
        """Learn from validated data."""

    @abstractmethod
    def _score(self, ds: Dataset) -> np.ndarray:
        """One score per row of ``ds``."""

    @abstractmethod
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Fitted state: JSON-compatible values and numeric arrays."""

    @abstractmethod
    def _set_state(
        self, state: dict[str, Any], arrays: dict[str, np.ndarray], folder: Path
    ) -> None:
        """Restore fitted state written by :meth:`_get_state`."""

    def _pinned_params(self) -> dict[str, Pinned]:
        """Constructor parameters that the fitted state fixes, and what it accepts for each.

        A forest of 50 trees pins ``num_trees`` to 50: a saved folder whose parameters were
        hand-edited to say otherwise is refused by :meth:`load`, and :meth:`save` refuses a
        detector whose parameters were changed with ``set_params`` after ``fit``. Parameters
        that only steer training (epochs, seeds, threads) leave no trace in the fitted state
        and are not listed. Called on a fitted detector.
        """
        return {}

    def _check_pinned_params(self, problem: str, advice: str) -> None:
        params = self.get_params(deep=False)
        pins = self._pinned_params()
        if "seasonal" in params:  # the model reads the columns the fitted stage makes
            stage = getattr(self, "seasonal_", None)
            pins["seasonal"] = Pinned(
                lambda v: (v is None) if stage is None else bool(stage == v),
                "no seasonal stage" if stage is None else f"the stage {stage.to_text()!r}",
            )
        for name, pin in pins.items():
            value = params[name]
            try:
                ok = bool(pin.accepts(value))
            except (TypeError, ValueError, AttributeError):
                ok = False
            if not ok:
                raise PersistenceError(
                    f"{problem}: parameter {name}={value!r} contradicts the fitted state "
                    f"({pin.held}); {advice}"
                )

    def _write_extra_files(self, folder: Path) -> list[str]:
        """Write extra files (a Keras model...) into ``folder``; return their names."""
        return []

    def _min_rows(self) -> int:
        """Fewest rows ``score`` accepts (e.g. the window size)."""
        return 1

    def _n_model_features(self) -> int:
        """Columns the model reads: ``n_features_in_`` plus the residual columns of the
        ``seasonal=`` stage (:mod:`anomark.seasonal`). Called on a fitted detector (and by
        ``_set_state``, after the stage is restored)."""
        return _seasonal.n_model_features(self)

    # ------------------------------------------------------------------ input
    def _make_threshold(self) -> Threshold:
        threshold = getattr(self, "threshold", None)
        if threshold is None:
            method, param = self.default_threshold
            return Threshold(method, param)  # type: ignore[arg-type]
        return threshold.unfitted()

    def _check_input(self, data: DataLike, *, reset: bool) -> Dataset:
        named = isinstance(data, Dataset | pd.DataFrame | pd.Series)
        ds = Dataset.from_any(data)
        ds.check_finite("scoring" if not reset else "fitting")
        cls = type(self).__name__
        if reset:
            if len(ds) < 2:
                raise DataError(f"{cls} needs at least 2 rows to fit, got 1 sample")
            self.n_features_in_ = ds.n_features
            self.feature_names_in_ = np.asarray(ds.columns, dtype=object)
            self._fitted_with_names_ = named
            return ds
        expected = [str(c) for c in self.feature_names_in_]
        fitted_with_names = getattr(self, "_fitted_with_names_", True)
        if named and fitted_with_names and ds.columns != expected:
            got = ds.columns
            missing = [c for c in expected if c not in got]
            extra = [c for c in got if c not in expected]
            if not missing and not extra:
                ds = ds.select(expected)  # same columns in another order: reorder by name
            else:
                count = (
                    f"X has {len(got)} features, but {cls} is expecting {len(expected)} "
                    "features as input. The"
                    if len(got) != len(expected)
                    else f"X has the {len(got)} feature(s) {cls} expects, but their"
                )
                raise DataError(
                    f"{count} feature names should match those that were passed during fit: "
                    f"missing columns {missing}, unexpected columns {extra}"
                )
        elif ds.n_features != self.n_features_in_:
            raise DataError(
                f"X has {ds.n_features} features, but {cls} is expecting "
                f"{self.n_features_in_} features as input"
            )
        elif named != fitted_with_names:
            if fitted_with_names:
                warnings.warn(
                    f"X does not have valid feature names, but {cls} was fitted with feature "
                    "names; columns are matched by position",
                    UserWarning,
                    stacklevel=3,
                )
            else:
                warnings.warn(
                    f"X has feature names, but {cls} was fitted without feature names",
                    UserWarning,
                    stacklevel=3,
                )
            ds = Dataset(
                pd.DataFrame(ds.values, index=ds.index, columns=expected), name=ds.name
            )
        if len(ds) < self._min_rows():
            window = self.window_param
            why = f"its window, {window}={getattr(self, window)!r}" if window else "its window"
            raise DataError(
                f"{cls} needs at least {self._min_rows()} rows to score ({why}), got {len(ds)}"
            )
        return ds

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "threshold_")

    # ------------------------------------------------------------------ public API
    def _fit_scores(self, data: DataLike) -> tuple[Dataset, np.ndarray]:
        self._validate_params()
        ds = self._check_input(data, reset=True)
        model = _seasonal.fit_seasonal(self, ds)  # seasonal= stage: the columns it appends
        self._fit(model)
        scores = np.asarray(self._score(model), dtype=np.float64)
        self._check_scores(scores, len(ds))
        scores = _post.fit_postprocess(self, scores, ds.values)  # postprocess= steps
        self.threshold_ = self._make_threshold().fit(scores)
        return model, scores

    def fit(self, data: DataLike, y: Any = None) -> Detector:
        """Fit the detector, score the training data and fit the threshold on those scores.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Training data (rows = time steps).
        y : ignored
            Present for scikit-learn compatibility.

        Returns
        -------
        self
        """
        self._fit_scores(data)
        return self

    def score(self, data: DataLike, y: Any = None) -> pd.Series:
        """Anomaly score per timestamp (higher = more anomalous).

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Data with the same columns as in ``fit`` (reordered columns are matched by name).
        y : ignored

        Returns
        -------
        pandas.Series
            Indexed like ``data``, named ``"score"``.
        """
        return self._score_data(data)[1]

    def _score_data(self, data: DataLike) -> tuple[Dataset, pd.Series]:
        self._check_fitted()
        ds = self._check_input(data, reset=False)
        model = _seasonal.transform_seasonal(self, ds)  # seasonal= stage
        scores = np.asarray(self._score(model), dtype=np.float64)
        self._check_scores(scores, len(ds))
        scores = _post.transform_postprocess(self, scores, ds.values)  # postprocess= steps
        return model, pd.Series(scores, index=ds.index, name="score")

    def _check_scores(self, scores: np.ndarray, n: int) -> None:
        if scores.shape != (n,):
            raise DataError(  # pragma: no cover - a bug in a subclass
                f"{type(self).__name__} produced {scores.shape} scores for {n} rows"
            )
        if not np.isfinite(scores).all():
            raise DataError(
                f"{type(self).__name__} produced NaN/inf scores; the input values are probably "
                "too large for the model (rescale the data)"
            )

    def detect(
        self,
        data: DataLike,
        *,
        refit_threshold: bool = False,
        threshold: Threshold | None = None,
    ) -> Detection:
        """Score ``data`` and flag the points above the threshold.

        Parameters
        ----------
        data : Dataset, DataFrame, Series or array
            Data to score.
        refit_threshold : bool, default False
            Fit the threshold rule on these scores instead of applying the one fitted on the
            training scores (what the reference notebooks do). The detector is not changed.
        threshold : Threshold, optional
            Use this rule instead: applied as is when fitted, otherwise fitted on these scores.

        Returns
        -------
        Detection
        """
        ds, scores = self._score_data(data)
        if threshold is not None:
            if not isinstance(threshold, Threshold):
                raise ConfigurationError(f"threshold must be a Threshold, got {threshold!r}")
            rule = threshold if threshold.is_fitted else threshold.unfitted().fit(scores)
        elif refit_threshold:
            rule = self.threshold_.unfitted().fit(scores)
        else:
            rule = self.threshold_
        return Detection(scores, rule.value_, data=ds, detector=type(self).__name__)

    def fit_detect(self, data: DataLike) -> Detection:
        """``fit(data)`` then detect on the same data, scoring it only once."""
        ds, scores = self._fit_scores(data)
        series = pd.Series(scores, index=ds.index, name="score")
        return Detection(series, self.threshold_.value_, data=ds, detector=type(self).__name__)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Save the fitted detector to a folder (JSON + ``.npz``; no pickle).

        Parameters
        ----------
        path : str or path
            Folder to create (an existing empty folder is used as it is).
        overwrite : bool, default False
            Replace an existing saved detector at ``path``. A folder that is not a saved
            detector is never replaced, unless it is empty.

        Returns
        -------
        pathlib.Path
            The folder written.

        Raises
        ------
        SaveExistsError
            ``path`` exists, is not an empty folder, and ``overwrite`` is false.
        NotFittedError
            The detector is not fitted.
        PersistenceError
            ``path`` holds something other than a saved detector (with ``overwrite=True``),
            or a parameter the fitted state fixes (``num_trees`` of a fitted forest...) was
            changed with ``set_params`` after ``fit``.
        """
        self._check_fitted()
        self._check_pinned_params(
            f"cannot save {type(self).__name__} to {path}",
            "it was changed with set_params after fit: refit, or set it back",
        )
        state, arrays = self._get_state()
        fitted = {
            "n_features_in_": int(self.n_features_in_),
            "feature_names_in_": [str(c) for c in self.feature_names_in_],
            "fitted_with_names": bool(getattr(self, "_fitted_with_names_", True)),
            "threshold_": self.threshold_.to_dict(),
        }
        post_state, post_arrays = _post.postprocess_state(self)
        if post_state is not None:
            fitted["postprocess_"] = post_state
            arrays = {**arrays, **post_arrays}
        stage_state, stage_arrays = _seasonal.seasonal_state(self)
        if stage_state is not None:
            fitted["seasonal_"] = stage_state
            arrays = {**arrays, **stage_arrays}
        return write_saved(
            path,
            class_name=type(self).__name__,
            params=self.get_params(deep=False),
            fitted=fitted,
            state=state,
            arrays=arrays,
            overwrite=overwrite,
            write_extra=self._write_extra_files,
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Detector:
        """Load a detector saved with :meth:`save`.

        Called on :class:`Detector` it returns whichever detector class was saved; called on a
        subclass it also checks the saved class is that one.

        Raises
        ------
        PersistenceError
            Missing/corrupted files, hand-edited values of the wrong type, unknown or missing
            keys and parameters, parameters that contradict the fitted state (``num_trees:
            500`` over a 50-tree forest; the error names the parameter), a detector saved by
            a newer anomark.
        """
        config, arrays = read_saved(path)
        name = config["class"]
        try:
            klass = get_detector_class(name)
        except ConfigurationError:
            raise PersistenceError(f"{path}: unknown detector class {name!r}") from None
        if not issubclass(klass, cls):
            raise PersistenceError(f"{path} holds a {name}, not a {cls.__name__}")
        params = config["params"]
        valid = set(klass._get_param_names())
        unknown = set(params) - valid
        if unknown:
            raise PersistenceError(
                f"{path}: unknown parameter(s) {sorted(unknown)} for {name}; valid: {sorted(valid)}"
            )
        missing = valid - set(params)
        if missing:  # save() writes every parameter: a missing one is a hand edit
            raise PersistenceError(
                f"{path}: missing parameter(s) {sorted(missing)} for {name}; a saved config "
                "lists every parameter"
            )
        try:
            det = klass(**params)
            det._validate_params()
        except (ConfigurationError, TypeError, ValueError) as exc:
            raise PersistenceError(f"{path}: invalid parameters for {name}: {exc}") from None
        fitted = config["fitted"]
        unknown = set(fitted) - _FITTED_KEYS
        if unknown:
            raise PersistenceError(
                f"{path}: unknown key(s) {sorted(unknown)} in the 'fitted' section; expected "
                f"{sorted(_FITTED_KEYS)}"
            )
        with_names = fitted.get("fitted_with_names", True)
        if not isinstance(with_names, bool):
            raise PersistenceError(
                f"{path}: fitted_with_names must be true or false, got {with_names!r}"
            )
        try:
            names = fitted["feature_names_in_"]
            n_features = fitted["n_features_in_"]
            if (
                not isinstance(names, list)
                or not all(isinstance(c, str) for c in names)
                or isinstance(n_features, bool)
                or not isinstance(n_features, int)
                or n_features != len(names)
                or n_features < 1
            ):
                raise TypeError("feature names / count do not agree")
            det.n_features_in_ = n_features
            det.feature_names_in_ = np.asarray(names, dtype=object)
            det._fitted_with_names_ = with_names
            threshold = Threshold.from_dict(fitted["threshold_"])
            if not threshold.is_fitted and threshold.method != "spot":  # spot may calibrate
                raise TypeError("threshold_ has no value")
            arrays, stage_arrays = split_prefixed(arrays, _seasonal.ARRAY_PREFIX)
            own_arrays, post_arrays = split_prefixed(arrays, _post.ARRAY_PREFIX)
            _seasonal.restore_seasonal(det, fitted.get("seasonal_"), stage_arrays, str(path))
            det._set_state(config["state"], own_arrays, Path(path))
            _post.restore_postprocess(det, fitted.get("postprocess_"), post_arrays, str(path))
            det._check_pinned_params(
                f"{path}", "the saved parameters were edited after saving; refusing to load them"
            )
        except PersistenceError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise PersistenceError(f"{path}: invalid fitted state for {name}: {exc!r}") from None
        det.threshold_ = threshold
        return det
