"""How a :class:`~anomark.ConvAutoencoderDetector` trains and scores through its SageMaker engine.

A mixin of the detector: training in the TensorFlow container, loading the fitted state from the
engine's model artefact (the detector builds itself from the extracted folder; the engine never
touches a detector), ``attach`` / ``from_endpoint``, and choosing where windows are scored
(locally, through a TF Serving endpoint, or with a batch transform job).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from anomark.detectors.base import Detector
from anomark.errors import ConfigurationError, PersistenceError, RemoteJobError

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset
    from anomark.detectors.conv_autoencoder.source import WindowSource

__all__ = ["SageMakerScoring"]

#: Window values scaled and sent to an endpoint per chunk (bounded memory).
ENDPOINT_CHUNK_VALUES = 2**22


class SageMakerScoring:
    """The SageMaker side of the autoencoder detector (mixed into the detector class)."""

    # provided by the detector
    sagemaker: Any
    window_size: int
    engine_: Any
    scaler_: Any
    model_: Any
    history_: dict[str, list[float]]
    threshold_: Any
    n_features_in_: int
    feature_names_in_: np.ndarray
    _fitted_with_names_: bool
    get_params: Callable[..., dict[str, Any]]
    set_params: Callable[..., Any]
    _check_fitted: Callable[[], None]

    def _fit_sagemaker(self, data: Dataset | str, *, adopt_threshold: bool) -> None:
        """Train in SageMaker's TensorFlow container and load the model it saved."""
        from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine

        if self.get_params().get("postprocess"):
            raise ConfigurationError(
                "postprocess= is not available with SageMaker training yet (the container "
                "fits the threshold on raw scores); train locally or post-process the scores"
            )

        engine = SageMakerConvAEEngine(self.sagemaker, self.get_params()).fit(data)
        trained = self._load_artifact(engine)
        self.model_ = trained.model_
        self.scaler_ = trained.scaler_
        self.history_ = trained.history_
        if isinstance(data, str):  # never seen here: the container's view of the data counts
            self.n_features_in_ = trained.n_features_in_
            self.feature_names_in_ = trained.feature_names_in_
            self._fitted_with_names_ = True
        if adopt_threshold:
            self.threshold_ = trained.threshold_
        self.engine_ = engine

    @classmethod
    def _load_artifact(cls, engine: Any) -> Any:
        """The detector saved in the engine's model artefact (downloaded, then loaded)."""
        with tempfile.TemporaryDirectory(prefix="anomark-artifact-") as tmp:
            folder = engine.download_artifact(tmp)
            try:
                trained = Detector.load(folder)
            except (PersistenceError, OSError) as exc:
                raise RemoteJobError(
                    f"model artefact {engine.model_data} holds no loadable detector: {exc}"
                ) from None
        if not isinstance(trained, cls):
            raise RemoteJobError(
                f"model artefact {engine.model_data} holds a {type(trained).__name__}, "
                "not a ConvAutoencoderDetector"
            )
        return trained

    @classmethod
    def _from_engine(cls, engine: Any, sagemaker: Any) -> Any:
        det = cls._load_artifact(engine)
        det.set_params(sagemaker=sagemaker)
        engine.adopt(det.get_params(), int(det.n_features_in_))
        det.engine_ = engine
        return det

    def _s3_client(self) -> Any:
        engine = getattr(self, "engine_", None)
        config = engine.config if engine is not None else self.sagemaker
        if config is None:
            raise ConfigurationError(
                "reading CSV files from S3 needs sagemaker=SageMakerConfig(...) for the "
                "session and region; or copy the files to a local folder first"
            )
        return config.client("s3")

    def _remote_mode(self, source: WindowSource) -> str:
        """``"local"``, ``"endpoint"`` or ``"batch"``: where the engine scores ``source``."""
        engine = getattr(self, "engine_", None)
        if engine is None:
            return "local"
        values = source.n_windows * int(self.window_size) * source.n_features
        return str(engine.resolve_scoring(values))

    def _endpoint_errors(
        self, source: WindowSource, fn: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """``fn`` (an engine's served signature) over every scaled window of ``source``."""
        starts = source.window_starts()
        step = max(1, ENDPOINT_CHUNK_VALUES // (int(self.window_size) * source.n_features))
        with self.engine_.endpoint():
            return np.concatenate(
                [
                    fn(self.scaler_.transform(source.read_windows(starts[a : a + step])))
                    for a in range(0, len(starts), step)
                ]
            )

    @classmethod
    def attach(cls, training_job_name: str, sagemaker: Any) -> Any:
        """The fitted detector of a finished SageMaker training job (waits if still running).

        Parameters
        ----------
        training_job_name : str
            A job started by anomark (``fit`` with ``sagemaker=``) or by the entry script.
        sagemaker : SageMakerConfig
            Where to find it (session, region, bucket).
        """
        from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine

        return cls._from_engine(SageMakerConvAEEngine.attach(training_job_name, sagemaker),
                                sagemaker)

    @classmethod
    def from_endpoint(cls, name: str, sagemaker: Any) -> Any:
        """A detector scoring with an existing TF Serving endpoint (never deleted by anomark).

        The model artefact (scaling, window geometry, threshold) is found through endpoint →
        endpoint config → model and loaded; scoring then goes to the endpoint.
        """
        from anomark.detectors.conv_autoencoder.sagemaker import SageMakerConvAEEngine

        return cls._from_engine(SageMakerConvAEEngine.from_endpoint(name, sagemaker), sagemaker)

    def endpoint(self) -> Any:
        """Context manager: one TF Serving endpoint for repeated scoring, deleted on exit.

        >>> with det.endpoint():            # doctest: +SKIP
        ...     a, b = det.score(day1), det.score(day2)
        """
        self._check_fitted()
        engine = getattr(self, "engine_", None)
        if engine is None:
            raise ConfigurationError("endpoint() needs a detector fitted with sagemaker=")
        return engine.endpoint()

