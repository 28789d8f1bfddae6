"""The NAB benchmark's numbers on a small fixed case, exactly, and what a resumed run computes.

An oracle detector (monkeypatched ``score_nab_series``) scores 1 at the first row of every
labelled window and 0 elsewhere, optionally plus one false alarm before the first window (after
the probationary period). NAB's rules give the expected corpus scores by hand: a detection at a
window's first row earns ``A_TP`` (the scaled sigmoid there, divided by its maximum, is 1), a
false alarm with no window before it costs ``A_FP``, a missed window ``A_FN``; scores are
normalised so that detecting nothing is 0 and detecting every window at its start is 100.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import anomark.benchmark as bench
from anomark.benchmark import probation_rows, run_nab_benchmark

SERIES = [
    "artificialWithAnomaly/art_daily_jumpsup.csv",  # 1 window
    "realKnownCause/ambient_temperature_system_failure.csv",  # 2 windows
]
#: NAB's weight of a detection at the first row of its window: S(-1) / max S = 1.
EARLIEST = 1.0
PROFILES = {"standard": (1.0, 0.11, 1.0), "reward_low_FP_rate": (1.0, 0.22, 1.0),
            "reward_low_FN_rate": (1.0, 0.11, 2.0)}


def _oracle(false_alarm: bool, calls: list[str]) -> Any:
    from anomark.datasets import nab

    def score(detector: str, series: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Stands in for score_nab_series (whatever its other options: seed, refits...)."""
        calls.append(series)
        index = nab.load(series).index
        scores = np.zeros(len(index))
        for start, _ in nab.windows(series):
            scores[index.searchsorted(start)] = 1.0
        if false_alarm and series == SERIES[0]:
            first = index.searchsorted(nab.windows(series)[0][0])
            alarm = (probation_rows(len(index)) + first) // 2
            assert probation_rows(len(index)) < alarm < first - 288  # a day before the window
            scores[alarm] = 1.0
        return {"scores": scores, "raw": scores.copy(), "fit_seconds": 0.5,
                "score_seconds": 0.25, "params": {}, "rows_per_day": 288,
                "refit_points": [probation_rows(len(index))]}

    return score


def _expected(profile: str, false_alarms: int, windows: int = 3) -> float:
    tp, fp, fn = PROFILES[profile]
    perfect, null = windows * tp * EARLIEST, -windows * fn
    raw = perfect - false_alarms * fp
    return 100.0 * (raw - null) / (perfect - null)


@pytest.mark.parametrize("false_alarm", [False, True], ids=["perfect", "one_false_alarm"])
def test_benchmark_scores_by_hand(
    nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, false_alarm: bool
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(bench, "score_nab_series", _oracle(false_alarm, calls))
    result = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=tmp_path, progress=False)
    row = result.summary.loc["iforest"]
    for profile in PROFILES:
        expected = _expected(profile, int(false_alarm))
        assert row[profile] == pytest.approx(expected, abs=1e-9), profile
    if false_alarm:  # standard: 100 * (3 - 0.11 + 3) / (3 + 3); low FN: null = -6
        assert row["standard"] == pytest.approx(100 * 5.89 / 6, abs=1e-9)
        assert row["reward_low_FP_rate"] == pytest.approx(100 * 5.78 / 6, abs=1e-9)
        assert row["reward_low_FN_rate"] == pytest.approx(100 * 8.89 / 9, abs=1e-9)
    else:
        assert [row[p] for p in PROFILES] == [pytest.approx(100.0, abs=1e-9)] * 3
    per = result.per_series.set_index("series")
    assert per.loc[SERIES[0], "detected"] == 1 and per.loc[SERIES[1], "detected"] == 2
    assert per.loc[SERIES[0], "false_alarms"] == int(false_alarm)
    assert per.loc[SERIES[1], "false_alarms"] == 0
    assert row["recall"] == 1.0
    assert row["precision"] == (0.75 if false_alarm else 1.0)  # mean of 1/2 and 1
    assert row["f1"] == pytest.approx((2 / 3 + 1) / 2 if false_alarm else 1.0)
    assert row["seconds"] == pytest.approx(2 * 0.75)
    assert sorted(calls) == sorted(SERIES)


def test_resumed_run_computes_only_the_missing_series(
    nab_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(bench, "score_nab_series", _oracle(True, calls))
    first = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=tmp_path, progress=False)
    assert sorted(calls) == sorted(SERIES)
    files = sorted(tmp_path.rglob("*.npz"))
    assert len(files) == 2
    kept = {f: f.stat().st_mtime_ns for f in files[1:]}
    missing = files[0]
    missing.unlink()
    calls.clear()
    resumed = run_nab_benchmark(["iforest"], series=SERIES, cache_dir=tmp_path, progress=False)
    assert len(calls) == 1 and missing.stem == calls[0].replace("/", "__"), (calls, missing)
    assert missing.is_file() and {f: f.stat().st_mtime_ns for f in kept} == kept
    assert resumed.summary.equals(first.summary)
    calls.clear()  # everything cached: nothing is computed
    run_nab_benchmark(["iforest"], series=SERIES, cache_dir=tmp_path, progress=False)
    assert calls == []
