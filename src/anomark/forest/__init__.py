"""Local Random Cut Forest engine: batch trees, AWS's anomaly score, compiled traversal.

See :class:`~anomark.forest.forest.RandomCutForest`.
"""

from anomark.forest.forest import RandomCutForest, ScoreType

__all__ = ["RandomCutForest", "ScoreType"]
