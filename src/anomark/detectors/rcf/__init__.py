"""Random Cut Forest family: the detector, its local numba engine and its SageMaker engine.

* :mod:`~anomark.detectors.rcf.detector` — :class:`RCFDetector`.
* :mod:`~anomark.detectors.rcf.forest` — the local engine (:class:`RandomCutForest`).
* :mod:`~anomark.detectors.rcf.sagemaker` — SageMaker's built-in RCF algorithm (imported lazily).
"""

from anomark.detectors.rcf.detector import RCFDetector

__all__ = ["RCFDetector"]
