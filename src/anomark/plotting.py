"""Matplotlib figures for detections: series + score, and heatmaps for wide data.

Matplotlib is imported when a function here is called, never at ``import anomark``. When no
display is available (no ``DISPLAY`` on Linux, no ``MPLBACKEND`` chosen, pyplot not yet
imported) the non-interactive Agg backend is selected, so plotting works on servers and in CI.

:func:`plot_detection`
    Few columns: the series on the left axis, the score on a twin right axis with the threshold
    line, flagged points marked, labelled windows shaded; lines break where the data have a
    gap (a step over :data:`GAP_STEPS` times the usual one). Wide data (more than
    :data:`WIDE_COLUMNS` columns): an echogram-style heatmap with the score panel on top.
:func:`plot_heatmap`
    A heatmap of many columns (time on x, column on y), optionally with a score panel on top.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from anomark._optional import import_optional
from anomark.dataset import Dataset
from anomark.errors import DataError
from anomark.labels import window_pairs

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from anomark.detection import Detection

__all__ = ["WIDE_COLUMNS", "plot_detection", "plot_heatmap"]

#: Data with more columns than this is drawn as a heatmap by :func:`plot_detection`.
WIDE_COLUMNS = 8

_SERIES_COLOR = "#1f5fa8"
#: Line colours of the data columns: none of them near the score's orange, the flags' red or
#: the windows' green (matplotlib's default cycle puts orange second).
_SERIES_COLORS = ("#1f5fa8", "#7b3294", "#17becf", "#8c564b", "#e377c2", "#525252",
                  "#bcbd22", "#08306b")
_SCORE_COLOR = "#d97a00"
_FLAG_COLOR = "#d62728"
_WINDOW_COLOR = "#2ca02c"
_MAX_LINE_COLUMNS = WIDE_COLUMNS
#: A step more than this many times the usual (median) one is a gap: lines break there.
GAP_STEPS = 5

Normalize = Literal["zscore", "minmax"] | None


def _pyplot() -> Any:
    """Import pyplot, choosing Agg when there is no display; DependencyError when missing."""
    matplotlib = import_optional("matplotlib", "plotting")
    headless = (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )
    if headless and not os.environ.get("MPLBACKEND") and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _x_values(index: pd.Index) -> np.ndarray:
    """Index as values matplotlib puts on an x axis (datetimes or positions)."""
    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:
            index = index.tz_convert(None)
        return np.asarray(index.to_numpy(dtype="datetime64[ns]"))
    return np.asarray(index, dtype=np.float64)


def _gapped(x: np.ndarray, *ys: np.ndarray) -> tuple[np.ndarray, ...]:
    """``x`` and the ``ys`` with a NaN point in each gap (a step over :data:`GAP_STEPS`
    times the median step), so that lines are not drawn across missing data (a straight
    line over a three-day hole looks like data)."""
    if len(x) < 3:
        return (x, *ys)
    steps = np.diff(x)
    gaps = np.flatnonzero(steps > np.median(steps) * GAP_STEPS)
    if not len(gaps):
        return (x, *ys)
    middle = x[gaps] + steps[gaps] / 2
    return (np.insert(x, gaps + 1, middle),
            *(np.insert(np.asarray(y, dtype=np.float64), gaps + 1, np.nan) for y in ys))


def _to_x(value: Any, index: pd.Index) -> Any:
    """One window bound as an x value compatible with :func:`_x_values`."""
    if isinstance(index, pd.DatetimeIndex):
        ts = pd.Timestamp(value)
        if index.tz is not None:
            ts = ts.tz_localize(index.tz) if ts.tz is None else ts
            ts = ts.tz_convert(None)
        elif ts.tz is not None:
            ts = ts.tz_convert(None)
        return ts.as_unit("ns").to_datetime64()
    return float(value)


def _shade_windows(ax: Axes, windows: list[tuple[Any, Any]], index: pd.Index) -> None:
    step = _half_step(index)
    for i, (start, end) in enumerate(windows):
        try:
            x0, x1 = _to_x(start, index), _to_x(end, index)
        except (ValueError, TypeError) as exc:
            raise DataError(f"cannot read window {(start, end)!r}: {exc}") from None
        if step is not None:  # make one-point windows visible
            x0, x1 = x0 - step, x1 + step
        ax.axvspan(
            x0, x1, color=_WINDOW_COLOR, alpha=0.18, lw=0,
            label="labelled window" if i == 0 else None,
        )


def _half_step(index: pd.Index) -> Any:
    if len(index) < 2:
        return None
    x = _x_values(index)
    diffs = np.diff(x)
    return np.median(diffs) / 2 if np.issubdtype(x.dtype, np.datetime64) else float(
        np.median(diffs) / 2
    )


def _figure_of(ax: Axes) -> Figure:
    """The top-level figure holding ``ax`` (also when ``ax`` is in a sub-figure)."""
    from matplotlib.figure import Figure

    fig: Any = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return _figure_of(ax), ax
    plt = _pyplot()
    fig, new_ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, new_ax


def _score_panel(
    ax: Axes,
    scores: pd.Series,
    threshold: float | None,
    flags: pd.Series | None,
    *,
    show_legend: bool = True,
) -> None:
    x = _x_values(scores.index)
    ax.plot(*_gapped(x, scores.to_numpy()), color=_SCORE_COLOR, lw=0.9, label="score")
    if threshold is not None and np.isfinite(threshold):
        ax.axhline(threshold, color=_FLAG_COLOR, ls="--", lw=1.0,
                   label=f"threshold {threshold:.4g}")
    if flags is not None and bool(flags.any()):
        mask = flags.to_numpy(dtype=bool)
        ax.scatter(x[mask], scores.to_numpy()[mask], s=14, color=_FLAG_COLOR, zorder=3,
                   label=f"flagged ({int(mask.sum())})")
    ax.set_ylabel("anomaly score")
    if show_legend:
        ax.legend(loc="upper left", fontsize="small", framealpha=0.8)


def plot_detection(
    detection: Detection,
    windows: Sequence[tuple[Any, Any]] | None = None,
    column: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Plot a :class:`~anomark.detection.Detection`.

    With at most :data:`WIDE_COLUMNS` columns (or when ``column`` is given) the series is drawn
    on the left axis and the score on a twin right axis with the threshold as a dashed line;
    flagged points are marked in red on the series, labelled ``windows`` are shaded in green,
    and, when the detector located them (RCF), a dotted vertical line marks where each event's
    anomalous values entered (the events' ``located_at``). An online detection's moving
    threshold is drawn as a step line. A seasonal residual column that is zero throughout
    (the seasonal stage chose no period for its column) is left out unless ``column`` names it.
    Wider data is drawn with :func:`plot_heatmap` (time on x, column on y) and the score panel
    on top. Without data (a detection built from scores only) only the score panel is drawn.

    Parameters
    ----------
    detection : Detection
        The result of :meth:`Detector.detect`.
    windows : list of (start, end), optional
        True anomaly windows to shade (both ends inclusive), e.g. ``nab.windows(name)``.
    column : str, optional
        Draw only this column (as a line) even for wide data.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (for the heatmap, the score panel is split off its top); by default
        a new figure is created.
    title : str, optional
        Figure title; defaults to the data's name and the detector.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        ``column`` is not in the data, or ``windows`` is not a list of pairs.

    Examples
    --------
    >>> from anomark import IsolationForestDetector
    >>> from anomark.datasets.synthetic import periodic_series
    >>> ds, windows = periodic_series(n=1000, seed=0)
    >>> detection = IsolationForestDetector(random_state=0).fit(ds).detect(ds)
    >>> fig = plot_detection(detection, windows=windows)  # same as detection.plot(windows)
    >>> len(fig.axes)  # the series axes and its twin score axes
    2
    """
    scores = detection.scores
    flags = detection.flags
    data = detection.data
    wins = window_pairs(windows)
    if title is None:
        parts = [p for p in ((data.name if data is not None else None), detection.detector) if p]
        title = " — ".join(str(p) for p in parts) or None

    if data is None:
        fig, score_ax = _new_axes(ax, (12, 4))
        _shade_windows(score_ax, wins, scores.index)
        _score_panel(score_ax, scores, detection.threshold, flags)
        if title:
            score_ax.set_title(title)
        return fig

    if column is not None and column not in data.columns:
        raise DataError(f"column {column!r} not found; columns are {data.columns[:10]}")
    if column is None and data.n_features > WIDE_COLUMNS:
        return plot_heatmap(
            data, scores=scores, threshold=detection.threshold, flags=flags,
            windows=wins, ax=ax, title=title,
        )

    frame = data.frame
    columns = [column] if column is not None else _drawn_columns(frame)
    fig, ax_series = _new_axes(ax, (12, 4.5))
    x = _x_values(scores.index)
    mask = flags.to_numpy(dtype=bool)
    _shade_windows(ax_series, wins, scores.index)
    for i, col in enumerate(columns):
        values = frame[col].to_numpy()
        color = _SERIES_COLORS[i % len(_SERIES_COLORS)]
        ax_series.plot(*_gapped(x, values), lw=0.8, color=color, label=col, zorder=2)
        if mask.any() and (i == 0 or len(columns) <= 3):
            ax_series.scatter(
                x[mask], values[mask], s=16, color=_FLAG_COLOR, zorder=4,
                label=f"flagged ({int(mask.sum())})" if i == 0 else None,
            )
    ax_series.set_ylabel(columns[0] if len(columns) == 1 else "value")
    _mark_located(ax_series, detection)
    ax_score = ax_series.twinx()
    x_score = x
    ax_score.plot(*_gapped(x_score, scores.to_numpy()), color=_SCORE_COLOR, lw=0.8,
                  alpha=0.75, label="score", zorder=1)
    shown = _draw_threshold(ax_score, detection, x_score)
    _stack_ranges(ax_series, ax_score, frame[columns].to_numpy(), scores.to_numpy(), shown)
    ax_score.set_ylabel("anomaly score", color=_SCORE_COLOR)
    ax_score.tick_params(axis="y", colors=_SCORE_COLOR)
    handles, labels = ax_series.get_legend_handles_labels()
    h2, l2 = ax_score.get_legend_handles_labels()
    ax_series.legend(handles + h2, labels + l2, loc="upper left", fontsize="small",
                     framealpha=0.85, ncols=2 if len(labels) + len(l2) > 4 else 1)
    ax_series.set_zorder(ax_score.get_zorder() + 1)  # series and markers above the score line
    ax_series.patch.set_visible(False)
    if title:
        ax_series.set_title(title)
    _format_time_axis(ax_series, scores.index)
    return fig


def _drawn_columns(frame: pd.DataFrame) -> list[str]:
    """The columns drawn as lines: all of them but the seasonal residuals that are zero
    throughout (the seasonal stage chose no period for their column), which would only add a
    flat line at 0 and a legend entry."""
    from anomark.seasonal import SUFFIX

    keep = [
        c for c in frame.columns
        if not (str(c).endswith(SUFFIX) and not frame[c].to_numpy().any())
    ]
    return keep or list(frame.columns)


def _draw_threshold(ax: Axes, detection: Detection, x: np.ndarray) -> float:
    """The threshold as a dashed line (a step line for an online threshold that moves);
    returns a finite value for the axis range (the scores' maximum when there is none)."""
    finite_max = float(detection.scores.max())
    if detection.thresholds is not None:
        values = detection.thresholds.to_numpy(dtype=np.float64)
        shown = np.where(np.isfinite(values), values, np.nan)
        if np.isfinite(shown).any():
            ax.step(*_gapped(x, shown), where="post", color=_FLAG_COLOR, ls="--", lw=1.0,
                    label="online threshold")
            return float(np.nanmax(shown))
        return finite_max
    if not np.isfinite(detection.threshold):
        return finite_max
    ax.axhline(detection.threshold, color=_FLAG_COLOR, ls="--", lw=1.0,
               label=f"threshold {detection.threshold:.4g}")
    return detection.threshold


def _mark_located(ax: Axes, detection: Detection) -> None:
    """A dotted vertical line where each event's anomalous values entered (``located_at``)."""
    if not detection.locates_events:
        return  # located_at is only the peak time: the flags already show it
    events = detection.events
    if events.empty:
        return
    index = detection.scores.index
    for i, when in enumerate(events["located_at"]):
        ax.axvline(_to_x(when, index), color=_FLAG_COLOR, ls=":", lw=1.0, alpha=0.8, zorder=3,
                   label=f"located at ({len(events)})" if i == 0 else None)


def _stack_ranges(
    ax_series: Axes, ax_score: Axes, values: np.ndarray, scores: np.ndarray, threshold: float
) -> None:
    """Set y limits so the series fills the upper part and the score the lower part.

    Both stay on their own full-height axes (twin axes), but the overlap is reduced so that
    neither line hides the other.
    """
    finite = values[np.isfinite(values)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        span = hi - lo or max(abs(hi), 1.0)
        ax_series.set_ylim(lo - 0.55 * span, hi + 0.08 * span)
        _ticks_within(ax_series, lo, hi)
    s_lo = float(min(scores.min(), threshold))
    s_hi = float(max(scores.max(), threshold))
    s_span = s_hi - s_lo or max(abs(s_hi), 1.0)
    ax_score.set_ylim(s_lo - 0.05 * s_span, s_hi + 0.9 * s_span)
    _ticks_within(ax_score, s_lo, s_hi)


def _ticks_within(ax: Axes, low: float, high: float) -> None:
    """Put y ticks only over ``[low, high]``, the part of the axis its line uses (the twin
    axes stack the series above the score; ticks elsewhere would be stray marks)."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    ticks = MaxNLocator(nbins=5).tick_values(low, high)
    pad = 1e-9 * max(abs(low), abs(high), 1.0)
    ax.yaxis.set_major_locator(
        FixedLocator([t for t in ticks if low - pad <= t <= high + pad])
    )


def _format_time_axis(ax: Axes, index: pd.Index) -> None:
    """Dates on x with the year on every month or year tick (and in the offset for shorter
    spans), labelled with the index name; positions otherwise."""
    if isinstance(index, pd.DatetimeIndex):
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator()
        formatter = mdates.ConciseDateFormatter(
            locator,
            formats=["%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M", "%S.%f"],
            zero_formats=["", "%Y", "%b %Y", "%d %b", "%H:%M", "%H:%M"],
            offset_formats=["", "", "%Y", "%b %Y", "%d %b %Y", "%d %b %Y %H:%M"],
        )
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(formatter)
        tz = f" ({index.tz})" if index.tz is not None else ""
        ax.set_xlabel(f"{index.name or 'time'}{tz}")
    else:
        ax.set_xlabel(str(index.name or "position"))


def _binned(values: np.ndarray, max_bins: int) -> np.ndarray:
    """Average consecutive rows (ignoring NaN) so that at most ``max_bins`` rows remain."""
    n = values.shape[0]
    if n <= max_bins:
        return values
    factor = int(np.ceil(n / max_bins))
    n_full = (n // factor) * factor
    with np.errstate(invalid="ignore"), _ignore_empty_slices():
        head = np.nanmean(values[:n_full].reshape(-1, factor, values.shape[1]), axis=1)
        if n_full < n:
            tail = np.nanmean(values[n_full:], axis=0, keepdims=True)
            head = np.concatenate([head, tail], axis=0)
    return head


@contextmanager
def _ignore_empty_slices() -> Iterator[None]:
    """Silence numpy's 'mean of empty slice' warnings (all-NaN bins are drawn as gaps)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _normalise(values: np.ndarray, how: Normalize) -> np.ndarray:
    if how is None:
        return values
    with np.errstate(invalid="ignore", divide="ignore"), _ignore_empty_slices():
        if how == "zscore":
            centre = np.nanmedian(values, axis=0)
            q75, q25 = np.nanpercentile(values, [75, 25], axis=0)
            spread = (q75 - q25) / 1.349
            std = np.nanstd(values, axis=0)
            spread = np.where(spread > 0, spread, std)
            spread = np.where(spread > 0, spread, 1.0)
            out = (values - centre) / spread
            return np.clip(out, -6.0, 6.0)
        if how == "minmax":
            lo = np.nanmin(values, axis=0)
            hi = np.nanmax(values, axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            return (values - lo) / span
    raise DataError(f"normalize must be 'zscore', 'minmax' or None, got {how!r}")


def plot_heatmap(
    dataset: Dataset | pd.DataFrame,
    scores: pd.Series | None = None,
    *,
    threshold: float | None = None,
    flags: pd.Series | None = None,
    windows: Sequence[tuple[Any, Any]] | None = None,
    columns: Sequence[str] | None = None,
    normalize: Normalize = "zscore",
    cmap: str = "viridis",
    max_time_bins: int = 1500,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Heatmap of many columns (echogram style): time on x, one row per column on y.

    Parameters
    ----------
    dataset : Dataset or DataFrame
        The data; NaN cells are drawn in light grey.
    scores : pandas.Series, optional
        Anomaly scores (same length as ``dataset``), drawn in a panel above the heatmap with
        ``threshold`` and ``flags``.
    threshold : float, optional
        Drawn as a dashed line in the score panel.
    flags : pandas.Series of bool, optional
        Flagged points, marked on the score panel and as ticks under the heatmap's top edge.
    windows : list of (start, end), optional
        Labelled anomaly windows, outlined on the heatmap and shaded on the score panel.
    columns : sequence of str, optional
        Only these columns, in this order.
    normalize : {"zscore", "minmax", None}, default "zscore"
        Per-column scaling so columns with different units share one colour scale: robust
        z-score (median / IQR, clipped to ±6), min-max to [0, 1], or raw values (``None``,
        e.g. for an echogram of one sensor in dB).
    cmap : str, default "viridis"
        Colour map.
    max_time_bins : int, default 1500
        Longer data is averaged over consecutive rows down to this many columns of pixels.
    ax : matplotlib.axes.Axes, optional
        Draw the heatmap into this axes (the score panel is split off its top).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes`` holds the heatmap, then the colour bar, then (with ``scores``) the score panel.

    Raises
    ------
    DataError
        Mismatched lengths, unknown columns, an unknown ``normalize``.
    """
    if isinstance(dataset, pd.DataFrame):
        dataset = Dataset.from_frame(dataset)
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"plot_heatmap expects a Dataset or DataFrame, got {type(dataset).__name__}"
        )
    if columns is not None:
        dataset = dataset.select(columns)
    if scores is not None and len(scores) != len(dataset):
        raise DataError(f"{len(scores)} scores for {len(dataset)} rows")
    if normalize not in ("zscore", "minmax", None):
        raise DataError(f"normalize must be 'zscore', 'minmax' or None, got {normalize!r}")
    if isinstance(max_time_bins, bool) or not isinstance(max_time_bins, int) or max_time_bins < 2:
        raise DataError(f"max_time_bins must be an integer >= 2, got {max_time_bins!r}")
    wins = window_pairs(windows)
    plt = _pyplot()
    import matplotlib.dates as mdates

    index = dataset.index
    values = _normalise(np.array(dataset.values, dtype=np.float64), normalize)
    binned = _binned(values, max_time_bins)

    if ax is None:
        if scores is not None:
            fig, (ax_score, ax_heat) = plt.subplots(
                2, 1, figsize=(13, 7), sharex=True, height_ratios=[1, 3], layout="constrained"
            )
        else:
            fig, ax_heat = plt.subplots(figsize=(13, 5.5), layout="constrained")
            ax_score = None
    else:
        fig, ax_heat = _figure_of(ax), ax
        ax_score = None
        if scores is not None:
            from mpl_toolkits.axes_grid1 import make_axes_locatable

            ax_score = make_axes_locatable(ax_heat).append_axes(
                "top", size="35%", pad=0.15, sharex=ax_heat
            )

    # pixel edges along time: bin starts plus one step past the end
    x = _x_values(index)
    is_time = isinstance(index, pd.DatetimeIndex)
    xn = mdates.date2num(x) if is_time else x.astype(np.float64)
    step = float(np.median(np.diff(xn))) if len(xn) > 1 else 1.0
    x0, x1 = xn[0] - step / 2, xn[-1] + step / 2
    n_cols = dataset.n_features
    cmap_obj = plt.get_cmap(cmap).with_extremes(bad="#d9d9d9")
    image = ax_heat.imshow(
        np.ma.masked_invalid(binned.T),
        aspect="auto",
        interpolation="nearest",
        origin="upper",
        extent=(x0, x1, n_cols - 0.5, -0.5),
        cmap=cmap_obj,
    )
    label = {"zscore": "robust z-score", "minmax": "scaled to [0, 1]", None: "value"}[normalize]
    fig.colorbar(image, ax=ax_heat, label=label, pad=0.01, fraction=0.03)

    names = dataset.columns
    n_ticks = min(n_cols, 24)
    ticks = np.unique(np.linspace(0, n_cols - 1, n_ticks).round().astype(int))
    ax_heat.set_yticks(ticks)
    ax_heat.set_yticklabels([names[i] for i in ticks], fontsize=7 if n_cols > 12 else 8)
    ax_heat.set_ylabel(f"{n_cols} columns")
    for s, e in wins:
        xs = mdates.date2num(_to_x(s, index)) if is_time else _to_x(s, index)
        xe = mdates.date2num(_to_x(e, index)) if is_time else _to_x(e, index)
        ax_heat.axvspan(xs - step / 2, xe + step / 2, fill=False, ec="white", lw=1.2, ls="--")
    if flags is not None and bool(flags.any()):
        mask = flags.to_numpy(dtype=bool)
        ax_heat.scatter(xn[mask], np.full(int(mask.sum()), -0.5), marker="v", s=18,
                        color=_FLAG_COLOR, clip_on=False, zorder=4)
    if is_time:
        ax_heat.xaxis_date()
    _format_time_axis(ax_heat, index)
    ax_heat.set_xlim(x0, x1)

    if scores is not None and ax_score is not None:
        if is_time:
            s_plot = pd.Series(scores.to_numpy(), index=index)
        else:
            s_plot = pd.Series(scores.to_numpy(), index=pd.Index(xn))
        flag_series = (
            pd.Series(flags.to_numpy(dtype=bool), index=s_plot.index) if flags is not None else None
        )
        _shade_windows(ax_score, wins, s_plot.index)
        _score_panel(ax_score, s_plot, threshold, flag_series)
        ax_score.tick_params(labelbottom=False)
        ax_score.set_xlim(x0, x1)
        top = ax_score
    else:
        top = ax_heat
    if title:
        top.set_title(title)
    return fig
