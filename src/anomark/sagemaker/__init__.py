"""Algorithm-free SageMaker plumbing (boto3; the SageMaker SDK's core package only for image URIs).

Configuration, S3 staging, RecordIO, training jobs, endpoints, batch transform and housekeeping.
The algorithms' engines live with their detector families
(:mod:`anomark.detectors.rcf.sagemaker`, :mod:`anomark.detectors.conv_autoencoder.sagemaker`);
nothing here imports from :mod:`anomark.detectors`. ``import anomark.sagemaker`` imports neither
the SageMaker SDK nor TensorFlow; the SDK is imported when an image URI is first needed.
"""

from __future__ import annotations

from anomark.sagemaker.config import SageMakerConfig
from anomark.sagemaker.housekeeping import cleanup

__all__ = ["SageMakerConfig", "cleanup"]
