"""Slow training runs of ConvAutoencoderDetector with the tutorial's architecture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset
from anomark.detectors.conv_autoencoder import ConvAutoencoderDetector

pytestmark = [
    pytest.mark.slow,
    pytest.mark.tensorflow,
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


def _wide(n: int = 4000, cols: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.column_stack([np.sin(t / 6.0), np.cos(t / 11.0), np.sin(t / 17.0)])
    return base @ rng.normal(size=(3, cols)) + rng.normal(0, 0.05, (n, cols))


@pytest.mark.parametrize("scaling", ["minmax", "maxabs"])
def test_tutorial_architecture_learns_wide_data(scaling: str) -> None:
    """Default (tutorial) network: training MSE falls well below the scaled data's variance.

    With max-abs scaling the output layer is linear; a sigmoid could not produce the negative
    half of [-1, 1].
    """
    pytest.importorskip("tensorflow")
    x = _wide()
    det = ConvAutoencoderDetector(window_size=8, epochs=8, batch_size=32, random_state=0,
                                  scaling=scaling)  # fmt: skip
    det.fit(x)
    variance = float(det.scaler_.transform(x).var(axis=0).mean())
    assert det.history_["loss"][-1] < 0.25 * variance
    assert float(det.score(x).median()) < 0.25 * variance


def test_nyc_taxi_known_anomalies_score_higher(nab_dir: Path) -> None:
    """NAB nyc_taxi: the highest scores fall in the labelled anomaly windows."""
    pytest.importorskip("tensorflow")
    import json

    path = nab_dir / "data" / "realKnownCause" / "nyc_taxi.csv"
    labels = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    windows = labels["realKnownCause/nyc_taxi.csv"]
    ds = Dataset.from_csv(path)
    det = ConvAutoencoderDetector(window_size=48, epochs=5, random_state=0).fit(ds)
    scores = det.score(ds)
    inside = pd.Series(False, index=scores.index)
    for start, end in windows:
        inside[pd.Timestamp(start) : pd.Timestamp(end)] = True
    assert 0.05 < inside.mean() < 0.15  # the labelled windows cover ~10 % of the series
    top = scores > scores.quantile(0.99)
    assert inside[top].mean() > 0.5  # most of the top 1 % scores fall in labelled windows
    flags = det.detect(ds).flags
    assert inside[flags].mean() > 0.4  # mean_std(2) flags: mostly inside labelled windows
