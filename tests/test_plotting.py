"""Plotting: series + score figure, heatmap for wide data, PNG output, lazy matplotlib import."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomark import Dataset, Detection
from anomark.datasets.synthetic import multisensor, periodic_series
from anomark.errors import DataError

plt = pytest.importorskip("matplotlib.pyplot")
from matplotlib.collections import PathCollection  # noqa: E402

from anomark.plotting import GAP_STEPS, WIDE_COLUMNS, plot_detection, plot_heatmap  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _detection(ds: Dataset, k: float = 4.0) -> Detection:
    """A detection from a simple detector-free score: distance to a rolling median."""
    frame = ds.frame
    med = frame.rolling(25, center=True, min_periods=1).median()
    score = ((frame - med).abs() / frame.std()).mean(axis=1)
    return Detection(score, float(score.mean() + k * score.std()), data=ds, detector="Demo")


def _threshold_lines(ax: object, value: float) -> list:
    return [
        line for line in ax.get_lines()  # type: ignore[attr-defined]
        if len(line.get_ydata()) == 2 and np.allclose(line.get_ydata(), value)
    ]


def _saved(fig: object, path: Path) -> Path:
    fig.savefig(path, dpi=80)  # type: ignore[attr-defined]
    assert path.exists() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def test_lines_break_at_gaps_in_the_data(tmp_path: Path) -> None:
    # NAB's occupancy_t4013 has a 3-day hole in 5-minute data: its line (and the score's, and
    # an online threshold's) was drawn straight across it, as if there were data
    first = pd.date_range("2024-01-01", periods=300, freq="5min")
    later = pd.date_range(first[-1] + pd.Timedelta(days=3), periods=300, freq="5min")
    index = first.append(later)
    values = np.sin(np.arange(600) / 10.0)
    values[450] += 4.0
    ds = Dataset(pd.DataFrame({"v": values}, index=index))
    det = _detection(ds)
    online = Detection(det.scores, det.threshold, data=ds,
                       thresholds=pd.Series(np.linspace(1.0, 2.0, 600), index=index))
    for detection in (det, online):
        fig = detection.plot()
        _saved(fig, tmp_path / "gap.png")
        ax_series, ax_score = fig.axes
        lines = [line for line in [*ax_series.get_lines(), *ax_score.get_lines()]
                 if len(line.get_xdata()) > 2]  # (not a fixed threshold's axhline)
        assert len(lines) == 2 + (detection is online)  # series, score, moving threshold
        for line in lines:
            x = np.asarray(line.get_xdata())
            y = np.asarray(line.get_ydata(), dtype=float)
            assert len(x) == 601 and np.isnan(y).sum() == 1  # one break, nothing else lost
            assert first[-1] < pd.Timestamp(x[np.isnan(y)][0]) < later[0]
            refs = (values, detection.scores.to_numpy(), np.linspace(1.0, 2.0, 600))
            assert any(np.array_equal(y[~np.isnan(y)], ref) for ref in refs)
        marks = [c for c in ax_series.collections if isinstance(c, PathCollection)]
        assert sum(len(c.get_offsets()) for c in marks) == detection.n_flagged > 0
    # a step up to GAP_STEPS times the usual one is no gap; irregular data is not cut up
    close = first.append(pd.DatetimeIndex([first[-1] + GAP_STEPS * pd.Timedelta("5min")]))
    near = Dataset(pd.DataFrame({"v": np.arange(301.0)}, index=close))
    score = pd.Series(np.zeros(301), index=close)
    fig = Detection(score, 1.0, data=near).plot()
    assert not np.isnan(np.asarray(fig.axes[0].get_lines()[0].get_ydata(), float)).any()

def test_plot_detection_twin_axes_png(tmp_path: Path) -> None:
    ds, windows = periodic_series(n=1500, seed=0)
    det = _detection(ds)
    assert det.n_flagged > 0
    fig = det.plot(windows=windows, title="demo")
    _saved(fig, tmp_path / "series.png")
    ax_series, ax_score = fig.axes  # the series axes and its twin
    assert ax_series.get_title() == "demo"
    assert [line.get_label() for line in ax_series.get_lines()] == ["value"]
    assert len(ax_series.get_lines()[0].get_xdata()) == len(ds)
    score_line = [line for line in ax_score.get_lines() if line.get_label() == "score"]
    assert len(score_line) == 1
    np.testing.assert_allclose(score_line[0].get_ydata(), det.scores.to_numpy())
    assert len(_threshold_lines(ax_score, det.threshold)) == 1
    marks = [c for c in ax_series.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in marks) == det.n_flagged
    assert len(ax_series.patches) == len(windows)
    legend = ax_series.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert "labelled window" in labels and "score" in labels
    assert any(t.startswith("threshold") for t in labels)


def test_plot_detection_column_choice_and_errors() -> None:
    frame = pd.DataFrame(
        {"a": np.sin(np.arange(300) / 5), "b": np.cos(np.arange(300) / 5)},
        index=pd.date_range("2024-01-01", periods=300, freq="min"),
    )
    det = _detection(Dataset(frame))
    fig = plot_detection(det, column="b")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["b"]
    fig = plot_detection(det)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["a", "b"]
    with pytest.raises(DataError, match="'c' not found"):
        plot_detection(det, column="c")
    with pytest.raises(DataError, match=r"windows\[0\] is not a \(start, end\) pair: 1"):
        plot_detection(det, windows=[1, 2])


def test_plot_detection_into_given_axes_and_without_data() -> None:
    ds, windows = periodic_series(n=600, seed=1)
    det = _detection(ds)
    fig, ax = plt.subplots()
    out = det.plot(ax=ax)
    assert out is fig and len(fig.axes) == 2  # the given axes + its twin

    scores_only = Detection(det.scores, det.threshold)
    fig = plot_detection(scores_only, windows=windows)
    (ax,) = fig.axes
    assert ax.get_lines()[0].get_label() == "score"
    assert len(_threshold_lines(ax, det.threshold)) == 1
    assert len(ax.patches) == len(windows)


def test_plot_detection_positional_index() -> None:
    values = np.sin(np.arange(400) / 10.0)
    values[200] = 5.0
    det = _detection(Dataset.from_array(values))
    fig = det.plot(windows=[(195, 205)])
    assert fig.axes[0].get_xlabel() == "position"
    assert det.flags.iloc[200]


def test_wide_detection_draws_heatmap_with_score_panel(tmp_path: Path) -> None:
    ds, windows = multisensor(days=1, n_echo_bins=40, seed=0)
    ds = ds.interpolate().fillna(method="bfill")
    assert ds.n_features > WIDE_COLUMNS
    det = _detection(ds, k=3.0)
    fig = det.plot(windows=windows)
    _saved(fig, tmp_path / "wide.png")
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 1
    assert images[0].get_array().shape == (ds.n_features, len(ds))  # columns on y, time on x
    score_axes = [ax for ax in fig.axes if any(line.get_label() == "score"
                                                for line in ax.get_lines())]
    assert len(score_axes) == 1
    assert len(_threshold_lines(score_axes[0], det.threshold)) == 1
    assert len(fig.axes) == 3  # score panel, heatmap, colour bar


def test_plot_heatmap_bins_time_and_shows_gaps(tmp_path: Path) -> None:
    ds, windows = multisensor(days=1, n_echo_bins=30, seed=3)  # CTD columns hold NaN
    fig = plot_heatmap(ds, windows=windows, max_time_bins=200, normalize=None, title="raw")
    _saved(fig, tmp_path / "heat.png")
    (image,) = [im for ax in fig.axes for im in ax.get_images()]
    array = image.get_array()
    assert array.shape == (ds.n_features, 1440 // 8)  # 8 rows averaged per pixel
    assert float(array[0, 0]) == pytest.approx(np.nanmean(ds.values[:8, 0]))
    assert float(array[5, -1]) == pytest.approx(np.nanmean(ds.values[-8:, 5]))
    assert len(fig.axes) == 2  # heatmap + colour bar (no scores)
    assert fig.axes[0].get_title() == "raw"

    columns = ["ctd.temperature", "ctd.oxygen"]
    fig = plot_heatmap(ds.frame, columns=columns, normalize="minmax")
    (image,) = [im for ax in fig.axes for im in ax.get_images()]
    data = image.get_array()
    assert data.shape == (2, 1440)
    assert float(data.min()) == pytest.approx(0.0) and float(data.max()) == pytest.approx(1.0)
    assert np.ma.getmaskarray(data).any()  # the gaps are masked, drawn as "bad" cells


def test_plot_heatmap_into_axes_splits_off_score_panel() -> None:
    ds, _ = multisensor(days=0.5, n_echo_bins=20, seed=1, gaps=False)
    det = _detection(ds)
    fig, ax = plt.subplots()
    out = plot_heatmap(ds, scores=det.scores, threshold=det.threshold, flags=det.flags, ax=ax)
    assert out is fig
    assert ax.get_images()
    assert any(a is not ax and a.get_lines() for a in fig.axes)


def test_plot_heatmap_rejects_bad_input() -> None:
    ds, _ = multisensor(days=0.5, n_echo_bins=10, seed=1, gaps=False)
    with pytest.raises(DataError, match="normalize"):
        plot_heatmap(ds, normalize="log")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="scores"):
        plot_heatmap(ds, scores=pd.Series(np.zeros(3)))
    with pytest.raises(DataError, match="not found"):
        plot_heatmap(ds, columns=["nope"])
    with pytest.raises(DataError, match="max_time_bins"):
        plot_heatmap(ds, max_time_bins=1)


def test_import_anomark_does_not_import_matplotlib() -> None:
    code = (
        "import sys, anomark, anomark.cli, anomark.detection\n"
        "from anomark import Dataset, Detection\n"
        "bad = [m for m in ('matplotlib', 'tensorflow', 'sagemaker') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ---------------------------------------------------------------------- issue 14 (readability)
def test_time_axis_is_labelled_and_shows_the_year(tmp_path: Path) -> None:
    ds, windows = periodic_series(n=10_000, freq="30min", seed=0)  # July 2024 .. Jan 2025
    fig = _detection(ds).plot(windows=windows)
    ax_series = fig.axes[0]
    assert ax_series.get_xlabel() == "timestamp"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax_series.get_xticklabels() if t.get_text()]
    assert labels and labels[0].endswith(str(ds.index[0].year + (ds.index[0].month == 12)))
    assert all(any(ch.isdigit() for ch in label) for label in labels)  # "Jul 2024", never "Jul"
    positions = Dataset.from_array(np.sin(np.arange(300.0)))
    assert _detection(positions).plot().axes[0].get_xlabel() == "position"


def test_no_stray_y_ticks_where_the_two_axes_stack() -> None:
    ds, _ = periodic_series(n=1500, seed=0)
    det = _detection(ds)
    fig = det.plot()
    ax_series, ax_score = fig.axes
    fig.canvas.draw()
    values, scores = ds.values, det.scores.to_numpy()
    lo, hi = float(values.min()), float(values.max())
    s_lo, s_hi = float(min(scores.min(), det.threshold)), float(max(scores.max(), det.threshold))
    assert ax_series.get_yticks().size >= 2 and ax_score.get_yticks().size >= 2
    assert all(lo <= t <= hi for t in ax_series.get_yticks())
    assert all(s_lo <= t <= s_hi for t in ax_score.get_yticks())
    assert all(t.get_text() for t in ax_series.get_yticklabels())  # every tick has its label


def test_data_columns_are_drawn_in_colours_far_from_the_score() -> None:
    from matplotlib.colors import to_rgb

    ds, _ = multisensor(days=1, n_echo_bins=2, n_adcp_depths=1, n_hydrophone_bands=1, seed=0)
    ds = ds.select(ds.columns[:WIDE_COLUMNS])
    fig = _detection(ds).plot()
    ax_series, ax_score = fig.axes
    score_rgb = np.array(to_rgb(next(ln for ln in ax_score.get_lines()
                                     if ln.get_label() == "score").get_color()))
    colours = [np.array(to_rgb(ln.get_color())) for ln in ax_series.get_lines()]
    assert len(colours) == WIDE_COLUMNS
    assert len({tuple(c) for c in colours}) == len(colours)  # all distinct
    assert min(float(np.abs(c - score_rgb).sum()) for c in colours) > 0.5


def test_located_events_and_an_online_threshold_are_drawn() -> None:
    ds, _ = periodic_series(n=1500, seed=0)
    plain = _detection(ds)
    index = plain.scores.index
    events = plain.events
    assert len(events) > 0

    located = pd.Series(index[np.maximum(np.arange(len(index)) - 5, 0)], index=index)
    thresholds = pd.Series(
        np.where(np.arange(len(index)) < 100, np.inf, plain.threshold), index=index
    )
    det = Detection(plain.scores, plain.threshold, data=ds, detector="Demo",
                    thresholds=thresholds, located=located)
    fig = det.plot()
    ax_series, ax_score = fig.axes
    located = [line for line in ax_series.get_lines() if line.get_linestyle() == ":"]
    assert len(located) == len(det.events)
    expected = sorted(index.get_loc(t) - 5 for t in det.events["peak_time"])
    got = sorted(
        index.get_loc(pd.Timestamp(np.asarray(line.get_xdata())[0])) for line in located
    )
    assert got == expected
    step = [line for line in ax_score.get_lines() if line.get_label() == "online threshold"]
    assert len(step) == 1 and np.isnan(step[0].get_ydata()[:100]).all()
    # without a locator, no located_at lines (they would repeat the peaks)
    fig = plain.plot()
    assert not [line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]
    # an online threshold that never warmed up: no threshold line, finite axis limits
    cold = Detection(plain.scores, np.inf, data=ds, thresholds=thresholds * np.inf)
    fig = cold.plot()
    assert np.isfinite(fig.axes[1].get_ylim()).all()



def test_all_zero_seasonal_residuals_are_not_drawn() -> None:
    ds, _ = periodic_series(n=600, seed=0)
    frame = ds.frame.copy()
    name = frame.columns[0]
    zero = frame.assign(**{f"{name}.seasonal_residual": 0.0})
    some = frame.assign(**{f"{name}.seasonal_residual": np.sin(np.arange(len(frame)))})

    def drawn(det: Detection, **kw: object) -> list[str]:
        return [ln.get_label() for ln in det.plot(**kw).axes[0].get_lines()]

    scores = _detection(ds).scores
    # no period chosen: the residual is 0 throughout and only adds a flat line
    det = Detection(scores, 1.0, data=Dataset(zero))
    assert drawn(det) == [name]
    # a residual that carries something is drawn, and so is one asked for by name
    assert drawn(Detection(scores, 1.0, data=Dataset(some))) == [
        name, f"{name}.seasonal_residual"]
    assert drawn(det, column=f"{name}.seasonal_residual") == [f"{name}.seasonal_residual"]
    # a user's own all-zero column is kept
    assert drawn(Detection(scores, 1.0, data=Dataset(frame.assign(flat=0.0)))) == [name, "flat"]
