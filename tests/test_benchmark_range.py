"""The NAB benchmark reports VUS-PR, VUS-ROC and range F1 beside NAB's profiles."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.benchmark import RANGE_COLUMNS, _cache_file, _cache_key, run_nab_benchmark
from anomark.datasets import nab
from anomark.evaluation import range_precision_recall, vus

SERIES = [
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",  # no window: range metrics undefined
]


def test_benchmark_reports_range_metrics(nab_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    result = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=cache, progress=False)
    rows = result.per_series.set_index("series")
    with_windows, without = rows.loc[SERIES[0]], rows.loc[SERIES[1]]
    for col in (*RANGE_COLUMNS, "range_precision", "range_recall"):
        assert math.isnan(without[col])
    # the per-series numbers are the metrics of the cached z-scores
    assert _cache_key("iforest", 0, 0)  # same cache layout as the runner
    file = _cache_file(cache, "iforest", 0, 0, SERIES[0], "batch", "auto")  # default seasonal
    with np.load(file, allow_pickle=False) as npz:
        z = pd.Series(npz["scores"], index=nab.load(SERIES[0]).index)
    windows = nab.windows(SERIES[0])
    want = vus(z, windows)
    assert with_windows["vus_pr"] == pytest.approx(want["vus_pr"], abs=1e-12)
    assert with_windows["vus_roc"] == pytest.approx(want["vus_roc"], abs=1e-12)
    threshold = result.thresholds["iforest"]["standard"]
    assert with_windows["range_f1"] == pytest.approx(
        range_precision_recall(z >= threshold, windows)[2])
    summary = result.summary.loc["iforest"]
    for col in RANGE_COLUMNS:  # means over the series with windows
        assert summary[col] == pytest.approx(with_windows[col])
        assert 0.0 <= summary[col] <= 1.0
    assert "vus_pr" in result.to_text() and "range_f1" in result.to_text()
