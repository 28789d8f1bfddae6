"""Seeded synthetic data with known anomaly windows, for tests, demos and benchmarks.

Two generators:

:func:`periodic_series`
    One univariate series with daily and weekly seasonality, noise and injected anomalies
    (spikes, level shifts, dropouts), like the NAB "realKnownCause" series.
:func:`multisensor`
    A minute-level multi-sensor frame shaped like the ocean-observatory use case: current profiler
    speed/direction by depth, echosounder backscatter over many depth bins, hydrophone spectrum
    bands and point sensors with gaps, with injected events across sensors.

:func:`write_daily_csvs` writes a multi-sensor frame as one CSV per sensor per day, the layout
:meth:`anomark.Dataset.from_sensors` reads back with glob patterns.

Everything is vectorised numpy and reproducible: the same ``seed`` gives the same data and windows.
Windows are ``(start, end)`` :class:`pandas.Timestamp` pairs, both ends inclusive, the format
:func:`anomark.evaluation.event_scores` takes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, overload

import numpy as np
import pandas as pd

from anomark._validation import Constraint, Interval, validate_params
from anomark.dataset import Dataset
from anomark.errors import ConfigurationError, DataError

__all__ = [
    "ANOMALY_KINDS",
    "MULTISENSOR_EVENT_KINDS",
    "SENSORS",
    "multisensor",
    "periodic_series",
    "write_daily_csvs",
]

Window = tuple[pd.Timestamp, pd.Timestamp]

#: Anomaly kinds :func:`periodic_series` can inject.
ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "dropout")
#: Event kinds :func:`multisensor` injects (cycled through in this order).
MULTISENSOR_EVENT_KINDS: tuple[str, ...] = (
    "ship_passage",
    "fish_school",
    "current_surge",
    "sensor_fault",
)
#: Sensor prefixes of :func:`multisensor` columns.
SENSORS: tuple[str, ...] = ("adcp", "ek60", "hydrophone", "ctd")

_M2_HOURS = 12.4206  # principal lunar semi-diurnal tide


# ---------------------------------------------------------------------- parameter tables
_COUNT = Interval(int, 0, None)
_SIZE = Interval(float, 0, None)
_WARMUP = Interval(float, 0, 1, closed="left")
_PERIODIC_PARAMS: dict[str, list[Constraint]] = {
    "n": [Interval(int, 2, None)], "n_anomalies": [_COUNT], "seed": [_COUNT],
    "level": [Interval(float, None, None)], "daily_amplitude": [_SIZE],
    "weekly_amplitude": [_SIZE], "noise": [_SIZE], "anomaly_scale": [_SIZE],
    "warmup": [_WARMUP],
}
_MULTISENSOR_PARAMS: dict[str, list[Constraint]] = {
    "days": [_SIZE], "seed": [_COUNT], "n_echo_bins": [Interval(int, 1, None)],
    "n_adcp_depths": [Interval(int, 1, None)], "n_hydrophone_bands": [Interval(int, 1, None)],
    "n_events": [_COUNT], "warmup": [_WARMUP],
}


def _step(freq: str | pd.Timedelta) -> pd.Timedelta:
    try:
        step = pd.Timedelta(freq)
    except (ValueError, TypeError):
        try:
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))  # type: ignore[arg-type]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"invalid frequency {freq!r}: {exc}") from None
    if step <= pd.Timedelta(0):
        raise ConfigurationError(f"frequency must be positive, got {freq!r}")
    return step


def _time_index(start: str | pd.Timestamp, n: int, freq: str | pd.Timedelta) -> pd.DatetimeIndex:
    step = _step(freq)
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"invalid start {start!r}: {exc}") from None
    return pd.DatetimeIndex(first + step * np.arange(n), name="timestamp")


def _place_segments(
    rng: np.random.Generator, n: int, lengths: np.ndarray, margin: int
) -> np.ndarray:
    """Start positions for non-overlapping segments spread over ``[margin, n)``.

    The usable range is cut into ``len(lengths)`` equal slots; each segment starts at a random
    position inside its slot, leaving a gap of at least 1 point before the next slot.
    """
    k = len(lengths)
    usable = n - margin
    slot = usable // k
    if slot < 2 or (lengths + 1 > slot).any():
        raise ConfigurationError(
            f"cannot fit {k} anomalies (longest {int(lengths.max())} points) into {n} points; "
            "use more points or fewer / shorter anomalies"
        )
    slack = slot - lengths - 1
    offsets = (rng.random(k) * (slack + 1)).astype(np.int64)
    return margin + np.arange(k) * slot + offsets


# ---------------------------------------------------------------------- periodic_series
@overload
def periodic_series(
    n: int = ...,
    freq: str | pd.Timedelta = ...,
    seed: int = ...,
    *,
    start: str | pd.Timestamp = ...,
    n_anomalies: int = ...,
    kinds: Sequence[str] = ...,
    level: float = ...,
    daily_amplitude: float = ...,
    weekly_amplitude: float = ...,
    noise: float = ...,
    anomaly_scale: float = ...,
    warmup: float = ...,
    name: str = ...,
    return_kinds: Literal[False] = ...,
) -> tuple[Dataset, list[Window]]: ...


@overload
def periodic_series(
    n: int = ...,
    freq: str | pd.Timedelta = ...,
    seed: int = ...,
    *,
    start: str | pd.Timestamp = ...,
    n_anomalies: int = ...,
    kinds: Sequence[str] = ...,
    level: float = ...,
    daily_amplitude: float = ...,
    weekly_amplitude: float = ...,
    noise: float = ...,
    anomaly_scale: float = ...,
    warmup: float = ...,
    name: str = ...,
    return_kinds: Literal[True],
) -> tuple[Dataset, list[Window], list[str]]: ...


def periodic_series(
    n: int = 4032,
    freq: str | pd.Timedelta = "30min",
    seed: int = 0,
    *,
    start: str | pd.Timestamp = "2024-01-01",
    n_anomalies: int = 6,
    kinds: Sequence[str] = ANOMALY_KINDS,
    level: float = 10.0,
    daily_amplitude: float = 3.0,
    weekly_amplitude: float = 1.5,
    noise: float = 0.3,
    anomaly_scale: float = 1.0,
    warmup: float = 0.15,
    name: str = "synthetic",
    return_kinds: bool = False,
) -> tuple[Dataset, list[Window]] | tuple[Dataset, list[Window], list[str]]:
    """A univariate seasonal series with injected anomalies and their true windows.

    The clean signal is ``level + daily sine + weekly sine + Gaussian noise``. Anomalies are
    placed in non-overlapping slots after the first ``warmup`` fraction of the series (so a
    detector has clean history to learn from), cycling through ``kinds``:

    ``"spike"``
        1-3 points far above the signal (``+(8..12) * noise + daily_amplitude``, times
        ``anomaly_scale``).
    ``"level_shift"``
        A segment (about 1 % of the series, at least 6 points) shifted up or down by about
        ``1.5 * daily_amplitude``.
    ``"dropout"``
        A segment (about 0.5 %, at least 4 points) where the sensor reads 0.

    Parameters
    ----------
    n : int, default 4032
        Number of points (4032 half-hours = 12 weeks).
    freq : str or Timedelta, default "30min"
        Sampling interval.
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same series.
    start : timestamp-like, default "2024-01-01"
        First timestamp.
    n_anomalies : int, default 6
        Number of injected anomalies (0 for a clean series).
    kinds : sequence of str, default ("spike", "level_shift", "dropout")
        Kinds to inject, used in turn.
    level, daily_amplitude, weekly_amplitude, noise : float
        Mean level, amplitudes of the daily and weekly cycles, noise standard deviation.
    anomaly_scale : float, default 1.0
        Multiplies the size of spikes and level shifts (smaller = harder to detect).
    warmup : float, default 0.15
        Fraction of the series, at its start, kept free of anomalies.
    name : str, default "synthetic"
        Name of the returned Dataset.
    return_kinds : bool, default False
        Also return the kind of each window.

    Returns
    -------
    data : Dataset
        One column ``"value"``, indexed by time.
    windows : list of (Timestamp, Timestamp)
        True anomaly windows, both ends inclusive, in time order.
    kinds : list of str
        Only with ``return_kinds=True``: the kind of each window.

    Raises
    ------
    ConfigurationError
        Invalid parameters, unknown kinds, or too many anomalies for ``n`` points.

    Examples
    --------
    >>> from anomark.datasets.synthetic import periodic_series
    >>> ds, windows = periodic_series(n=2000, seed=1)
    >>> len(ds), ds.columns, len(windows)
    (2000, ['value'], 6)
    >>> windows[0][0] <= windows[0][1]
    True
    """
    checked = validate_params(
        _PERIODIC_PARAMS,
        {"n": n, "n_anomalies": n_anomalies, "seed": seed, "level": level,
         "daily_amplitude": daily_amplitude, "weekly_amplitude": weekly_amplitude,
         "noise": noise, "anomaly_scale": anomaly_scale, "warmup": warmup},
        "periodic_series",
    )
    n, n_anomalies, seed = checked["n"], checked["n_anomalies"], checked["seed"]
    level, noise, warmup = checked["level"], checked["noise"], checked["warmup"]
    daily_amplitude, weekly_amplitude = checked["daily_amplitude"], checked["weekly_amplitude"]
    anomaly_scale = checked["anomaly_scale"]
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in kinds if k not in ANOMALY_KINDS]
    if not kinds or unknown:
        raise ConfigurationError(
            f"kinds must be a non-empty selection of {ANOMALY_KINDS}, got {kinds!r}"
        )

    index = _time_index(start, n, freq)
    rng = np.random.default_rng(seed)
    hours = (index - index[0]) / pd.Timedelta(hours=1)
    t = np.asarray(hours, dtype=np.float64)
    values = (
        level
        + daily_amplitude * np.sin(2 * np.pi * t / 24.0)
        + 0.3 * daily_amplitude * np.sin(4 * np.pi * t / 24.0 + 1.0)
        + weekly_amplitude * np.sin(2 * np.pi * t / (24.0 * 7))
        + noise * rng.standard_normal(n)
    )

    windows: list[Window] = []
    chosen: list[str] = []
    if n_anomalies:
        chosen = [kinds[i % len(kinds)] for i in range(n_anomalies)]
        lengths = np.array(
            [
                int(rng.integers(1, 4))
                if k == "spike"
                else max(6, n // 100)
                if k == "level_shift"
                else max(4, n // 200)
                for k in chosen
            ],
            dtype=np.int64,
        )
        starts = _place_segments(rng, n, lengths, round(warmup * n))
        for kind, s, length in zip(chosen, starts, lengths, strict=True):
            seg = slice(int(s), int(s + length))
            if kind == "spike":
                values[seg] += anomaly_scale * (
                    (8.0 + 4.0 * rng.random()) * max(noise, 0.05) + daily_amplitude
                )
            elif kind == "level_shift":
                sign = 1.0 if rng.random() < 0.5 else -1.0
                values[seg] += sign * anomaly_scale * 1.5 * max(daily_amplitude, noise * 5, 0.5)
            else:
                values[seg] = 0.0
            windows.append((index[int(s)], index[int(s + length - 1)]))

    ds = Dataset(pd.DataFrame({"value": values}, index=index), name=name)
    if return_kinds:
        return ds, windows, chosen
    return ds, windows


# ---------------------------------------------------------------------- multisensor
@overload
def multisensor(
    days: float = ...,
    freq: str | pd.Timedelta = ...,
    seed: int = ...,
    *,
    n_echo_bins: int = ...,
    n_adcp_depths: int = ...,
    n_hydrophone_bands: int = ...,
    n_events: int = ...,
    start: str | pd.Timestamp = ...,
    gaps: bool = ...,
    warmup: float = ...,
    name: str = ...,
    return_kinds: Literal[False] = ...,
) -> tuple[Dataset, list[Window]]: ...


@overload
def multisensor(
    days: float = ...,
    freq: str | pd.Timedelta = ...,
    seed: int = ...,
    *,
    n_echo_bins: int = ...,
    n_adcp_depths: int = ...,
    n_hydrophone_bands: int = ...,
    n_events: int = ...,
    start: str | pd.Timestamp = ...,
    gaps: bool = ...,
    warmup: float = ...,
    name: str = ...,
    return_kinds: Literal[True],
) -> tuple[Dataset, list[Window], list[str]]: ...


def multisensor(
    days: float = 2.0,
    freq: str | pd.Timedelta = "1min",
    seed: int = 0,
    *,
    n_echo_bins: int = 200,
    n_adcp_depths: int = 20,
    n_hydrophone_bands: int = 32,
    n_events: int = 4,
    start: str | pd.Timestamp = "2024-06-01",
    gaps: bool = True,
    warmup: float = 0.2,
    name: str = "multisensor",
    return_kinds: bool = False,
) -> tuple[Dataset, list[Window]] | tuple[Dataset, list[Window], list[str]]:
    """A multi-sensor ocean-observatory frame with injected events and their true windows.

    Columns are named ``"<sensor>.<column>"`` as :meth:`Dataset.from_sensors` names them:

    ``adcp.speed_<depth>m``, ``adcp.direction_<depth>m``
        Acoustic Doppler current profiler: tidal current speed (m/s, decaying with depth) and
        direction (degrees, 0-360) at ``n_adcp_depths`` depths.
    ``ek60.sv_<depth>m``
        Echosounder volume backscatter (dB) over ``n_echo_bins`` depth bins, with a diel
        vertically migrating scattering layer (shallow at night, deep by day).
    ``hydrophone.spl_<freq>hz``
        Sound pressure level (dB) in ``n_hydrophone_bands`` log-spaced frequency bands.
    ``ctd.temperature``, ``ctd.salinity``, ``ctd.pressure``, ``ctd.oxygen``
        Point sensors; with ``gaps=True`` they hold runs of NaN (instrument gaps), so call
        ``fillna``/``interpolate`` before detection.

    Injected events (cycling through :data:`MULTISENSOR_EVENT_KINDS`), each lasting 20-60
    minutes (scaled to ``freq``):

    ``"ship_passage"``
        Broadband noise rise on the hydrophone, strongest at low frequencies.
    ``"fish_school"``
        A strong backscatter patch over a band of echosounder depth bins.
    ``"current_surge"``
        Current speed doubles and direction swings at every depth.
    ``"sensor_fault"``
        The CTD temperature and oxygen stick at an offset value.

    Parameters
    ----------
    days : float, default 2.0
        Length of the record in days.
    freq : str or Timedelta, default "1min"
        Sampling interval.
    seed : int, default 0
        Seed; the same seed gives the same data and windows.
    n_echo_bins : int, default 200
        Echosounder depth bins (columns); scales to thousands (e.g. 1600).
    n_adcp_depths : int, default 20
        Current profiler depth cells (two columns each).
    n_hydrophone_bands : int, default 32
        Hydrophone spectrum bands.
    n_events : int, default 4
        Number of injected events.
    start : timestamp-like, default "2024-06-01"
        First timestamp.
    gaps : bool, default True
        Put runs of NaN in the point sensors.
    warmup : float, default 0.2
        Fraction at the start kept free of events.
    name : str, default "multisensor"
        Name of the returned Dataset.
    return_kinds : bool, default False
        Also return the kind of each window.

    Returns
    -------
    data : Dataset
        ``2 * n_adcp_depths + n_echo_bins + n_hydrophone_bands + 4`` columns.
    windows : list of (Timestamp, Timestamp)
        True event windows, both ends inclusive, in time order.
    kinds : list of str
        Only with ``return_kinds=True``.

    Examples
    --------
    >>> from anomark.datasets.synthetic import multisensor
    >>> ds, windows = multisensor(days=1, n_echo_bins=50, seed=3)
    >>> ds.shape, len(windows)
    ((1440, 126), 4)
    >>> ds.columns[0], ds.columns[-1]
    ('adcp.speed_5m', 'ctd.oxygen')
    """
    checked = validate_params(
        _MULTISENSOR_PARAMS,
        {"days": days, "seed": seed, "n_echo_bins": n_echo_bins, "n_adcp_depths": n_adcp_depths,
         "n_hydrophone_bands": n_hydrophone_bands, "n_events": n_events, "warmup": warmup},
        "multisensor",
    )
    days, seed, n_events, warmup = (checked[k] for k in ("days", "seed", "n_events", "warmup"))
    n_echo_bins, n_adcp_depths = checked["n_echo_bins"], checked["n_adcp_depths"]
    n_hydrophone_bands = checked["n_hydrophone_bands"]
    index = _time_index(start, 1, freq)
    step = _step(freq)
    n = int(pd.Timedelta(days=days) / step)
    if n < 10:
        raise ConfigurationError(f"days={days} at freq={freq!r} gives only {n} rows (need 10+)")
    index = _time_index(start, n, freq)
    rng = np.random.default_rng(seed)
    hours = np.asarray((index - index[0]) / pd.Timedelta(hours=1), dtype=np.float64)
    clock = np.asarray(index.hour + index.minute / 60.0, dtype=np.float64)  # local time of day

    # --- ADCP: tidal current, decaying with depth, direction flips between ebb and flood.
    adcp_depth = 5.0 + 5.0 * np.arange(n_adcp_depths)
    tide = np.sin(2 * np.pi * hours / _M2_HOURS)
    decay = np.exp(-adcp_depth / 120.0)
    speed = 0.05 + 0.4 * np.abs(tide)[:, None] * decay[None, :]
    speed = speed + 0.02 * rng.standard_normal((n, n_adcp_depths))
    speed = np.abs(speed)
    direction = np.where(tide >= 0, 45.0, 225.0)[:, None] + 8.0 * rng.standard_normal(
        (n, n_adcp_depths)
    )
    direction = direction + 0.05 * adcp_depth[None, :]

    # --- EK60 echogram: background decreasing with depth + diel migrating layer.
    echo_depth = np.linspace(2.0, 2.0 + 0.5 * (n_echo_bins - 1), n_echo_bins)
    depth_span = max(float(echo_depth[-1] - echo_depth[0]), 1.0)
    background = -70.0 - 20.0 * (echo_depth - echo_depth[0]) / depth_span
    night = 0.5 * (1.0 + np.cos(2 * np.pi * (clock - 0.0) / 24.0))  # 1 at midnight, 0 at noon
    layer_centre = echo_depth[0] + depth_span * (0.7 - 0.5 * night)
    layer_width = 0.06 * depth_span + 1.0
    layer = 15.0 * np.exp(
        -0.5 * ((echo_depth[None, :] - layer_centre[:, None]) / layer_width) ** 2
    )
    echo = background[None, :] + layer + 1.5 * rng.standard_normal((n, n_echo_bins))

    # --- Hydrophone: 1/f-like spectrum + slow ambient variation.
    band_freq = np.geomspace(10.0, 20000.0, n_hydrophone_bands)
    spectrum = 95.0 - 10.0 * np.log10(band_freq)
    ambient = 3.0 * np.sin(2 * np.pi * hours / 24.0 + 0.5)
    hydro = spectrum[None, :] + ambient[:, None] + 2.0 * rng.standard_normal(
        (n, n_hydrophone_bands)
    )

    # --- CTD point sensors.
    ctd = np.column_stack(
        [
            12.0 + 0.8 * np.sin(2 * np.pi * (clock - 15.0) / 24.0) + 0.3 * tide
            + 0.05 * rng.standard_normal(n),
            35.0 + 0.1 * tide + 0.01 * rng.standard_normal(n),
            100.0 + 1.5 * tide + 0.02 * rng.standard_normal(n),
            6.5 + 0.4 * np.sin(2 * np.pi * (clock - 14.0) / 24.0) + 0.05 * rng.standard_normal(n),
        ]
    )

    # --- events
    windows: list[Window] = []
    chosen: list[str] = []
    if n_events:
        n_kinds = len(MULTISENSOR_EVENT_KINDS)
        chosen = [MULTISENSOR_EVENT_KINDS[i % n_kinds] for i in range(n_events)]
        minutes = rng.integers(20, 61, size=n_events)
        lengths = np.maximum(2, (minutes * 60.0 / step.total_seconds()).astype(np.int64))
        starts = _place_segments(rng, n, np.asarray(lengths), round(warmup * n))
        for kind, s, length in zip(chosen, starts, lengths, strict=True):
            s, length = int(s), int(length)
            seg = slice(s, s + length)
            ramp = np.sin(np.linspace(0.0, np.pi, length))[:, None]  # smooth rise and fall
            if kind == "ship_passage":
                boost = 25.0 * np.exp(-np.log10(band_freq / 10.0) / 2.0)
                hydro[seg] += 0.4 * boost[None, :] + 0.6 * ramp * boost[None, :]
            elif kind == "fish_school":
                centre = rng.uniform(0.2, 0.8) * n_echo_bins
                width = max(2.0, 0.05 * n_echo_bins)
                patch = 25.0 * np.exp(-0.5 * ((np.arange(n_echo_bins) - centre) / width) ** 2)
                echo[seg] += (0.5 + 0.5 * ramp) * patch[None, :]
            elif kind == "current_surge":
                speed[seg] = speed[seg] * 2.0 + 0.3 * (0.5 + 0.5 * ramp)
                direction[seg] += 90.0
            else:  # sensor_fault: stuck readings
                ctd[seg, 0] = ctd[s, 0] + 3.0
                ctd[seg, 3] = ctd[s, 3] - 2.5
            windows.append((index[s], index[s + length - 1]))
    direction = np.mod(direction, 360.0)

    if gaps:
        # instrument gaps: a few runs of 5-60 rows per point sensor, outside the event windows
        free = np.ones(n, dtype=bool)
        for s, e in windows:
            free[int(index.searchsorted(s)) : int(index.searchsorted(e)) + 1] = False
        n_gaps = max(1, int(days * 2))
        for j in range(ctd.shape[1]):
            for _ in range(n_gaps):
                length = int(rng.integers(5, 61))
                s = int(rng.integers(0, max(1, n - length)))
                if free[s : s + length].all():
                    ctd[s : s + length, j] = np.nan

    columns = (
        [f"adcp.speed_{d:g}m" for d in adcp_depth]
        + [f"adcp.direction_{d:g}m" for d in adcp_depth]
        + [f"ek60.sv_{d:g}m" for d in echo_depth]
        + [f"hydrophone.spl_{f:.0f}hz" for f in band_freq]
        + ["ctd.temperature", "ctd.salinity", "ctd.pressure", "ctd.oxygen"]
    )
    if len(set(columns)) != len(columns):  # pragma: no cover - depth/band labels collide
        raise DataError("generated duplicate column names; change the bin counts")
    values = np.concatenate([speed, direction, echo, hydro, ctd], axis=1)
    frame = pd.DataFrame(values, index=index, columns=columns)
    ds = Dataset(frame, name=name)
    if return_kinds:
        return ds, windows, chosen
    return ds, windows


def write_daily_csvs(
    folder: str | os.PathLike[str],
    data: Dataset | None = None,
    *,
    float_format: str = "%.6g",
    overwrite: bool = False,
    **multisensor_kwargs: object,
) -> dict[str, str]:
    """Write a multi-sensor Dataset as one CSV per sensor per day.

    Files are named ``<folder>/<sensor>_<YYYY-MM-DD>.csv``; each has a ``timestamp`` column
    followed by that sensor's columns without the ``"<sensor>."`` prefix (empty cells for NaN).
    This is the layout of the multi-sensor use case, read back with::

        Dataset.from_sensors(write_daily_csvs("raw/", data))

    Parameters
    ----------
    folder : str or path
        Destination folder (created when missing).
    data : Dataset, optional
        Columns named ``"<sensor>.<column>"``; by default ``multisensor(**multisensor_kwargs)``.
    float_format : str, default "%.6g"
        Number format (6 significant digits keeps files small).
    overwrite : bool, default False
        Replace existing files; otherwise an existing file is an error.
    **multisensor_kwargs
        Passed to :func:`multisensor` when ``data`` is omitted.

    Returns
    -------
    dict of str to str
        Sensor name → glob pattern of its files (for :meth:`Dataset.from_sensors`).

    Raises
    ------
    DataError
        A column without a ``"<sensor>."`` prefix, no time index, or a file already exists.

    Examples
    --------
    >>> import tempfile
    >>> from anomark import Dataset
    >>> from anomark.datasets.synthetic import multisensor, write_daily_csvs
    >>> data, windows = multisensor(days=2, n_echo_bins=20, seed=0)
    >>> patterns = write_daily_csvs(tempfile.mkdtemp(), data)
    >>> sorted(patterns)
    ['adcp', 'ctd', 'ek60', 'hydrophone']
    >>> Dataset.from_sensors(patterns).shape == data.shape
    True
    """
    if data is None:
        data = multisensor(**multisensor_kwargs)[0]  # type: ignore[call-overload]
    elif multisensor_kwargs:
        raise ConfigurationError("pass either data or multisensor keyword arguments, not both")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a Dataset, got {type(data).__name__}")
    if not data.is_time_indexed:
        raise DataError("write_daily_csvs needs a time-indexed Dataset")
    unprefixed = [c for c in data.columns if "." not in c]
    if unprefixed:
        raise DataError(f"columns must be named '<sensor>.<column>', got {unprefixed[:5]}")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    frame = data.frame
    sensors: dict[str, list[str]] = {}
    for col in frame.columns:
        sensors.setdefault(col.split(".", 1)[0], []).append(col)
    days = pd.DatetimeIndex(frame.index).normalize()
    day_labels = pd.unique(days)
    planned = [
        out / f"{sensor}_{pd.Timestamp(day):%Y-%m-%d}.csv"
        for sensor in sensors
        for day in day_labels
    ]
    existing = [p for p in planned if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{existing[0]} already exists (pass overwrite=True to replace it)")
    values = frame.to_numpy()
    stamps = np.array(list(pd.DatetimeIndex(frame.index).strftime("%Y-%m-%d %H:%M:%S")))
    for sensor, cols in sensors.items():
        header = ",".join(["timestamp", *(c.split(".", 1)[1] for c in cols)])
        col_idx = frame.columns.get_indexer(pd.Index(cols))
        for day in day_labels:
            rows = np.flatnonzero(days == day)
            text = _format_rows(stamps[rows], values[np.ix_(rows, col_idx)], float_format)
            path = out / f"{sensor}_{pd.Timestamp(day):%Y-%m-%d}.csv"
            path.write_text(f"{header}\n{text}", encoding="utf-8")
    return {sensor: str(out / f"{sensor}_*.csv") for sensor in sensors}


def _format_rows(stamps: np.ndarray, values: np.ndarray, float_format: str) -> str:
    """CSV body: timestamp then the values, NaN as an empty cell (numpy.savetxt is fast)."""
    buffer = io.StringIO()
    try:
        np.savetxt(buffer, values, fmt=float_format, delimiter=",")
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"invalid float_format {float_format!r}: {exc}") from None
    lines = buffer.getvalue().replace(",nan", ",").splitlines()
    # a NaN in the first column has no comma before it
    lines = [line[3:] if line.startswith("nan") else line for line in lines]
    return "".join(f"{t},{line}\n" for t, line in zip(stamps, lines, strict=True))
