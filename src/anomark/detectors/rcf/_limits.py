"""SageMaker's ranges for the built-in Random Cut Forest's hyperparameters, declared once.

The detector's constraint table and the SageMaker engine both import them (the engine must
not import the detector). Source: the built-in algorithm's hyperparameter documentation;
``CreateTrainingJob`` rejects other values, after minutes of queueing.
"""

from __future__ import annotations

__all__ = ["FEATURE_DIM_RANGE", "NUM_SAMPLES_RANGE", "NUM_TREES_RANGE"]

#: ``num_trees``: trees in the forest.
NUM_TREES_RANGE = (50, 1000)
#: ``num_samples_per_tree``: points sampled per tree.
NUM_SAMPLES_RANGE = (1, 2048)
#: ``feature_dim``: values per row (``shingle_size`` x columns).
FEATURE_DIM_RANGE = (1, 10_000)
