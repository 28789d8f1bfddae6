"""Evaluating flags against labelled anomaly windows: event metrics and the NAB score.

Two families of measures, both taking *windows*: a list of ``(start, end)`` timestamps, both ends
inclusive (strings are accepted and parsed), such as :func:`anomark.datasets.nab.windows` returns.

Event metrics (:func:`event_scores`, :func:`best_event_f1`)
    Every labelled window is one event. A window is **detected** when at least one flagged
    timestamp lies inside it (time comparison, so window ends need not be timestamps of the
    series). Flags outside every window are grouped into **false alarms**: each maximal run of
    consecutive flagged rows that lie outside all windows counts once. All flags inside a window
    count as one correct alarm, so

    * ``recall = detected / n_windows``
    * ``precision = detected / (detected + false_alarms)``: the share of alarms (one per
      detected window, one per run of flags outside the windows) that were right
    * ``f1 = 2 * precision * recall / (precision + recall) = 2 * detected / (n_windows +
      detected + false_alarms)``

    This is event-level precision: flagging a whole window point by point does not inflate it,
    and flagging everything scores about 0.5 precision (one false alarm per gap between
    windows), not 1.

NAB score (:func:`nab_score_series`, :func:`nab_score`, :func:`nab_optimize_threshold`)
    The Numenta Anomaly Benchmark's rules, as NAB's own scorer applies them (probationary
    period, scaled sigmoid reward for early detection, false positives weighted by their
    distance past the preceding window, three cost profiles). The corpus score is normalised
    so that a detector that never fires scores 0 and a perfect one 100. These functions
    reproduce NAB's published scoreboard (``results/final_results.json``) to 1e-9.

Range metrics (:func:`vus_pr`, :func:`vus_roc`, :func:`range_pr_auc`, :func:`range_roc_auc`,
:func:`range_precision_recall`)
    Computed on positions (one row = one point, rows in the order given; a row is anomalous
    when its timestamp lies in a window). The volume under the range-PR / range-ROC surface
    (Paparrizos et al., VLDB 2022) as TimeEval computes it, and range-based precision/recall
    (Tatbul et al., NeurIPS 2018) as the ``prts`` package computes it; :func:`evaluate` gives
    every metric of one series at once.

Examples
--------
>>> import pandas as pd
>>> from anomark.evaluation import event_scores
>>> index = pd.date_range("2024-01-01", periods=10, freq="h")
>>> flags = pd.Series([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], index=index).astype(bool)
>>> windows = [(index[2], index[4])]
>>> r = event_scores(flags, windows)
>>> r["detected"], r["false_alarms"], round(r["precision"], 2), r["recall"]
(1, 1, 0.5, 1.0)
"""

from anomark.evaluation.events import best_event_f1, event_scores
from anomark.evaluation.nab import (
    NAB_PROFILES,
    NABProfile,
    nab_optimize_threshold,
    nab_score,
    nab_score_series,
    probation_rows,
    resolve_profile,
)
from anomark.evaluation.range import range_precision_recall
from anomark.evaluation.summary import evaluate
from anomark.evaluation.vus import range_pr_auc, range_roc_auc, vus, vus_pr, vus_roc

__all__ = [
    "NAB_PROFILES",
    "NABProfile",
    "best_event_f1",
    "evaluate",
    "event_scores",
    "nab_optimize_threshold",
    "nab_score",
    "nab_score_series",
    "probation_rows",
    "range_pr_auc",
    "range_precision_recall",
    "range_roc_auc",
    "resolve_profile",
    "vus",
    "vus_pr",
    "vus_roc",
]
