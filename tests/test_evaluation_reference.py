"""The range metrics against their reference implementations: TimeEval and prts.

* VUS-PR / VUS-ROC and range PR/ROC AUC against ``timeeval.metrics`` (``RangePrVUS``,
  ``RangeRocVUS``, ``RangePrAUC``, ``RangeRocAUC``, non-compatibility mode);
* range precision / recall / F1 against ``prts`` (``ts_precision``, ``ts_recall``,
  ``ts_fscore``), every cardinality and bias.

Both are test-only dependencies (``nox -s tests`` installs them; see ``_metric_references.py``
for how and why without their dependencies). Without them these tests skip, saying why.

Inputs: synthetic labels with several score shapes, and NAB series with the scores NAB's own
result files hold (Numenta HTM, AWS random cut forest) and the NAB windows. TimeEval costs
about 4 s per VUS on 1000 points with the default 500 buffer sizes, so the default suite uses
small buffer ranges; the full defaults on whole NAB series run in the slow suite.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _metric_references import load_prts
from anomark.evaluation import (
    range_pr_auc,
    range_precision_recall,
    range_roc_auc,
    vus,
)
from anomark.evaluation._points import runs

TOL = 1e-6


@pytest.fixture(scope="module")
def prts() -> ModuleType:
    try:
        return load_prts()
    except ImportError as exc:
        pytest.skip(str(exc))


def _windows_of(labels: np.ndarray, index: pd.DatetimeIndex) -> list[tuple[Any, Any]]:
    starts, ends = runs(labels.astype(bool))
    return [(index[a], index[b - 1]) for a, b in zip(starts, ends, strict=True)]


def _synthetic(seed: int, shape: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(60, 400))
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(int(rng.integers(1, 6))):
        start = int(rng.integers(0, n))
        labels[start : start + int(rng.integers(1, 40))] = 1
    labels[int(rng.integers(0, n))] = 0  # at least one normal point
    if shape == "noise":
        scores = rng.random(n)
    elif shape == "step":
        scores = rng.random(n) + 1.5 * labels
    elif shape == "late":  # responds after the anomaly: partial credit from the slopes
        scores = rng.random(n) + 1.5 * np.roll(labels, 15)
    elif shape == "smooth":
        scores = np.convolve(rng.random(n) + labels, np.ones(9) / 9, mode="same")
    elif shape == "ties":  # few distinct values: thresholds repeat
        scores = np.round(rng.random(n) * 4) / 4 + 0.5 * labels
    elif shape == "spikes":
        scores = np.where(rng.random(n) < 0.03, 5.0, 0.0) + labels * (rng.random(n) < 0.2)
    else:
        raise AssertionError(shape)
    return labels, scores.astype(np.float64)


SHAPES = ("noise", "step", "late", "smooth", "ties", "spikes")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_vus_and_range_auc_match_timeeval_synthetic(te: ModuleType, seed: int, shape: str) -> None:
    labels, scores = _synthetic(seed, shape)
    if np.ptp(scores) == 0:
        pytest.skip("constant scores (covered by the bad-input tests)")
    index = pd.date_range("2024-01-01", periods=len(labels), freq="5min")
    series, windows = pd.Series(scores, index=index), _windows_of(labels, index)
    rng = np.random.default_rng(100 + seed)
    max_buffer = int(rng.integers(0, 24))
    samples = int(rng.choice([250, 37]))
    ours = vus(series, windows, max_buffer, max_samples=samples)
    ref_pr = te.RangePrVUS(max_buffer_size=max_buffer, max_samples=samples)(labels, scores)
    ref_roc = te.RangeRocVUS(max_buffer_size=max_buffer, max_samples=samples)(labels, scores)
    assert ours["vus_pr"] == pytest.approx(ref_pr, abs=TOL)
    assert ours["vus_roc"] == pytest.approx(ref_roc, abs=TOL)
    for size in (None, 0, 1, 7, 64):
        ref = te.RangePrAUC(buffer_size=size, max_samples=samples)(labels, scores)
        assert range_pr_auc(series, windows, size, max_samples=samples) == pytest.approx(
            ref, abs=TOL
        )
        ref = te.RangeRocAUC(buffer_size=size, max_samples=samples)(labels, scores)
        assert range_roc_auc(series, windows, size, max_samples=samples) == pytest.approx(
            ref, abs=TOL
        )


def test_vus_matches_timeeval_with_the_default_max_buffer(te: ModuleType) -> None:
    # slopes longer than the series: truncated at both ends, overlapping (few thresholds
    # keep TimeEval's time down; the whole defaults run on NAB in the slow suite)
    rng = np.random.default_rng(7)
    labels = np.zeros(150, dtype=np.int64)
    labels[[0, 1, 2, 70, 71, 148]] = 1
    scores = rng.random(150) + 0.3 * labels
    index = pd.date_range("2024-01-01", periods=150, freq="5min")
    ours = vus(pd.Series(scores, index=index), _windows_of(labels, index), max_samples=40)
    ref_pr = te.RangePrVUS(max_samples=40)(labels, scores)
    ref_roc = te.RangeRocVUS(max_samples=40)(labels, scores)
    assert ours["vus_pr"] == pytest.approx(ref_pr, abs=TOL)
    assert ours["vus_roc"] == pytest.approx(ref_roc, abs=TOL)


@pytest.mark.parametrize("size", [28, 30, 31, 32])
def test_existence_reaches_one_point_past_the_slope(te: ModuleType, size: int) -> None:
    # TimeEval's existence window of a range is [start - L, end + L] with an exclusive end, so
    # the point just past the slope counts when it carries weight: here the first point of
    # the next range, the only high score, credits the first range too at L = 15.
    labels = np.zeros(120, dtype=np.int64)
    labels[50:55] = labels[70:75] = 1
    scores = np.linspace(0.0, 0.1, 120)
    scores[70] = 1.0
    index = pd.date_range("2024-01-01", periods=120, freq="5min")
    series, windows = pd.Series(scores, index=index), _windows_of(labels, index)
    ref = te.RangePrAUC(buffer_size=size)(labels, scores)
    assert range_pr_auc(series, windows, size) == pytest.approx(ref, abs=TOL)
    ref = te.RangeRocAUC(buffer_size=size)(labels, scores)
    assert range_roc_auc(series, windows, size) == pytest.approx(ref, abs=TOL)


def _nab_result(nab_dir: Path, detector: str, series: str) -> tuple[pd.Series, list[Any]]:
    from anomark.datasets import nab

    category, file = series.split("/")
    table = pd.read_csv(nab_dir / "results" / detector / category / f"{detector}_{file}",
                        parse_dates=["timestamp"])
    scores = pd.Series(table["anomaly_score"].to_numpy(dtype=np.float64),
                       index=pd.DatetimeIndex(table["timestamp"]))
    return scores, nab.windows(series)


NAB_SHORT = ["realTraffic/speed_7578.csv", "realAdExchange/exchange-3_cpc_results.csv"]
NAB_LONG = [
    "realKnownCause/nyc_taxi.csv",
    "realKnownCause/machine_temperature_system_failure.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
]


def _check_nab(te: ModuleType, scores: pd.Series, windows: list[Any], max_buffer: int) -> None:
    from anomark.labels import point_labels

    labels = point_labels(scores.index, windows).astype(np.int64)
    values = scores.to_numpy()
    ours = vus(scores, windows, max_buffer)
    assert ours["vus_pr"] == pytest.approx(
        te.RangePrVUS(max_buffer_size=max_buffer)(labels, values), abs=TOL)
    assert ours["vus_roc"] == pytest.approx(
        te.RangeRocVUS(max_buffer_size=max_buffer)(labels, values), abs=TOL)
    assert range_pr_auc(scores, windows) == pytest.approx(te.RangePrAUC()(labels, values),
                                                          abs=TOL)
    assert range_roc_auc(scores, windows) == pytest.approx(te.RangeRocAUC()(labels, values),
                                                           abs=TOL)


@pytest.mark.parametrize("detector", ["numenta", "randomCutForest"])
@pytest.mark.parametrize("series", NAB_SHORT)
def test_vus_matches_timeeval_on_nab(
    te: ModuleType, nab_dir: Path, detector: str, series: str
) -> None:
    scores, windows = _nab_result(nab_dir, detector, series)
    _check_nab(te, scores, windows, max_buffer=6)


@pytest.mark.slow
@pytest.mark.parametrize("detector", ["numenta", "randomCutForest"])
@pytest.mark.parametrize("series", NAB_SHORT + NAB_LONG)
def test_vus_matches_timeeval_on_nab_default_buffers(
    te: ModuleType, nab_dir: Path, detector: str, series: str
) -> None:
    scores, windows = _nab_result(nab_dir, detector, series)
    _check_nab(te, scores, windows, max_buffer=500)


CARDINALITIES = ["one", "reciprocal", "udf_gamma"]
BIASES = ["flat", "front", "middle", "back"]


def _prts_triple(prts: ModuleType, labels: np.ndarray, flags: np.ndarray, alpha: float,
                 cardinality: str, bias: str) -> tuple[float, float, float]:
    return (
        prts.ts_precision(labels, flags, alpha=0.0, cardinality=cardinality, bias=bias),
        prts.ts_recall(labels, flags, alpha=alpha, cardinality=cardinality, bias=bias),
        prts.ts_fscore(labels, flags, beta=1.0, p_alpha=0.0, r_alpha=alpha,
                       cardinality=cardinality, p_bias=bias, r_bias=bias),
    )


@pytest.mark.parametrize("cardinality", CARDINALITIES)
@pytest.mark.parametrize("bias", BIASES)
def test_range_precision_recall_matches_prts_synthetic(
    prts: ModuleType, cardinality: str, bias: str
) -> None:
    rng = np.random.default_rng(len(cardinality) * 10 + len(bias))
    checked = 0
    for _ in range(40):
        labels, _ = _synthetic(int(rng.integers(0, 10**6)), "noise")
        n = len(labels)
        flags = (rng.random(n) < rng.choice([0.02, 0.2, 0.6])).astype(np.int64)
        if rng.random() < 0.4:  # longer flagged runs
            flags = (np.convolve(flags, np.ones(6), mode="same") > 0).astype(np.int64)
        if flags.sum() == 0:
            continue
        index = pd.date_range("2024-01-01", periods=n, freq="min")
        alpha = float(rng.choice([0.0, 0.25, 1.0]))
        ours = range_precision_recall(pd.Series(flags.astype(bool), index=index),
                                      _windows_of(labels, index), alpha, cardinality, bias)
        ref = _prts_triple(prts, labels, flags, alpha, cardinality, bias)
        assert ours == pytest.approx(ref, abs=TOL)
        checked += 1
    assert checked >= 30


def test_custom_cardinality_matches_prts_udf_gamma(prts: ModuleType) -> None:
    from prts.time_series_metrics.precision import TimeSeriesPrecision
    from prts.time_series_metrics.recall import TimeSeriesRecall

    class Precision(TimeSeriesPrecision):  # type: ignore[misc]
        def _udf_gamma(self) -> float:
            return 4.0

    class Recall(TimeSeriesRecall):  # type: ignore[misc]
        def _udf_gamma(self) -> float:
            return 4.0

    rng = np.random.default_rng(11)
    labels = np.zeros(400, dtype=np.int64)
    labels[50:120] = labels[200:260] = 1
    flags = (rng.random(400) < 0.25).astype(np.int64)
    index = pd.date_range("2024-01-01", periods=400, freq="min")
    p, r, _ = range_precision_recall(pd.Series(flags.astype(bool), index=index),
                                     _windows_of(labels, index), 0.0, lambda k: 0.25, "front")
    assert p == pytest.approx(Precision(0.0, "udf_gamma", "front").score(labels, flags), abs=TOL)
    assert r == pytest.approx(Recall(0.0, "udf_gamma", "front").score(labels, flags), abs=TOL)


@pytest.mark.parametrize("detector", ["numenta", "randomCutForest"])
@pytest.mark.parametrize("series", NAB_SHORT + NAB_LONG[:2])
def test_range_precision_recall_matches_prts_on_nab(
    prts: ModuleType, nab_dir: Path, detector: str, series: str
) -> None:
    from anomark.labels import point_labels

    scores, windows = _nab_result(nab_dir, detector, series)
    labels = point_labels(scores.index, windows).astype(np.int64)
    for q in (0.9, 0.99):
        flags = scores >= scores.quantile(q)
        for cardinality, bias in (("reciprocal", "flat"), ("one", "front"), ("reciprocal", "back")):
            ours = range_precision_recall(flags, windows, 0.5, cardinality, bias)
            ref = _prts_triple(prts, labels, flags.to_numpy().astype(np.int64), 0.5,
                               cardinality, bias)
            assert ours == pytest.approx(ref, abs=TOL)
