"""anomark: anomaly detection for time series and multi-sensor data with pluggable detectors.

Public names are imported lazily so that ``import anomark`` stays fast and never imports
TensorFlow or the SageMaker SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from anomark._version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset
    from anomark.detection import Detection
    from anomark.detectors.base import Detector
    from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector
    from anomark.detectors.isolation_forest import IsolationForestDetector
    from anomark.detectors.rcf import RCFDetector
    from anomark.sagemaker.config import SageMakerConfig
    from anomark.threshold import Threshold
    from anomark.windowing import Windowing

__all__ = [
    "ConvAutoencoderDetector",
    "Dataset",
    "Detection",
    "Detector",
    "IsolationForestDetector",
    "RCFDetector",
    "SageMakerConfig",
    "Threshold",
    "Windowing",
    "__version__",
]

_LAZY = {
    "Dataset": "anomark.dataset",
    "Detection": "anomark.detection",
    "Detector": "anomark.detectors.base",
    "ConvAutoencoderDetector": "anomark.detectors.conv_autoencoder",
    "IsolationForestDetector": "anomark.detectors.isolation_forest",
    "RCFDetector": "anomark.detectors.rcf",
    "SageMakerConfig": "anomark.sagemaker.config",
    "Threshold": "anomark.threshold",
    "Windowing": "anomark.windowing",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'anomark' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
