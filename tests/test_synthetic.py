"""Synthetic data generators: reproducibility, injected anomalies, daily CSV layout."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset
from anomark.datasets.synthetic import (
    ANOMALY_KINDS,
    MULTISENSOR_EVENT_KINDS,
    multisensor,
    periodic_series,
    write_daily_csvs,
)
from anomark.errors import ConfigurationError, DataError


def _mask(index: pd.Index, windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> np.ndarray:
    mask = np.zeros(len(index), dtype=bool)
    for start, end in windows:
        mask |= (index >= start) & (index <= end)
    return mask


# ---------------------------------------------------------------------- periodic_series
def test_periodic_series_shape_index_and_windows() -> None:
    ds, windows, kinds = periodic_series(n=3000, freq="1h", seed=3, return_kinds=True)
    assert isinstance(ds, Dataset)
    assert ds.shape == (3000, 1) and ds.columns == ["value"]
    assert (np.diff(ds.index.to_numpy()) == np.timedelta64(1, "h")).all()
    assert len(windows) == 6 and len(kinds) == 6
    assert set(kinds) == set(ANOMALY_KINDS)
    starts = [s for s, _ in windows]
    assert starts == sorted(starts)
    for (s, e), (s2, _) in itertools.pairwise(windows):
        assert s <= e < s2  # ordered and not overlapping
    for s, e in windows:
        assert s in ds.index and e in ds.index  # both ends inclusive, on the grid
    # anomalies leave the default 15 % warm-up clean
    assert windows[0][0] >= ds.index[int(0.15 * 3000)]


def test_periodic_series_is_reproducible_and_seed_dependent() -> None:
    a, wa = periodic_series(n=1500, seed=7)
    b, wb = periodic_series(n=1500, seed=7)
    c, wc = periodic_series(n=1500, seed=8)
    assert a == b and wa == wb
    assert not np.allclose(a.values, c.values)
    assert wa != wc


def test_periodic_series_anomalies_only_change_their_windows() -> None:
    clean, none = periodic_series(n=2000, seed=5, n_anomalies=0)
    dirty, windows, kinds = periodic_series(n=2000, seed=5, return_kinds=True)
    assert none == []
    inside = _mask(dirty.index, windows)
    base, values = clean.values[:, 0], dirty.values[:, 0]
    np.testing.assert_array_equal(values[~inside], base[~inside])
    for (start, end), kind in zip(windows, kinds, strict=True):
        seg = (dirty.index >= start) & (dirty.index <= end)
        if kind == "dropout":
            assert (values[seg] == 0.0).all()
        elif kind == "spike":
            assert (values[seg] - base[seg] > 3.0).all()
            assert values[seg].max() > base.max()
        else:
            shift = values[seg] - base[seg]
            assert np.allclose(shift, shift[0]) and abs(shift[0]) >= 4.0


def test_periodic_series_selected_kinds_and_scale() -> None:
    _, windows, kinds = periodic_series(n=2000, kinds=["spike"], n_anomalies=4, return_kinds=True)
    assert kinds == ["spike"] * 4 and len(windows) == 4
    base, _ = periodic_series(n=2000, n_anomalies=0, seed=1)
    small, w_small = periodic_series(n=2000, kinds="spike", anomaly_scale=0.2, seed=1)
    big, _ = periodic_series(n=2000, kinds="spike", anomaly_scale=2.0, seed=1)
    seg = _mask(small.index, w_small)
    gain_small = (small.values[seg, 0] - base.values[seg, 0]).mean()
    gain_big = (big.values[seg, 0] - base.values[seg, 0]).mean()
    assert gain_big == pytest.approx(10 * gain_small)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 1}, "n must be"),
        ({"n": 100, "n_anomalies": 30}, "cannot fit"),
        ({"kinds": ["spike", "wobble"]}, "kinds"),
        ({"kinds": []}, "kinds"),
        ({"noise": -1.0}, "noise"),
        ({"freq": "soon"}, "frequency"),
        ({"warmup": 1.0}, "warmup"),
        ({"seed": -1}, "seed"),
    ],
)
def test_periodic_series_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        periodic_series(**kwargs)


# ---------------------------------------------------------------------- multisensor
def test_multisensor_columns_windows_and_gaps() -> None:
    ds, windows, kinds = multisensor(days=1, n_echo_bins=60, seed=2, return_kinds=True)
    assert ds.shape == (1440, 2 * 20 + 60 + 32 + 4)
    sensors = {c.split(".", 1)[0] for c in ds.columns}
    assert sensors == {"adcp", "ek60", "hydrophone", "ctd"}
    assert sum(c.startswith("ek60.") for c in ds.columns) == 60
    assert kinds == list(MULTISENSOR_EVENT_KINDS)
    assert len(windows) == 4 and all(s <= e for s, e in windows)
    nan_cols = set(ds.nan_report().index)
    assert nan_cols and all(c.startswith("ctd.") for c in nan_cols)
    inside = _mask(ds.index, windows)
    assert not np.isnan(ds.values[inside]).any()  # gaps never hide an event
    direction = ds.frame.filter(like="adcp.direction").to_numpy()
    assert (direction >= 0).all() and (direction < 360).all()


def test_multisensor_events_are_visible_in_their_sensor() -> None:
    ds, windows, kinds = multisensor(days=1, n_echo_bins=40, seed=0, gaps=False, return_kinds=True)
    frame = ds.frame
    for (start, end), kind in zip(windows, kinds, strict=True):
        seg = (frame.index >= start) & (frame.index <= end)
        prefix = {
            "ship_passage": "hydrophone.",
            "fish_school": "ek60.",
            "current_surge": "adcp.speed",
            "sensor_fault": "ctd.temperature",
        }[kind]
        cols = [c for c in frame.columns if c.startswith(prefix)]
        inside = frame.loc[seg, cols].to_numpy()
        outside = frame.loc[~seg, cols].to_numpy()
        # the strongest column departs from its normal level by many standard deviations
        z = np.abs(inside.mean(axis=0) - outside.mean(axis=0)) / outside.std(axis=0)
        assert z.max() > 2.0, kind


def test_multisensor_reproducible_and_scales_to_many_echo_bins() -> None:
    a, wa = multisensor(days=0.5, n_echo_bins=30, seed=4)
    b, wb = multisensor(days=0.5, n_echo_bins=30, seed=4)
    assert a == b and wa == wb
    big, _ = multisensor(days=1, n_echo_bins=1600, n_events=2)
    assert big.shape == (1440, 40 + 1600 + 32 + 4)
    assert len(set(big.columns)) == big.shape[1]


def test_multisensor_rejects_bad_parameters() -> None:
    with pytest.raises(ConfigurationError, match="n_echo_bins"):
        multisensor(days=1, n_echo_bins=0)
    with pytest.raises(ConfigurationError, match="rows"):
        multisensor(days=0.001)
    with pytest.raises(ConfigurationError, match="cannot fit"):
        multisensor(days=0.05, n_events=10)


# ---------------------------------------------------------------------- daily CSVs
def test_write_daily_csvs_round_trip_through_from_sensors(tmp_path: Path) -> None:
    ds, _ = multisensor(days=2, n_echo_bins=25, seed=1, start="2024-06-01 00:00")
    patterns = write_daily_csvs(tmp_path / "raw", ds)
    assert set(patterns) == {"adcp", "ek60", "hydrophone", "ctd"}
    files = sorted(p.name for p in (tmp_path / "raw").iterdir())
    assert len(files) == 4 * 2
    assert "ek60_2024-06-02.csv" in files
    header = (tmp_path / "raw" / "ctd_2024-06-01.csv").read_text().splitlines()[0]
    assert header == "timestamp,temperature,salinity,pressure,oxygen"

    back = Dataset.from_sensors(patterns)
    assert back.columns == ds.columns
    assert back.index.equals(ds.index)
    np.testing.assert_allclose(back.values, ds.values, rtol=1e-5, atol=1e-3, equal_nan=True)
    np.testing.assert_array_equal(np.isnan(back.values), np.isnan(ds.values))


def test_write_daily_csvs_generates_data_and_refuses_to_overwrite(tmp_path: Path) -> None:
    patterns = write_daily_csvs(tmp_path, days=1, n_echo_bins=5, seed=0)
    assert len(list(tmp_path.glob("*.csv"))) == 4
    assert Dataset.from_csv(patterns["ctd"]).shape == (1440, 4)
    with pytest.raises(DataError, match="already exists"):
        write_daily_csvs(tmp_path, days=1, n_echo_bins=5, seed=0)
    write_daily_csvs(tmp_path, days=1, n_echo_bins=5, seed=1, overwrite=True)


def test_write_daily_csvs_needs_sensor_prefixed_columns(tmp_path: Path) -> None:
    ds, _ = periodic_series(n=200, n_anomalies=0)
    with pytest.raises(DataError, match="<sensor>"):
        write_daily_csvs(tmp_path, ds)
    with pytest.raises(ConfigurationError, match="not both"):
        write_daily_csvs(tmp_path, ds, days=1)
