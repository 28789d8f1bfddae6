"""The :class:`SeasonalResidual` stage: a causal, stateful, saveable stream transform."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from anomark._validation import Constraint, Duration, Interval, Options, validate_params
from anomark.dataset import DataLike, Dataset
from anomark.errors import ConfigurationError, DataError, NotFittedError, PersistenceError
from anomark.seasonal._period import (
    DEFAULT_CANDIDATES,
    MIN_CYCLES,
    SUFFIX,
    _duration_text,
    _format_duration,
    _period_rows,
    choose_period,
    residuals,
)

__all__ = ["DEFAULT_SEASONAL", "SeasonalResidual", "parse_seasonal"]

#: The stage (text form, :func:`parse_seasonal`) that ``anomark detect`` and the NAB benchmark
#: give the detectors that take one when none is asked for (see docs/seasonality.md for the
#: corpus runs with and without it).
DEFAULT_SEASONAL = "auto"
#: ``n_periods`` by default; the text form names it only when it differs.
_N_PERIODS = 4


class SeasonalResidual(BaseEstimator):  # type: ignore[misc]
    """Append ``<column>.seasonal_residual``: each value minus the median of the same slot
    over the previous ``n_periods`` periods (causal; see the module docs).

    Each residual depends on its row and the rows before it (given the period); a stream
    started with :meth:`update` also chooses its periods from earlier rows only.

    Parameters
    ----------
    period : "auto", duration, int or None, default "auto"
        ``"auto"``: per column, one day or one week of samples, as the data shows (see the
        module docs), else none (the residual stays 0). A duration (``"7D"``,
        ``pd.Timedelta(days=1)``): that period for every column, in rows at the median
        sampling interval. An int: that many rows. ``None``: no residual columns (the data
        passes through).
    n_periods : int, default 4
        Earlier periods whose median is the baseline (``K``).

    Attributes
    ----------
    columns_ : list of str
        The input columns.
    periods_ : list of int or None
        Rows per period each column uses now (``None``: none chosen (yet); the residual is
        0).
    step_ : pandas.Timedelta or None
        The sampling interval the periods were converted with (median spacing).
    decisions_ : list of dict
        With ``period="auto"``: every choice so far (``row``: rows it was made on,
        ``column``, ``autocorrelations`` of the candidates judged, chosen ``period`` in
        rows).
    n_seen_ : int
        Rows of the stream so far.

    Notes
    -----
    Two ways to start, as a detector uses them: :meth:`fit` (a batch ``fit``) decides with
    all the rows it is given, as a model learns from all of them; :meth:`update` on a fresh
    stage (a stream started cold) decides only from the rows before, as they arrive (three
    days, then three weeks into the stream), so that no output depends on a later row and
    any chunking gives the same output. Lags count rows: the series should be regularly
    sampled (``Dataset.resample`` first otherwise). While a decision is pending the stage
    keeps every row (at most three weeks of them), then ``n_periods`` periods. Data without
    timestamps has no calendar: ``"auto"`` adds no column there (give the period in rows).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=24 * 7 * 4, freq="h")
    >>> x = pd.DataFrame({"v": np.sin(2 * np.pi * np.arange(len(idx)) / 24)}, index=idx)
    >>> batch = SeasonalResidual(n_periods=2)
    >>> out = batch.fit_transform(x)                 # decides with all 672 rows
    >>> out.columns, batch.periods_
    (['v', 'v.seasonal_residual'], [24])
    >>> bool(abs(out.frame["v.seasonal_residual"].iloc[24:]).max() < 1e-9)
    True
    >>> stream = SeasonalResidual(n_periods=2)
    >>> _ = stream.update(x.iloc[:100]); _ = stream.update(x.iloc[100:])
    >>> [d["row"] for d in stream.decisions_]       # after three days, after three weeks
    [72, 504]
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {
        "period": [Options("auto"), Interval(int, 2, None), Duration(), None],
        "n_periods": [Interval(int, 1, 10_000)],
    }

    step_: pd.Timedelta | None
    start_ns_: int | None
    decided_ns_: int | None
    decisions_: list[dict[str, Any]]
    last_time_: pd.Timestamp | None

    def __init__(self, period: Any = "auto", n_periods: int = _N_PERIODS) -> None:
        self.period = period
        self.n_periods = n_periods

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        validate_params(self._parameter_constraints, self.get_params(deep=False),
                        type(self).__name__)

    def _check_fitted(self) -> None:
        if not hasattr(self, "periods_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first."
            )

    @property
    def output_columns_(self) -> list[str]:
        """The residual columns it appends, in order (one per input column, or none)."""
        self._check_fitted()
        return [c + SUFFIX for c in self.columns_] if self.active_ else []

    @property
    def n_added_(self) -> int:
        """How many residual columns it appends."""
        return len(self.output_columns_)

    def _events(self) -> list[tuple[int, str]]:
        """What the stream still waits for, as ``(time in ns, kind)``: ``"auto"``'s
        decisions once it spans three periods of a candidate, and a duration period's row
        count once it spans one period (then the sampling interval is known)."""
        if not self.active_ or self.start_ns_ is None:
            return []
        if self.period == "auto":
            done = self.decided_ns_
            times = sorted(self.start_ns_ + MIN_CYCLES * c.value for c in DEFAULT_CANDIDATES)
            return [(t, "decide") for t in times if done is None or t > done]
        if isinstance(self.period, int | np.integer) or any(self.periods_):
            return []
        return [(self.start_ns_ + Duration._parse(self.period).value, "step")]

    def _keep(self) -> int | None:
        """Rows of history to keep: every row while an event is pending (``None``), then
        ``n_periods`` times the longest period."""
        if self._events():
            return None
        return int(self.n_periods) * max((p for p in self.periods_ if p), default=0)

    def describe(self) -> str:
        """One line for reports: the period of each column now, and why."""
        self._check_fitted()
        if not self.active_:
            why = "period=None" if self.period is None else "no timestamps"
            return f"no seasonal residual ({why})"
        parts = []
        for j, col in enumerate(self.columns_):
            p = self.periods_[j]
            text = "no period" if p is None else self._rows_text(p)
            last = next((d for d in reversed(self.decisions_) if d["column"] == col), None)
            if last is not None:
                acf = ", ".join(
                    f"{k} {'-' if v is None else f'{v:.2f}'}"
                    for k, v in last["autocorrelations"].items()
                )
                text += f" (seasonal autocorrelation {acf}; chosen on {last['row']} rows)"
            parts.append(f"{col}: {text}")
        # with no period chosen the residual columns are 0: no median is taken (yet)
        tail = (f"; median of the last {int(self.n_periods)} periods" if any(self.periods_)
                else "; residual 0 (no period chosen)")
        events = self._events()
        if events and self.start_ns_ is not None:
            span = _format_duration(pd.Timedelta(events[0][0] - self.start_ns_, unit="ns"))
            what = "period decision" if events[0][1] == "decide" else "period in rows"
            tail += f"; next {what} when the stream spans {span}"
        return "; ".join(parts) + tail

    def _rows_text(self, rows: int) -> str:
        if self.step_ is None:
            return f"{rows} rows"
        return f"{_format_duration(self.step_ * rows)} ({rows} rows)"

    # ------------------------------------------------------------------ fitting
    def fit(self, data: DataLike, y: Any = None) -> SeasonalResidual:
        """Choose the periods on all of ``data`` and start the stream with its rows (see
        :meth:`fit_transform`).

        Returns
        -------
        self
        """
        self._fit(data)
        return self

    def fit_transform(self, data: DataLike, y: Any = None) -> Dataset:
        """Choose the periods on all of ``data``; return its rows with their residuals.

        What a batch detector's ``fit`` does: the sampling interval is the median spacing
        of all the rows, ``"auto"`` decides with all of them (the rule of
        :func:`infer_period`, among the candidates ``data`` holds three periods of), and the
        residuals use those periods from the first row on (``0`` before the first whole
        period). A candidate too long for ``data`` is decided later, by :meth:`update`, once
        the stream spans three of its periods. To decide only as the rows arrive (what a
        stream does), start with :meth:`update` instead.

        Raises
        ------
        ConfigurationError
            A parameter out of range.
        DataError
            NaN/inf values; a duration without timestamps or shorter than 2 rows; a residual
            column name that is already a column.
        """
        return self._fit(data)

    def _fit(self, data: DataLike) -> Dataset:
        ds = self._begin(data)
        if ds.is_time_indexed and len(ds) >= 2:
            self.step_ = ds.infer_freq()
            times = _ns(ds.index)
            if self.period == "auto" and self.active_:
                self._decide(ds.values, times)
                if self.decisions_:
                    self.decided_ns_ = int(times[-1])
            elif self._events():  # a duration: its rows at this interval
                self._resolve_step(times)
        return self._advance(ds, decide=False)

    def _begin(self, data: DataLike) -> Dataset:
        """Check the parameters and the first rows; start an empty stream."""
        self._check_params()
        ds = Dataset.from_any(data)
        ds.check_finite("fitting")
        if len(ds) < 1:
            raise DataError("SeasonalResidual needs at least one row to fit")
        columns = ds.columns
        timed = ds.is_time_indexed
        period = self.period
        periods: list[int | None] = [None] * len(columns)
        active = period is not None
        if period == "auto" and not timed:
            active = False
            warnings.warn(
                "SeasonalResidual(period='auto'): the data has no timestamps, so no daily or "
                "weekly period; no seasonal residual is added (give the period in rows)",
                UserWarning, stacklevel=4,
            )
        elif isinstance(period, int | np.integer):
            periods = [int(period)] * len(columns)
        elif period not in (None, "auto") and not timed:
            raise DataError(
                f"SeasonalResidual(period={period!r}): a duration needs time-indexed data; "
                "give the period in rows (an int) for data without timestamps"
            )
        if active:
            for col in columns:
                if col + SUFFIX in columns:
                    raise DataError(
                        f"SeasonalResidual: the data already has a column {col + SUFFIX!r}; "
                        "rename it, or do not add a seasonal residual twice"
                    )
        self.columns_ = list(columns)
        self.periods_ = periods
        self.active_ = active
        self.step_ = None
        self.start_ns_ = int(_ns(ds.index)[0]) if timed else None
        self.decided_ns_ = None
        self.decisions_ = []
        self.n_seen_ = 0
        self.history_ = np.empty((0, len(columns)))
        self.times_ = np.empty(0, dtype=np.int64)
        self.last_time_ = None
        return ds

    # ------------------------------------------------------------------ residuals
    def transform(self, data: DataLike) -> Dataset:
        """The data with its residual columns appended; the state is not changed.

        Rows that continue the stream (timestamps starting after the last row seen, within
        one and a half sampling intervals) continue it, as :meth:`update` would; any other
        data is taken on its own, from its first row, with the periods chosen so far.

        Raises
        ------
        NotFittedError, DataError
            Not fitted; another number of columns than fitted; NaN/inf values.
        """
        self._check_fitted()
        ds = self._check_data(data, "transform")
        other = copy.deepcopy(self)
        if self._continues(ds):
            return other._advance(ds)
        other.n_seen_, other.history_ = 0, self.history_[:0]
        other.times_ = self.times_[:0]
        return other._advance(ds, decide=False)

    def update(self, data: DataLike) -> Dataset:
        """The data with its residual columns, continuing the stream; the state advances.

        On a stage that was never fitted, ``update`` starts the stream with these rows, and
        everything is decided as the rows arrive, from the rows before: ``"auto"``'s period
        once the stream spans three days and again at three weeks, a duration's number of
        rows once it spans one period (both at the median spacing of the rows so far). So no
        output depends on a later row, and ``update(a)`` then ``update(b)`` returns what
        ``update(a + b)`` returns, bit for bit.

        Raises
        ------
        ConfigurationError, DataError
            As :meth:`fit_transform`; another number of columns than before; a duration
            shorter than 2 rows at the stream's interval (the state is left unchanged).
        """
        if not hasattr(self, "periods_"):
            return self._advance(self._begin(data))
        ds = self._check_data(data, "update")
        return self._advance(ds)

    def _check_data(self, data: DataLike, what: str) -> Dataset:
        ds = Dataset.from_any(data)
        ds.check_finite("transforming" if what == "transform" else "updating")
        if ds.n_features != len(self.columns_):
            raise DataError(
                f"SeasonalResidual.{what}: data has {ds.n_features} column(s), it was fitted "
                f"on {len(self.columns_)} ({self.columns_})"
            )
        return ds

    def _continues(self, ds: Dataset) -> bool:
        last = self.last_time_
        if last is None or not self.n_seen_ or not len(ds) or not ds.is_time_indexed:
            return False
        try:
            gap = ds.index[0] - last
        except TypeError:  # naive vs aware timestamps: not the same stream
            return False
        limit = 1.5 * self.step_ if self.step_ is not None else None
        return bool(gap > pd.Timedelta(0) and (limit is None or gap <= limit))

    def _advance(self, ds: Dataset, *, decide: bool = True) -> Dataset:
        """Residuals of the rows of ``ds`` that continue the stream; the state advances
        (or, on an error, stays as it was). ``decide=False``: no event these rows reach is
        handled (``fit`` has decided with them, ``transform`` keeps the periods)."""
        saved = dict(self.__dict__)
        try:
            return self._advance_rows(ds, decide)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _advance_rows(self, ds: Dataset, decide: bool) -> Dataset:
        values = ds.values
        n = len(values)
        timed = ds.is_time_indexed and self.start_ns_ is not None
        times = _ns(ds.index) if timed else None
        out = np.zeros((n, len(self.columns_))) if self.active_ else None
        cuts: list[tuple[int, str, int]] = []  # (row of ds, kind, event time)
        if decide and times is not None:
            for when, kind in self._events():
                i = int(np.searchsorted(times, when, side="left"))
                if i < n:
                    cuts.append((i, kind, when))
        a = 0
        for b, kind, when in [*cuts, (n, "", 0)]:
            if out is not None and b > a:
                history = self.history_ if not a else np.concatenate([self.history_, values[:a]])
                for j, p in enumerate(self.periods_):
                    if p:
                        out[a:b, j] = residuals(history[:, j], values[a:b, j], int(p),
                                                int(self.n_periods))
            if kind:  # every row so far is kept while an event is pending
                assert times is not None
                seen_times = np.concatenate([self.times_, times[:b]])
                if kind == "decide":
                    self._decide(np.concatenate([self.history_, values[:b]]), seen_times)
                    self.decided_ns_ = when
                else:
                    self._resolve_step(seen_times)
            a = b
        keep = self._keep()
        joined = np.concatenate([self.history_, values]) if len(self.history_) else values
        self.history_ = np.ascontiguousarray(
            joined if keep is None else joined[max(len(joined) - keep, 0) :]
        ).reshape(-1, len(self.columns_))
        if keep is None and times is not None:
            self.times_ = np.concatenate([self.times_, times])
        else:
            self.times_ = np.empty(0, dtype=np.int64)
        self.n_seen_ = int(self.n_seen_) + n
        if n and ds.is_time_indexed:
            self.last_time_ = pd.Timestamp(ds.index[-1])
        if out is None:
            return ds
        frame = ds.frame.copy()
        for j, col in enumerate(ds.columns):
            frame[col + SUFFIX] = out[:, j]
        return Dataset(frame, name=ds.name)

    def _interval(self, times: np.ndarray) -> pd.Timedelta | None:
        """Median spacing of the timestamps (ns) seen, ``None`` with fewer than two."""
        if len(times) < 2:
            return None
        step = pd.Timedelta(int(np.median(np.diff(times))), unit="ns")
        return step if step > pd.Timedelta(0) else None

    def _decide(self, seen: np.ndarray, times: np.ndarray) -> None:
        """``"auto"``'s choice from every row seen so far (``seen``, at ``times``)."""
        step = self._interval(times)
        if step is None:
            return
        self.step_ = step
        for j, col in enumerate(self.columns_):
            best, acf = choose_period(seen[:, j], step)
            self.periods_[j] = None if best is None else best[1]
            if acf:  # some candidate could be judged
                self.decisions_.append({"row": len(seen), "column": col,
                                        "autocorrelations": acf, "period": self.periods_[j]})

    def _resolve_step(self, times: np.ndarray) -> None:
        """A duration period in rows, at the median spacing of the rows seen so far."""
        step = self._interval(times)
        if step is None:
            return
        rows = _period_rows(Duration._parse(self.period), step)
        if rows is None:
            raise DataError(
                f"SeasonalResidual(period={self.period!r}) is less than 2 rows at the data's "
                f"sampling interval of {step}"
            )
        self.step_ = step
        self.periods_ = [rows] * len(self.columns_)

    # ------------------------------------------------------------------ state
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The fitted state as JSON-compatible values and arrays (no pickle)."""
        self._check_fitted()
        last = None if self.last_time_ is None else self.last_time_.isoformat()
        scalars = {
            "columns": list(self.columns_),
            "periods": [None if p is None else int(p) for p in self.periods_],
            "active": bool(self.active_),
            "step_ns": None if self.step_ is None else int(self.step_.value),
            "start_ns": self.start_ns_,
            "decided_ns": self.decided_ns_,
            "n_seen": int(self.n_seen_),
            "last_time": last,
            "decisions": copy.deepcopy(self.decisions_),
        }
        arrays = {"history": np.asarray(self.history_, dtype=np.float64),
                  "times": np.asarray(self.times_, dtype=np.int64)}
        return scalars, arrays

    def set_state(self, scalars: Any, arrays: dict[str, np.ndarray]) -> SeasonalResidual:
        """Restore a state written by :meth:`get_state`; returns ``self``.

        Raises
        ------
        PersistenceError
            Unknown or missing keys, values of the wrong type or shape.
        """
        name = type(self).__name__
        try:
            self._check_params()
        except ConfigurationError as exc:
            raise PersistenceError(f"{name}: {exc}") from None
        keys = {"columns", "periods", "active", "step_ns", "start_ns", "decided_ns", "n_seen",
                "last_time", "decisions"}
        if not isinstance(scalars, dict) or set(scalars) != keys:
            got = sorted(scalars) if isinstance(scalars, dict) else type(scalars).__name__
            raise PersistenceError(f"{name} state must have keys {sorted(keys)}, got {got}")
        if set(arrays) != {"history", "times"}:
            raise PersistenceError(
                f"{name} state: expected the arrays 'history' and 'times', got {sorted(arrays)}"
            )
        columns, periods = scalars["columns"], scalars["periods"]
        if not (isinstance(columns, list) and columns and all(isinstance(c, str) for c in columns)):
            raise PersistenceError(f"{name} state: columns must be a list of names")
        if not (isinstance(periods, list) and len(periods) == len(columns) and all(
            p is None or (_is_count(p) and p >= 2) for p in periods
        )):
            raise PersistenceError(
                f"{name} state: periods must list one row count >= 2 (or null) per column"
            )
        active, step, n_seen = scalars["active"], scalars["step_ns"], scalars["n_seen"]
        if not isinstance(active, bool):
            raise PersistenceError(f"{name} state: active must be true or false")
        if step is not None and not (_is_count(step) and step > 0):
            raise PersistenceError(f"{name} state: step_ns must be a positive integer or null")
        for key in ("start_ns", "decided_ns"):
            value = scalars[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise PersistenceError(f"{name} state: {key} must be an integer or null")
        if not _is_count(n_seen):
            raise PersistenceError(f"{name} state: n_seen must be an integer >= 0")
        last = scalars["last_time"]
        try:
            last_time = None if last is None else pd.Timestamp(last)
        except (ValueError, TypeError):
            raise PersistenceError(f"{name} state: last_time {last!r} is not a time") from None
        if last_time is pd.NaT:
            raise PersistenceError(f"{name} state: last_time must be a time or null")
        decisions = scalars["decisions"]
        if not isinstance(decisions, list) or not all(_is_decision(d) for d in decisions):
            raise PersistenceError(
                f"{name} state: decisions must be a list of {{row, column, autocorrelations, "
                "period}}"
            )
        self.columns_, self.periods_, self.active_ = list(columns), list(periods), active
        self.step_ = None if step is None else pd.Timedelta(step, unit="ns")
        self.start_ns_, self.decided_ns_ = scalars["start_ns"], scalars["decided_ns"]
        self.n_seen_ = n_seen
        self.decisions_ = copy.deepcopy(decisions)
        keep = self._keep()
        history, times = np.asarray(arrays["history"]), np.asarray(arrays["times"])
        rows = n_seen if keep is None else min(keep, n_seen)
        expected_times = (n_seen if keep is None and self.start_ns_ is not None else 0,)
        problem = None
        if (history.dtype.kind != "f" or history.shape != (rows, len(columns))
                or not np.isfinite(history).all()):
            problem = (f"history must be finite floats of shape {(rows, len(columns))}, got "
                       f"{history.dtype} {history.shape}")
        elif times.dtype.kind != "i" or times.shape != expected_times:
            problem = f"times must be integers of shape {expected_times}, got {times.shape}"
        if problem is not None:
            del self.periods_
            raise PersistenceError(f"{name} state: {problem}")
        self.last_time_ = last_time
        self.history_ = np.ascontiguousarray(history, dtype=np.float64)
        self.times_ = np.ascontiguousarray(times, dtype=np.int64)
        return self

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, SeasonalResidual)
        a, b = self.period, other.period
        da, db = Duration._parse(a), Duration._parse(b)
        if da is not None and db is not None:
            same = da == db and type(a) is type(b)
        else:
            same = type(a) is type(b) and a == b
        return bool(same and self.n_periods == other.n_periods)

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ text form
    def to_text(self) -> str:
        """``auto``, ``none``, a duration (``7D``), or rows (``336``); ``:K`` when
        ``n_periods`` is not 4. :func:`parse_seasonal` reads it back."""
        p = self.period
        if p is None:
            text = "none"
        elif isinstance(p, str):
            text = p
        elif isinstance(p, int | np.integer):
            text = str(int(p))
        else:
            text = _duration_text(pd.Timedelta(p))
        return text if self.n_periods == _N_PERIODS else f"{text}:{int(self.n_periods)}"

    def to_dict(self) -> dict[str, Any]:
        """The parameters as JSON (a Timedelta keeps its type)."""
        p = self.period
        if p is not None and not isinstance(p, str | int | np.integer):
            p = {"timedelta": _duration_text(pd.Timedelta(p))}
        elif isinstance(p, np.integer):
            p = int(p)
        return {"period": p, "n_periods": self.n_periods}

    @classmethod
    def from_dict(cls, data: Any) -> SeasonalResidual:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, dict) or set(data) != {"period", "n_periods"}:
            raise ValueError(f"a SeasonalResidual is saved as {{period, n_periods}}, got {data!r}")
        p = data["period"]
        if isinstance(p, dict):
            if set(p) != {"timedelta"} or not isinstance(p["timedelta"], str):
                raise ValueError(f"bad seasonal period {p!r}")
            p = pd.Timedelta(p["timedelta"])
        out = cls(period=p, n_periods=data["n_periods"])
        out._check_params()
        return out


def _ns(index: pd.Index) -> np.ndarray:
    """Timestamps as int64 nanoseconds (UTC for time-zone aware ones)."""
    return np.asarray(pd.DatetimeIndex(index).as_unit("ns").asi8, dtype=np.int64)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_decision(d: Any) -> bool:
    return (
        isinstance(d, dict) and set(d) == {"row", "column", "autocorrelations", "period"}
        and _is_count(d["row"]) and isinstance(d["column"], str)
        and (d["period"] is None or (_is_count(d["period"]) and d["period"] >= 2))
        and isinstance(d["autocorrelations"], dict)
        and all(isinstance(k, str) and (v is None or (isinstance(v, int | float)
                and not isinstance(v, bool) and math.isfinite(v)))
                for k, v in d["autocorrelations"].items())
    )


def parse_seasonal(text: str) -> SeasonalResidual | None:
    """The stage a text names: ``auto``, ``none`` (``None``), a duration (``7D``, ``1w``,
    ``24h``) or a number of rows (``336``), optionally ``:K`` for ``n_periods``.

    Raises
    ------
    ConfigurationError
        Anything else, naming the text.
    """
    if not isinstance(text, str):
        raise ConfigurationError(f"a seasonal setting is text, got {text!r}")
    head, sep, tail = text.strip().partition(":")
    head = head.strip()
    k: Any = _N_PERIODS
    if sep:
        try:
            k = int(tail)
        except ValueError:
            raise ConfigurationError(
                f"seasonal {text!r}: the number of periods after ':' must be an integer"
            ) from None
    if head.lower() == "none":
        if sep:
            raise ConfigurationError(f"seasonal {text!r}: 'none' takes no number of periods")
        return None
    period: Any
    if head.lower() == "auto":
        period = "auto"
    elif head.isdigit():
        period = int(head)
    else:
        period = head
    stage = SeasonalResidual(period=period, n_periods=k)
    try:
        stage._check_params()
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"seasonal {text!r}: expected auto, none, a duration such as 7D or 24h, or a number "
            f"of rows (>= 2), optionally followed by ':K' periods ({exc})"
        ) from None
    return stage


