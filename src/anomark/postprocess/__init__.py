"""Causal post-processing of anomaly scores: running z-score, anomaly likelihood, range rule.

A detector's raw scores differ in scale from series to series and drift with the data. The
post-processors here turn them, row by row and without looking ahead, into scores that one
threshold can serve: :class:`RunningZScore` (standardise against earlier scores),
:class:`AnomalyLikelihood` (Numenta's likelihood, as NAB's numenta detector uses it) and
:class:`RangeRule` (NAB's "spatial anomaly" rule on the input values). They chain
(:class:`Chain`, or a list given to a detector's ``postprocess=``), keep their state between
calls (``update``) and save with the detector.

See the "Post-processing" page of the documentation.
"""

from __future__ import annotations

from anomark.postprocess._base import Chain, PostProcessor, check_postprocess
from anomark.postprocess._likelihood import AnomalyLikelihood
from anomark.postprocess._range import RangeRule
from anomark.postprocess._text import format_postprocess, parse_postprocess
from anomark.postprocess._zscore import RunningZScore

__all__ = [
    "AnomalyLikelihood",
    "Chain",
    "PostProcessor",
    "RangeRule",
    "RunningZScore",
    "check_postprocess",
    "format_postprocess",
    "parse_postprocess",
]
