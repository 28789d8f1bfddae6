"""Every metric of :mod:`anomark.evaluation` for one scored series, in one call."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from anomark.errors import DataError
from anomark.evaluation._checks import check_flags, check_scores
from anomark.evaluation.events import best_event_f1, event_scores
from anomark.evaluation.nab import NAB_PROFILES, nab_score, nab_score_series
from anomark.evaluation.range import range_precision_recall
from anomark.evaluation.vus import range_pr_auc, range_roc_auc, vus
from anomark.labels import WindowsLike, parse_windows

__all__ = ["SCORE_METRICS", "FLAG_METRICS", "evaluate"]

#: Keys of :func:`evaluate`'s result computed from the scores.
SCORE_METRICS = (
    "vus_pr", "vus_roc", "range_pr_auc", "range_roc_auc", "best_event_f1", "best_threshold",
)
#: Keys computed from the flags (when given).
FLAG_METRICS = (
    "range_precision", "range_recall", "range_f1",
    "event_precision", "event_recall", "event_f1", "detected", "false_alarms",
    "nab_raw", *(f"nab_{p}" for p in NAB_PROFILES),
)


def _check_same_rows(scores: pd.Series, flags: pd.Series) -> None:
    if len(flags) != len(scores):
        raise DataError(
            f"flags has {len(flags)} row(s) but scores has {len(scores)}: give one flag per "
            "scored row (e.g. Detection.flags with Detection.scores)"
        )
    if not flags.index.equals(scores.index):
        where = int(np.flatnonzero(flags.index != scores.index)[0])
        raise DataError(
            f"flags and scores have different timestamps (first at row {where}: "
            f"{flags.index[where]} vs {scores.index[where]}); give one flag per scored row"
        )


def evaluate(
    scores: pd.Series,
    windows: WindowsLike,
    flags: pd.Series | None = None,
    *,
    max_buffer_size: int = 500,
    alpha: float = 0.0,
    cardinality: str = "reciprocal",
    bias: str = "flat",
) -> dict[str, float]:
    """All metrics of a scored (and optionally flagged) series against labelled windows.

    Parameters
    ----------
    scores : pandas.Series of float
        Anomaly scores with a ``DatetimeIndex`` (e.g. ``Detection.scores``).
    windows : list of (start, end)
        Labelled windows, both ends inclusive.
    flags : pandas.Series of bool, optional
        Flags on the same rows as ``scores`` (e.g. ``Detection.flags``); the flag-based
        metrics are computed only when given.
    max_buffer_size : int, default 500
        For :func:`vus_pr` / :func:`vus_roc`.
    alpha, cardinality, bias
        For :func:`range_precision_recall`.

    Returns
    -------
    dict of str to float
        From the scores: ``vus_pr``, ``vus_roc``, ``range_pr_auc``, ``range_roc_auc``
        (buffer = median range length), ``best_event_f1`` and ``best_threshold``
        (:func:`best_event_f1`). With flags also: ``range_precision``, ``range_recall``,
        ``range_f1`` (:func:`range_precision_recall`), ``event_precision``, ``event_recall``,
        ``event_f1``, ``detected``, ``false_alarms`` (:func:`event_scores`), ``nab_raw``
        (:func:`nab_score_series`, standard profile) and ``nab_standard``,
        ``nab_reward_low_FP_rate``, ``nab_reward_low_FN_rate`` (:func:`nab_score` of this
        series alone, 0 = never fires, 100 = perfect). The NAB entries are ``nan``, with a
        warning, when NAB's rules cannot place the windows (an end that is not a timestamp
        of the series, overlapping windows, or no window after the probationary period).

    Raises
    ------
    DataError
        As the metrics do (see :func:`vus_pr` and :func:`range_precision_recall`), and
        flags whose rows are not those of ``scores`` (another length or other timestamps).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from anomark.evaluation import evaluate
    >>> index = pd.date_range("2024-01-01", periods=200, freq="h")
    >>> scores = pd.Series(np.linspace(0, 1, 200) % 0.3, index=index)
    >>> scores.iloc[100:110] = 2.0
    >>> result = evaluate(scores, [(index[100], index[109])], flags=scores > 1)
    >>> result["range_f1"], result["event_f1"], round(result["vus_pr"], 3)
    (1.0, 1.0, 0.875)
    """
    check_scores(scores, "scores")
    if flags is not None:
        check_flags(flags, "flags")
        _check_same_rows(scores, flags)
    windows = parse_windows(windows)
    out: dict[str, float] = {}
    both = vus(scores, windows, max_buffer_size)
    out["vus_pr"], out["vus_roc"] = both["vus_pr"], both["vus_roc"]
    out["range_pr_auc"] = range_pr_auc(scores, windows)
    out["range_roc_auc"] = range_roc_auc(scores, windows)
    out["best_event_f1"], out["best_threshold"] = best_event_f1(scores, windows)
    if flags is None:
        return out
    p, r, f = range_precision_recall(flags, windows, alpha, cardinality, bias)
    out.update(range_precision=p, range_recall=r, range_f1=f)
    events = event_scores(flags, windows)
    out.update(
        event_precision=events["precision"], event_recall=events["recall"],
        event_f1=events["f1"], detected=events["detected"],
        false_alarms=events["false_alarms"],
    )
    try:
        out["nab_raw"] = nab_score_series(flags, windows)
        for name in NAB_PROFILES:
            out[f"nab_{name}"] = nab_score({"series": flags}, {"series": windows}, name)
    except DataError as exc:
        warnings.warn(f"NAB score not computed: {exc}", UserWarning, stacklevel=2)
        out["nab_raw"] = math.nan
        for name in NAB_PROFILES:
            out[f"nab_{name}"] = math.nan
    return out

