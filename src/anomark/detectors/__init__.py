"""Detectors: the abstract :class:`~anomark.detectors.base.Detector` and its implementations."""

from anomark.detectors.base import Detector, available_detectors, get_detector_class

__all__ = ["Detector", "available_detectors", "get_detector_class"]
