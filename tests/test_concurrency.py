"""Two threads scoring with the same fitted detector give the results of sequential scoring.

Parametrised over every registered detector. The threads start together (a barrier), score
different data several times over, and also run ``detect`` (with and without
``refit_threshold``), which must not change the shared detector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _registry import TENSORFLOW, detector_params
from anomark import Detector
from anomark.detectors import available_detectors

SMALL: dict[str, dict[str, Any]] = {
    "iforest": {"n_estimators": 20, "window_size": 4, "random_state": 0},
    "rcf": {"num_trees": 50, "num_samples_per_tree": 64, "shingle_size": 4, "random_state": 0},
    "conv-ae": {"window_size": 8, "epochs": 1, "batch_size": 32, "filters": (4,),
                "kernel_size": 2, "random_state": 0},
}
ROUNDS = 4



def _frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.c_[np.sin(t / 9.0), np.cos(t / 13.0)] + rng.normal(0, 0.1, (n, 2))
    values[rng.integers(50, n - 50)] += 3.0
    return pd.DataFrame(values, columns=["a", "b"],
                        index=pd.date_range("2024-01-01", periods=n, freq="min"))


def _make(name: str) -> Detector:
    if name in TENSORFLOW:
        pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    return available_detectors()[name](**SMALL.get(name, {}))


def _in_threads(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run the tasks in parallel threads released together; re-raise any error."""
    barrier = threading.Barrier(len(tasks))
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = [tasks[i]() for _ in range(ROUNDS)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(tasks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a scoring thread hangs"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("name", detector_params())
def test_two_threads_score_like_sequential(name: str) -> None:
    det = _make(name).fit(_frame(0))
    x, y = _frame(1), _frame(2, n=333)
    expected_x, expected_y = det.score(x), det.score(y)
    threshold = det.threshold_.value_

    got_x, got_y = _in_threads([lambda: det.score(x), lambda: det.score(y)])
    for series in got_x:
        pd.testing.assert_series_equal(series, expected_x, check_exact=True)
    for series in got_y:
        pd.testing.assert_series_equal(series, expected_y, check_exact=True)

    # detect in parallel, one thread refitting the threshold on its data: nothing shared changes
    det_x, det_y = _in_threads([lambda: det.detect(x), lambda: det.detect(y, refit_threshold=True)])
    refit = det.threshold_.unfitted().fit(expected_y.to_numpy()).value_
    for d in det_x:
        assert d.threshold == threshold
        np.testing.assert_array_equal(d.flags.to_numpy(), expected_x.to_numpy() > threshold)
    for d in det_y:
        assert d.threshold == refit
        np.testing.assert_array_equal(d.flags.to_numpy(), expected_y.to_numpy() > refit)
    assert det.threshold_.value_ == threshold


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("name", detector_params())
def test_threads_scoring_the_same_data(name: str) -> None:
    """The same data from two threads, also as an array: identical, bit for bit."""
    det = _make(name).fit(_frame(5))
    x = _frame(6)
    expected = det.score(x).to_numpy()
    out_frame, out_array = _in_threads([lambda: det.score(x), lambda: det.score(x.to_numpy())])
    for series in out_frame + out_array:
        np.testing.assert_array_equal(series.to_numpy(), expected)
