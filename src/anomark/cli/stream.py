"""``anomark stream CSV|-``: online detection of CSV rows as they arrive (Random Cut Forest).

Rows are read from a file or standard input as they come (``tail -f data.csv | anomark stream
-`` works): every row is scored against the detector's forest, then learned
(:meth:`~anomark.RCFDetector.detect_update`), and one line is printed per row (or per alert with
``--alerts-only``). With ``--state DIR`` the detector is saved every ``--checkpoint-every`` rows,
at the end and on Ctrl-C, and a restart resumes from it: the rows it already learned (up to its
last timestamp) are skipped, not rescored. Rows that cannot be used (unparsable, wrong number of
columns, time not after the previous row) are reported with their line number on stderr and
skipped or stop the stream (``--on-bad-row``), never silently.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import signal
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from anomark.cli._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    Formatter,
    check_targets,
    say,
    warn,
)
from anomark.errors import ConfigurationError, DataError

__all__ = ["register", "run"]

EPILOG = """\
output (stdout, CSV): time,score,threshold,flag,located_at
  score      the row's RCF score (0 while the forest warms up: output_after shingles)
  threshold  the online threshold it was compared with (empty while it warms up: the
             first output_after scores for mean_std, the first 1000 for spot)
  flag       1 when score > threshold
  located_at for a flagged row, where its anomalous values entered (from the attribution of
             the score over the shingle's rows)

examples:
  anomark stream data.csv --state taxi-state/ --alerts-only
  tail -n +1 -f data.csv | anomark stream - --state taxi-state/ --checkpoint-every 500
  anomark stream data.csv --window-size 48 --param time_decay=0.001 --on-bad-row skip
"""
#: ISO 8601 times (year first, so no day/month question), read without pandas' format
#: inference, which costs about 0.2-0.5 ms a row: half the time of a stream replayed from a file
_ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:\d{2})?"
)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``stream`` parser to the ``anomark`` subparsers."""
    p = sub.add_parser(
        "stream", parents=[common], formatter_class=Formatter,
        help="score CSV rows as they arrive, learning as it goes (online RCF)",
        description=textwrap.dedent("""\
            Read CSV rows from a file or standard input ('-') as they arrive, score each with
            an online Random Cut Forest (score, then learn) and print one line per row or per
            alert. --state keeps a checkpoint so that a restart resumes where it stopped."""),
        epilog=EPILOG,
    )
    p.add_argument("source", metavar="CSV", help="CSV file with a header line, or - for stdin")
    g = p.add_argument_group("input")
    g.add_argument("--time-column", metavar="COL",
                   help="name of the timestamp column (default: the first column named like "
                        "timestamp/time/date)")
    g.add_argument("--time-format", metavar="FMT",
                   help="strftime format of the timestamps (default: parsed per row)")
    g.add_argument("--dayfirst", action="store_true",
                   help="read ambiguous dates such as 01/02/2024 day first (1 February); "
                        "without it (or --time-format) the first row that reads one way only "
                        "(13/02/2024) decides, and an ambiguous date before that stops the "
                        "stream")
    g.add_argument("--columns", metavar="A,B",
                   help="value columns to use (default: every column but the time)")
    g.add_argument("--on-bad-row", choices=("skip", "stop"), default="stop",
                   help="a row that cannot be used (unparsable, wrong column count, time not "
                        "after the previous row): report it and skip it, or stop (default)")
    g = p.add_argument_group("detector (a new stream; a resumed one keeps its saved settings)")
    g.add_argument("--window-size", type=int, metavar="N",
                   help="shingle size (default: one day of samples at the first rows' "
                        "interval, at most 48)")
    g.add_argument("--seed", type=int, default=None, metavar="N",
                   help="random seed (random_state; default: 0)")
    g.add_argument("--threshold", metavar="METHOD[:PARAM]",
                   help="online threshold: mean_std:K (mean + K sd of the earlier scores; the "
                        "default, K=3), spot:Q (streaming peaks over threshold) or fixed:V; "
                        "other rules use mean + 3 sd")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any RCFDetector parameter (--param time_decay=0.001 --param "
                        "num_samples_per_tree=512)")
    g.add_argument("--seasonal", default="none", metavar="auto|none|PERIOD",
                   help="seasonal baseline: the forest also reads each column's residual "
                        "against the median of the same time in the previous 4 periods; a "
                        "period such as 7D or 24h, auto (a day after three days of rows, a "
                        "week after three weeks, as the rows so far show), or none (default)")
    g = p.add_argument_group("state and output")
    g.add_argument("--state", metavar="DIR",
                   help="checkpoint folder: resumed from when it holds a saved detector, "
                        "written every --checkpoint-every rows, at the end and on Ctrl-C")
    g.add_argument("--checkpoint-every", type=int, default=1000, metavar="N",
                   help="rows between checkpoints (default: 1000)")
    g.add_argument("--alerts-only", action="store_true", help="print only the flagged rows")
    g.add_argument("--batch", type=int, default=256, metavar="N",
                   help="most rows scored in one call when they arrive together (default: "
                        "256; results do not depend on it)")
    p.set_defaults(func=run)


class BadRow(DataError):
    """A CSV row that cannot be used; the message names its line."""


class _Interrupt:
    """Ctrl-C (SIGINT) or a termination request (SIGTERM: ``kill``, ``docker stop``,
    ``systemctl stop``) while waiting for input stops at once; during scoring it stops after
    the current rows, so that the detector is never checkpointed half-updated."""

    def __init__(self) -> None:
        self.requested = False
        self.reading = False
        self.signum = int(signal.SIGINT)

    def __call__(self, signum: int, frame: Any) -> None:
        self.signum = int(signum)
        if self.reading:
            raise KeyboardInterrupt
        self.requested = True


class _RowReader:
    """Parses the CSV rows of a stream: header first, then one row per line."""

    def __init__(self, stream: TextIO, args: argparse.Namespace, interrupt: _Interrupt) -> None:
        self.stream = stream
        self.args = args
        self.interrupt = interrupt
        self.line_no = 0
        header = self._next_line()
        if header is None:
            raise DataError(f"{args.source}: no header line")
        # a byte-order mark (files saved as "UTF-8 with BOM", e.g. by Excel) is not part of
        # the first column's name, as for anomark detect (pandas drops it)
        header = header.removeprefix("\ufeff")
        names = [c.strip() for c in next(csv.reader([header]))]
        self.names = names
        self.repeated_headers = 0  # header lines again (CSV files concatenated with cat)
        self.n_fields = len(names)
        time_col = args.time_column
        if time_col is None:  # named as the CSV readers look for it
            from anomark.times import TIME_NAMES

            time_col = next((c for c in names if c.lower() in TIME_NAMES), None)
            if time_col is None:
                raise ConfigurationError(
                    f"{args.source}: no time column among {names}; name it with --time-column"
                )
        if time_col not in names:
            raise ConfigurationError(f"{args.source}: no column {time_col!r} in {names}")
        self.time_index = names.index(time_col)
        wanted = (
            [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns
            else [c for c in names if c != time_col]
        )
        missing = [c for c in wanted if c not in names or c == time_col]
        if missing or not wanted:
            raise ConfigurationError(
                f"{args.source}: value columns {missing or wanted} not found among {names}"
            )
        self.columns = wanted
        self.value_index = [names.index(c) for c in wanted]
        self.last_time: Any = None
        self.day_first: bool | None = None  # day/month order, once a row has shown it
        self.zone: Any = None  # the first row's time zone (a UTC offset) or None
        self.zone_known = False
        self.order_shown = ""
        # the largest magnitude the detector holds (float32's for dtype=float32): a value
        # beyond it is a bad row of its own, not a failure of the whole batch it came in
        self.value_limit = math.inf

    def _next_line(self) -> str | None:
        self.interrupt.reading = True
        try:
            while True:
                line = self.stream.readline()
                if not line:
                    return None
                self.line_no += 1
                if line.strip():
                    return line
        finally:
            self.interrupt.reading = False

    def _parse(self, fields: list[str]) -> tuple[Any, list[float]]:
        import pandas as pd

        where = f"line {self.line_no}"
        if len(fields) != self.n_fields:
            raise BadRow(f"{where}: {len(fields)} fields, the header has {self.n_fields}")
        text = fields[self.time_index].strip()
        dayfirst = None if self.args.time_format else self._day_first(text, where)
        try:
            if self.args.time_format:
                when = pd.to_datetime(text, format=self.args.time_format)
            else:
                when = _iso_time(text)
                if when is None:
                    when = pd.to_datetime(text, dayfirst=bool(dayfirst))
        except (ValueError, TypeError, OverflowError):
            if _is_number(text):
                raise BadRow(
                    f"{where}: the time {text!r} is a number; numbers are not read as epoch "
                    "times, their unit being ambiguous: write the times as dates"
                ) from None
            raise BadRow(f"{where}: cannot read the time {text!r}") from None
        if when is pd.NaT or pd.isna(when):
            raise BadRow(f"{where}: no time")
        when = self._one_zone(when, text, where)
        values = []
        for i, name in zip(self.value_index, self.columns, strict=True):
            try:
                value = float(fields[i])
            except ValueError:
                raise BadRow(f"{where}: {name}={fields[i].strip()!r} is not a number") from None
            if not math.isfinite(value):
                raise BadRow(f"{where}: {name}={fields[i].strip()!r} is not a finite number")
            if abs(value) > self.value_limit:
                raise BadRow(
                    f"{where}: {name}={fields[i].strip()!r} is beyond float32's range (the "
                    "detector's dtype is float32)"
                )
            values.append(value)
        if self.last_time is not None and not when > self.last_time:
            raise BadRow(f"{where}: time {when} is not after the previous row's {self.last_time}")
        self.last_time = when
        return when, values

    def _one_zone(self, when: Any, text: str, where: str) -> Any:
        """``when`` in the stream's time zone: the first row's UTC offset, when it had one.

        A row whose offset differs from the first row's (local times written with their
        offset across a change to or from daylight saving time) is the same instant shown
        in the first row's offset; a row with an offset in a stream without one, or the
        other way round, is a bad row (no instant to compare)."""
        if not self.zone_known:
            self.zone, self.zone_known = when.tz, True
            return when
        if (when.tz is None) != (self.zone is None):
            has = "has no UTC offset" if when.tz is None else "has a UTC offset"
            had = "had one" if when.tz is None else "had none"
            raise BadRow(f"{where}: the time {text!r} {has}, the earlier rows {had}")
        return when if when.tz is None else when.tz_convert(self.zone)

    def _day_first(self, text: str, where: str) -> bool:
        """Whether to read ``text``'s date day first: ``--dayfirst``, else the order the
        first row that could be read only one way showed (``13/02/2024``: day first).

        A stream cannot look ahead as a file reader does, so a date that reads differently
        either way (``01/02/2024``) before any row has shown the order stops the stream
        instead of being guessed; a row that contradicts the order is a bad row.
        """
        from anomark.times import date_order

        order = date_order(text)
        if self.args.dayfirst:
            if order == "month":
                raise BadRow(f"{where}: the time {text!r} cannot be read day first (--dayfirst)")
            return True
        if self.day_first is None:
            if order == "ambiguous":
                import warnings

                from pandas.tseries.api import guess_datetime_format

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fmt = guess_datetime_format(text, dayfirst=True)
                example = f", e.g. --time-format '{fmt}' for day first" if fmt else ""
                raise ConfigurationError(
                    f"{where}: day and month are ambiguous in the time {text!r} and no earlier "
                    "row showed their order (a stream cannot wait for later rows to tell); "
                    f"pass --dayfirst or --time-format{example}"
                )
            if order in ("day", "month"):
                self.day_first = order == "day"
                self.order_shown = where
            return bool(self.day_first)
        if order in ("day", "month") and (order == "day") != self.day_first:
            shown = "day" if self.day_first else "month"
            raise BadRow(
                f"{where}: the time {text!r} can only be read {order} first, the earlier rows "
                f"were read {shown} first (as {self.order_shown} showed)"
            )
        return self.day_first

    def batches(self, size: int) -> Iterator[list[tuple[Any, list[float]]]]:
        """Lists of parsed rows: as many as arrived together (at most ``size``)."""
        import select

        rows: list[tuple[Any, list[float]]] = []
        while True:
            line = self._next_line()
            if line is None:
                break
            fields = next(csv.reader([line]))
            cells = [c.strip() for c in fields]
            if cells and [cells[0].removeprefix("\ufeff"), *cells[1:]] == self.names:
                self.repeated_headers += 1  # the next file of `cat day1.csv day2.csv ...`
                continue
            try:
                rows.append(self._parse(fields))
            except BadRow as exc:
                if self.args.on_bad_row == "stop":
                    if rows:
                        yield rows
                    raise
                print(f"warning: {exc} (skipped)", file=sys.stderr)
            if len(rows) >= size:
                yield rows
                rows = []
            elif rows:
                try:
                    more = bool(select.select([self.stream], [], [], 0)[0])
                except (ValueError, OSError, TypeError):  # not a selectable stream
                    more = True
                if not more:
                    yield rows
                    rows = []
        if rows:
            yield rows


def _single_precision(det: Any, args: argparse.Namespace) -> bool:
    """Whether the stream's detector holds float32 values: the loaded one's ``dtype``, or a
    new one's ``--param dtype=float32``."""
    from anomark.cli.detect import parse_param

    if det is not None:
        return bool(det.dtype == "float32")
    return any(parse_param(text) == ("dtype", "float32") for text in args.param)


def _new_detector(args: argparse.Namespace, first: list[tuple[Any, list[float]]],
                  columns: list[str]) -> Any:
    """An RCFDetector from the options; the default shingle is one day of samples at the
    interval of the first two rows (RCFDetector.default_window on a stand-in series)."""
    import numpy as np
    import pandas as pd

    from anomark.cli.detect import build_detector
    from anomark.dataset import Dataset

    # with --window-size the stand-in is not read; without, two rows give the interval
    step = first[1][0] - first[0][0] if len(first) > 1 else pd.Timedelta(1, "D")
    idx = pd.date_range(first[0][0], periods=1000, freq=step)
    stand_in = Dataset(pd.DataFrame(np.zeros((1000, len(columns))), index=idx, columns=columns))
    namespace = argparse.Namespace(**vars(args))
    namespace.detector = "rcf"
    return build_detector(namespace, stand_in, args.quiet)


def _write(result: Any, alerts_only: bool) -> None:
    import numpy as np

    scores = result.scores.to_numpy()
    flags = result.flags.to_numpy()
    thresholds = result.thresholds.to_numpy() if result.thresholds is not None else None
    located = result.located
    lines = []
    for i, when in enumerate(result.scores.index):
        if alerts_only and not flags[i]:
            continue
        thr = "" if thresholds is None or not np.isfinite(thresholds[i]) else f"{thresholds[i]:.6g}"
        where = located.iloc[i].isoformat() if flags[i] and located is not None else ""
        lines.append(f"{when.isoformat()},{scores[i]:.6g},{thr},{int(flags[i])},{where}")
    if lines:
        say("\n".join(lines))
    sys.stdout.flush()


def _iso_time(text: str) -> Any:
    """``text`` as a pandas Timestamp when it is an ISO 8601 time (``2015-09-01 11:30:00``,
    with ``T``, fractions of a second or a UTC offset), the same value ``pd.to_datetime``
    gives; ``None`` for any other text (left to pandas)."""
    if _ISO_TIME.fullmatch(text) is None:
        return None
    import pandas as pd

    try:
        return pd.Timestamp(datetime.fromisoformat(text))  # (Python 3.10 cannot read "Z")
    except ValueError:
        return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _silence_stdout() -> None:
    """Point standard output at the null device after the reader of a pipe went away, so
    that Python's last flush at exit does not fail again (as Python's documentation advises
    for SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout
        pass


def _still_warming(det: Any, done: int) -> str:
    """Why no row of the stream so far could be flagged (its online threshold is not warm)."""
    return (f"after {done} row(s) the online threshold is still warming up, so no row could be "
            f"flagged: {det._warming_up()}")


def run(args: argparse.Namespace) -> int:
    """Run ``anomark stream``."""
    import pandas as pd

    from anomark import RCFDetector
    from anomark.detectors.base import Detector
    from anomark.detectors.rcf.forest import FLOAT32_MAX

    if args.checkpoint_every < 1 or args.batch < 1:
        raise ConfigurationError("--checkpoint-every and --batch must be at least 1")
    from anomark.seasonal import parse_seasonal

    parse_seasonal(args.seasonal)  # a bad value fails before any row is read
    state = Path(args.state) if args.state else None
    check_targets([], no_clobber=False, folders=[state])  # refused before reading any row
    det: Any = None
    if state is not None and (state / "config.json").exists():
        det = Detector.load(state)
        if not isinstance(det, RCFDetector):
            raise ConfigurationError(f"{state} holds a {type(det).__name__}, not an RCFDetector")
        if (args.window_size is not None or args.param or args.seed is not None
                or args.seasonal != "none"):
            warn(f"resuming from {state}: its saved parameters are used, --window-size, "
                 "--param, --seed and --seasonal are ignored", args.quiet)
    interrupt = _Interrupt()
    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, interrupt)
        except ValueError:  # not the main thread
            break
    stream: TextIO = sys.stdin if args.source == "-" else open(args.source, encoding="utf-8")  # noqa: SIM115
    done = skipped = since = 0
    broken = False
    status = EXIT_OK
    pending: list[tuple[Any, list[float]]] = []
    reader: _RowReader | None = None
    try:
        reader = _RowReader(stream, args, interrupt)
        if _single_precision(det, args):
            reader.value_limit = FLOAT32_MAX
        say("time,score,threshold,flag,located_at")
        sys.stdout.flush()
        last = None if det is None else det.last_seen_
        if isinstance(last, pd.Timestamp):  # a resumed stream keeps its time zone
            reader.zone, reader.zone_known = last.tz, True
        for rows in reader.batches(args.batch):
            if last is not None:
                fresh = [r for r in rows if r[0] > last]
                skipped += len(rows) - len(fresh)
                rows = fresh
            pending.extend(rows)
            if det is None:
                if len(pending) < 2 and args.window_size is None:
                    continue  # the default shingle needs the sampling interval
                det = _new_detector(args, pending, reader.columns)
            if not pending:
                continue
            frame = pd.DataFrame(
                [v for _, v in pending], index=pd.DatetimeIndex([t for t, _ in pending]),
                columns=reader.columns,
            )
            result = det.detect_update(frame)
            try:
                _write(result, args.alerts_only)
            except BrokenPipeError:  # the reader of our output is gone
                broken = True
                raise
            done += len(pending)
            since += len(pending)
            pending = []
            if state is not None and since >= args.checkpoint_every:
                det.save(state, overwrite=True)
                since = 0
            if interrupt.requested:
                raise KeyboardInterrupt
        if pending:  # a single row: too few to tell the sampling interval
            raise DataError("the stream ended after one row; give --window-size to score it")
    except KeyboardInterrupt:
        # 130 for Ctrl-C, 143 for SIGTERM: 128 + the signal, as a shell reports it
        status = EXIT_INTERRUPTED if interrupt.signum == signal.SIGINT else 128 + interrupt.signum
    except BadRow as exc:
        print(f"error: {exc}", file=sys.stderr)
        status = EXIT_ERROR
    except BrokenPipeError:
        _silence_stdout()
        kept = (f"; {state} keeps its last checkpoint, so a restart scores the rows after it "
                "again" if state is not None and (state / "config.json").exists() else "")
        print(f"error: the output was closed (broken pipe) after {done} row(s){kept}",
              file=sys.stderr)
        status = EXIT_ERROR
    finally:
        if stream is not sys.stdin:
            stream.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        # not after a broken output: the rows whose lines were lost would never be shown
        if state is not None and det is not None and not broken and (
            since or status != EXIT_OK or done
        ):
            det.save(state, overwrite=True)
    if skipped:
        warn(f"skipped {skipped} row(s) the checkpoint had already learned", args.quiet)
    if reader is not None and reader.repeated_headers:
        warn(f"skipped {reader.repeated_headers} repeated header line(s) (CSV files joined "
             "one after another)", args.quiet)
    if det is not None and done and not math.isfinite(det._online_value()):
        warn(_still_warming(det, done), args.quiet)
    if status in (EXIT_INTERRUPTED, 128 + signal.SIGTERM):
        where = f"; checkpoint written to {state}" if state is not None and det else ""
        how = "interrupted" if status == EXIT_INTERRUPTED else "terminated (SIGTERM)"
        print(f"{how} after {done} row(s){where}", file=sys.stderr)
    return status
