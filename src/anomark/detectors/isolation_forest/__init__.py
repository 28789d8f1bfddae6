"""Isolation Forest family: the scikit-learn baseline detector (always local)."""

from anomark.detectors.isolation_forest.detector import IsolationForestDetector

__all__ = ["IsolationForestDetector"]
