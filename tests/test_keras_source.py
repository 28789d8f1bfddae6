"""Streaming window sources, the CSV cache, column statistics and the Keras batch source."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark.detectors.conv_autoencoder.source import (
    ArrayWindowSource,
    ColumnStats,
    CSVWindowSource,
    Scaler,
    compute_column_stats,
)
from anomark.errors import ConfigurationError, DataError
from anomark.windowing import Windowing

COLS = ["a", "b", "c"]


def _write_days(folder: Path, n_days: int = 3, rows: int = 20, seed: int = 0) -> np.ndarray:
    """Daily CSV files (written in reverse name order) and their concatenated values."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n_days * rows, len(COLS))).round(6)
    times = pd.date_range("2024-01-01", periods=n_days * rows, freq="1min")
    folder.mkdir(parents=True, exist_ok=True)
    for d in reversed(range(n_days)):
        sl = slice(d * rows, (d + 1) * rows)
        frame = pd.DataFrame(values[sl], columns=COLS)
        frame.insert(0, "timestamp", times[sl].strftime("%Y-%m-%d %H:%M:%S"))
        # file names sort against time order: the source must order by timestamps
        frame.to_csv(folder / f"day-{n_days - d:02d}.csv", index=False)
    return values


@pytest.fixture
def days(tmp_path: Path) -> tuple[Path, np.ndarray, Path]:
    data = tmp_path / "data"
    values = _write_days(data)
    return data, values, tmp_path / "cache"


# ---------------------------------------------------------------------- statistics / scaler
def test_column_stats_streaming_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=(1000, 4))
    stats = ColumnStats(4)
    for chunk in np.array_split(x, 7):
        stats.update(chunk)
    assert stats.count == 1000
    np.testing.assert_allclose(stats.mean, x.mean(axis=0))
    np.testing.assert_allclose(stats.std, x.std(axis=0))
    np.testing.assert_array_equal(stats.minimum, x.min(axis=0))
    np.testing.assert_array_equal(stats.maxabs, np.abs(x).max(axis=0))


def test_column_stats_stream_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    import anomark.detectors.conv_autoencoder.source as source_module

    monkeypatch.setattr(source_module, "_CHUNK_BYTES", 3 * 4 * 8)  # 3 rows of 4 float64
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=(100, 4))
    src = ArrayWindowSource(x, 8)
    seen = []
    monkeypatch.setattr(src, "read_rows", lambda a, b: seen.append(b - a) or x[a:b])
    stats = compute_column_stats(src)
    assert max(seen) == 3 and sum(seen) == 100
    np.testing.assert_allclose(stats.mean, x.mean(axis=0))
    np.testing.assert_allclose(stats.std, x.std(axis=0))
    np.testing.assert_array_equal(stats.maximum, x.max(axis=0))
    assert compute_column_stats(src, stop_row=10).count == 10


@pytest.mark.parametrize(
    ("method", "low", "high", "activation"),
    [
        ("minmax", 0.0, 1.0, "sigmoid"),
        ("maxabs", -1.0, 1.0, "linear"),
        ("standard", None, None, "linear"),
    ],
)
def test_scaler_methods(
    method: str, low: float | None, high: float | None, activation: str
) -> None:
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.normal(-3, 2, 500), rng.uniform(10, 20, 500), np.full(500, 7.0)])
    stats = ColumnStats(3)
    stats.update(x)
    scaler = Scaler.from_stats(stats, method)  # type: ignore[arg-type]
    z = scaler.transform(x)
    assert z.dtype == np.float32
    assert scaler.output_activation == activation
    if low is not None:
        assert z.min() >= low - 1e-6 and z.max() <= high + 1e-6
        np.testing.assert_allclose(
            np.abs(z[:, :2]).max(axis=0) if method == "maxabs" else z[:, :2].max(axis=0),
            1.0,
            rtol=1e-6,
        )
    else:
        np.testing.assert_allclose(z[:, :2].mean(axis=0), 0.0, atol=1e-5)
        np.testing.assert_allclose(z[:, :2].std(axis=0), 1.0, rtol=1e-5)
    assert np.isfinite(z[:, 2]).all()  # constant column: scale 1, no division by zero
    np.testing.assert_allclose(scaler.inverse(z), x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["minmax", "standard"])
def test_scaler_refuses_values_whose_range_overflows(method: str) -> None:
    stats = ColumnStats(2)
    stats.update(np.array([[1.0, 1.7e308], [2.0, -1.7e308]]))
    with pytest.raises(DataError, match=r"position \[1\] are too large.*rescale"):
        Scaler.from_stats(stats, method)  # type: ignore[arg-type]


def test_scaler_rejects_unknown_method() -> None:
    stats = ColumnStats(1)
    stats.update(np.ones((3, 1)))
    with pytest.raises(ConfigurationError, match="scaling"):
        Scaler.from_stats(stats, "robust")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- array source
def test_array_source_windows_match_windowing() -> None:
    x = np.arange(60.0).reshape(20, 3)
    src = ArrayWindowSource(x, 5, stride=2)
    starts = src.window_starts()
    np.testing.assert_array_equal(starts, np.arange(0, 16, 2))
    np.testing.assert_array_equal(src.read_windows(starts), Windowing(5, 2).windows(x))
    np.testing.assert_array_equal(src.window_starts(4, 12), [4, 6])
    assert len(src.window_starts(0, 4)) == 0


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_sources_reject_bad_window(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="window_size"):
        ArrayWindowSource(np.zeros((10, 1)), bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- CSV cache
def test_csv_source_orders_files_and_spans_boundaries(days: tuple[Path, np.ndarray, Path]) -> None:
    data, values, cache = days
    src = CSVWindowSource(data, window_size=8, cache_dir=cache)
    assert src.n_rows == 60 and src.columns == COLS
    assert [Path(f).name for f in src.files] == ["day-03.csv", "day-02.csv", "day-01.csv"]
    np.testing.assert_array_equal(src.row_offsets, [0, 20, 40, 60])
    starts = src.window_starts()
    assert len(starts) == 53
    got = src.read_windows(starts)
    np.testing.assert_allclose(got, Windowing(8).windows(values), rtol=1e-6)
    # windows crossing the first and second file boundary
    for s in (13, 19, 37, 52):
        np.testing.assert_allclose(src.read_windows(np.array([s]))[0], values[s : s + 8], rtol=1e-6)
    np.testing.assert_allclose(src.read_rows(18, 43), values[18:43], rtol=1e-6)
    ts = src.timestamps()
    assert len(ts) == 60 and ts.is_monotonic_increasing
    assert ts[0] == pd.Timestamp("2024-01-01 00:00")
    with pytest.raises(DataError, match="outside"):
        src.read_windows(np.array([53]))


def test_csv_cache_is_reused_and_invalidated(days: tuple[Path, np.ndarray, Path]) -> None:
    data, values, cache = days
    first = CSVWindowSource(data, 8, cache_dir=cache).prepare()
    assert first.n_converted_ == 3
    npy = sorted(cache.glob("*.npy"))
    assert len(npy) == 6  # values + timestamps per file
    assert not list(cache.glob(".*"))  # no temporary files left behind
    again = CSVWindowSource(data, 8, cache_dir=cache).prepare()
    assert again.n_converted_ == 0
    np.testing.assert_array_equal(again.read_rows(0, 60), first.read_rows(0, 60))

    # rewrite the middle day with new values: only that file is converted again
    target = data / "day-02.csv"
    frame = pd.read_csv(target)
    frame[COLS] = frame[COLS] + 100.0
    frame.to_csv(target, index=False)
    os.utime(target, ns=(os.stat(target).st_atime_ns, os.stat(target).st_mtime_ns + 10**9))
    changed = CSVWindowSource(data, 8, cache_dir=cache).prepare()
    assert changed.n_converted_ == 1
    np.testing.assert_allclose(changed.read_rows(20, 40), values[20:40] + 100.0, rtol=1e-6)
    np.testing.assert_allclose(changed.read_rows(0, 20), values[0:20], rtol=1e-6)
    assert len(sorted(cache.glob("*.npy"))) == 6  # the stale entry was removed


def test_csv_cache_rebuilds_a_damaged_entry(days: tuple[Path, np.ndarray, Path]) -> None:
    data, values, cache = days
    CSVWindowSource(data, 8, cache_dir=cache).prepare()
    victim = next(p for p in cache.glob("*.npy") if not p.name.endswith(".ts.npy"))
    victim.write_bytes(b"garbage")
    src = CSVWindowSource(data, 8, cache_dir=cache).prepare()
    assert src.n_converted_ == 1
    np.testing.assert_allclose(src.read_rows(0, 60), values, rtol=1e-6)


def test_csv_source_column_selection_and_float64(days: tuple[Path, np.ndarray, Path]) -> None:
    data, values, cache = days
    src = CSVWindowSource(data, 4, columns=["c", "a"], cache_dir=cache, dtype="float64")
    assert src.columns == ["c", "a"]
    np.testing.assert_array_equal(src.read_rows(0, 60), values[:, [2, 0]])
    # another column selection is a separate entry: both stay valid, nothing is re-parsed
    assert CSVWindowSource(data, 4, cache_dir=cache).prepare().n_converted_ == 3
    assert CSVWindowSource(
        data, 4, columns=["c", "a"], cache_dir=cache, dtype="float64"
    ).prepare().n_converted_ == 0
    with pytest.raises(DataError, match=r"\['zz'\] not found"):
        CSVWindowSource(data, 4, columns=["zz"], cache_dir=cache).prepare()


def test_csv_source_is_picklable_without_open_files(days: tuple[Path, np.ndarray, Path]) -> None:
    data, _, cache = days
    src = CSVWindowSource(data, 8, cache_dir=cache)
    src.read_windows(np.array([0, 30]))
    clone = pickle.loads(pickle.dumps(src))
    np.testing.assert_array_equal(
        clone.read_windows(np.array([15])), src.read_windows(np.array([15]))
    )
    src.close()


def _csv(path: Path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def _frame(start: str, n: int, cols: list[str] = COLS) -> pd.DataFrame:
    f = pd.DataFrame(np.ones((n, len(cols))), columns=cols)
    f.insert(0, "timestamp", pd.date_range(start, periods=n, freq="1min").astype(str))
    return f


def test_csv_source_errors(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _csv(tmp_path / "ov/a.csv", _frame("2024-01-01 00:00", 10))
    _csv(tmp_path / "ov/b.csv", _frame("2024-01-01 00:05", 10))
    with pytest.raises(DataError, match="overlap in time"):
        CSVWindowSource(tmp_path / "ov", 4, cache_dir=cache).prepare()

    _csv(tmp_path / "cols/a.csv", _frame("2024-01-01", 10))
    _csv(tmp_path / "cols/b.csv", _frame("2024-01-02", 10, ["a", "b", "x"]))
    with pytest.raises(DataError, match="different columns"):
        CSVWindowSource(tmp_path / "cols", 4, cache_dir=cache).prepare()

    bad = _frame("2024-01-01", 10)
    bad.loc[3, "b"] = np.nan
    _csv(tmp_path / "nan/a.csv", bad)
    with pytest.raises(DataError, match="NaN"):
        CSVWindowSource(tmp_path / "nan", 4, cache_dir=cache).prepare()

    text = _frame("2024-01-01", 10)
    text["b"] = "x"
    _csv(tmp_path / "text/a.csv", text)
    with pytest.raises(DataError, match="not numeric"):
        CSVWindowSource(tmp_path / "text", 4, cache_dir=cache).prepare()

    _csv(tmp_path / "short/a.csv", _frame("2024-01-01", 3))
    with pytest.raises(DataError, match="fewer than one window"):
        CSVWindowSource(tmp_path / "short", 4, cache_dir=cache).prepare()

    with pytest.raises(FileNotFoundError):
        CSVWindowSource(tmp_path / "missing.csv", 4, cache_dir=cache)
    with pytest.raises(ConfigurationError, match="dtype"):
        CSVWindowSource(tmp_path / "short", 4, cache_dir=cache, dtype="int8")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- Keras batches
def test_window_batches_cover_every_window_once_per_epoch(
    days: tuple[Path, np.ndarray, Path],
) -> None:
    pytest.importorskip("tensorflow")
    from anomark.detectors.conv_autoencoder.training import WindowBatches

    data, values, cache = days
    src = CSVWindowSource(data, 8, cache_dir=cache)
    starts = src.window_starts()
    batches = WindowBatches(src, starts, batch_size=10, shuffle=True, seed=3)
    assert len(batches) == 6  # 53 windows: the last, partial batch is kept
    orders = []
    for _ in range(2):
        seen = np.concatenate([batches.batch_starts(i) for i in range(len(batches))])
        assert sorted(seen.tolist()) == starts.tolist()
        orders.append(seen)
        batches.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1])  # reshuffled per epoch
    assert not np.array_equal(orders[0], starts)
    again = WindowBatches(src, starts, batch_size=10, shuffle=True, seed=3)
    np.testing.assert_array_equal(again.batch_starts(0), orders[0][:10])  # seeded

    stats = ColumnStats(3)
    stats.update(values)
    scaler = Scaler.from_stats(stats, "minmax")
    scaled = WindowBatches(src, starts, batch_size=10, scaler=scaler)
    x, y = scaled[5]
    assert x.shape == (3, 8, 3, 1) and x.dtype == np.float32 and x is y
    expected = scaler.transform(np.stack([values[s : s + 8] for s in starts[50:]]))
    np.testing.assert_allclose(x[..., 0], expected, atol=1e-6)
    with pytest.raises(IndexError):
        scaled.batch_starts(6)
