"""Running anomark detectors on Amazon SageMaker (boto3; the SageMaker SDK only for image URIs).

``import anomark.sagemaker`` imports neither the SageMaker SDK nor TensorFlow; the SDK is
imported when an image URI is first needed.
"""

from __future__ import annotations

from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.housekeeping import cleanup

__all__ = ["SageMakerConfig", "SageMakerConvAEEngine", "SageMakerRCFEngine", "cleanup"]


def __getattr__(name: str) -> object:
    if name == "SageMakerRCFEngine":
        from anomark.sagemaker.rcf import SageMakerRCFEngine

        return SageMakerRCFEngine
    if name == "SageMakerConvAEEngine":
        from anomark.sagemaker.conv_autoencoder import SageMakerConvAEEngine

        return SageMakerConvAEEngine
    raise AttributeError(f"module 'anomark.sagemaker' has no attribute {name!r}")
