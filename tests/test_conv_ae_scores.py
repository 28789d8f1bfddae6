"""The autoencoder's scores, value by value, against their definition (not only "finite").

A window's score is the mean squared error between the scaled window and the model's
reconstruction of it (scaling learned on the training data: min-max, max-abs or standard,
per column), credited to the window's last row; rows before the first window get its score and
rows between two windows' last rows (``stride > 1``) carry the earlier one. Recomputed here with
NumPy and a direct call of the Keras model, for every scaling, a stride and bfloat16 layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.tensorflow

TINY: dict[str, Any] = {"window_size": 6, "epochs": 2, "batch_size": 16, "filters": (3, 2),
                        "kernel_size": 2, "random_state": 0}


def _data(n: int = 160) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    frame = pd.DataFrame({"a": 5.0 + 2.0 * np.sin(t / 6.0) + rng.normal(0, 0.1, n),
                          "b": -3.0 + np.cos(t / 9.0) + rng.normal(0, 0.1, n)},
                         index=pd.date_range("2024-01-01", periods=n, freq="10min"))
    frame.iloc[120, 0] += 6.0
    return frame


def _expected_scaling(train: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method == "minmax":
        return train.min(axis=0), train.max(axis=0) - train.min(axis=0)
    if method == "maxabs":
        return np.zeros(train.shape[1]), np.abs(train).max(axis=0)
    return train.mean(axis=0), train.std(axis=0)


def _expected_scores(det: Any, values: np.ndarray, stride: int) -> np.ndarray:
    w = int(det.window_size)
    offset, scale = det.scaler_.offset, det.scaler_.scale
    starts = np.arange(0, len(values) - w + 1, stride)
    windows = np.stack([values[s : s + w] for s in starts])
    scaled = ((windows - offset) / scale).astype(np.float32)
    rec = np.asarray(det.model_(scaled[..., None], training=False), dtype=np.float64)[..., 0]
    errors = ((rec - scaled.astype(np.float64)) ** 2).mean(axis=(1, 2))
    points = np.empty(len(values))
    ends = starts + w - 1
    for row in range(len(values)):
        k = max(int(np.searchsorted(ends, row, side="right")) - 1, 0)
        points[row] = errors[k]
    return points


@pytest.mark.parametrize(
    ("scaling", "stride", "precision", "rtol"),
    [("minmax", 1, "float32", 1e-5), ("standard", 3, "float32", 1e-5),
     pytest.param("maxabs", 1, "float32", 1e-5, marks=pytest.mark.slow),
     pytest.param("minmax", 1, "mixed_bfloat16", 1e-2, marks=pytest.mark.slow)],
)
def test_scores_follow_their_definition(
    scaling: str, stride: int, precision: str, rtol: float
) -> None:
    pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    from anomark import ConvAutoencoderDetector

    data = _data()
    train = data.iloc[:100]
    det = ConvAutoencoderDetector(**TINY, scaling=scaling, stride=stride,  # type: ignore[arg-type]
                                  precision=precision).fit(train)  # type: ignore[arg-type]
    offset, scale = _expected_scaling(train.to_numpy(), scaling)
    np.testing.assert_allclose(det.scaler_.offset, offset, rtol=1e-12)
    np.testing.assert_allclose(det.scaler_.scale, scale, rtol=1e-9)
    scores = det.score(data)
    expected = _expected_scores(det, data.to_numpy(), stride)
    np.testing.assert_allclose(scores.to_numpy(), expected, rtol=rtol, atol=1e-7)
    assert (scores.to_numpy() >= 0).all()
    # the training scores set the threshold: mean + 2 std of the training rows' scores
    train_scores = _expected_scores(det, train.to_numpy(), stride)
    assert det.threshold_.value_ == pytest.approx(
        train_scores.mean() + 2.0 * train_scores.std(), rel=max(rtol, 1e-6)
    )


def test_feature_scores_average_to_the_score() -> None:
    pytest.importorskip("tensorflow", reason="needs anomark[tensorflow]")
    from anomark import ConvAutoencoderDetector

    data = _data()
    det = ConvAutoencoderDetector(**TINY).fit(data.iloc[:100])
    per_column = det.feature_scores(data)
    np.testing.assert_allclose(per_column.mean(axis=1).to_numpy(), det.score(data).to_numpy(),
                               rtol=1e-6)
    assert per_column.loc[data.index[122], "a"] > per_column.loc[data.index[122], "b"]
