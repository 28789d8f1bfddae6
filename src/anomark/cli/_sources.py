"""What a command reads: a CSV file / glob / folder, an ``s3://`` prefix, a NAB series
(``nab:<name>``) or several sensors (``--sensor NAME=GLOB``), then columns, resampling and
gap filling. Shared by the commands that read data (``detect``; ``stream`` and ``evaluate``
can reuse :func:`load_source`)."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anomark.cli._common import iter_progress, reader_options
from anomark.errors import ConfigurationError, DataError

if TYPE_CHECKING:  # pragma: no cover
    from anomark.dataset import Dataset, Duplicates
    from anomark.labels import Window

__all__ = [
    "FILL_CHOICES", "NAB_PREFIX", "Source", "add_source_options", "load_source", "prepare",
    "source_stem",
]

NAB_PREFIX = "nab:"
FILL_CHOICES = ("none", "interpolate", "ffill", "zero", "drop")


class Source:
    """The loaded data, how to name it, and its labelled windows when known."""

    def __init__(
        self, data: Dataset, label: str, stem: str, windows: list[Window] | None
    ) -> None:
        self.data = data
        #: shown in the summary (``realKnownCause/nyc_taxi.csv``, ``data/a.csv``, ``3 files``)
        self.label = label
        #: the default output name's stem (``nyc_taxi`` -> ``nyc_taxi_anomalies.csv``)
        self.stem = stem
        self.windows = windows


def source_stem(args: argparse.Namespace) -> str:
    """The name used for the default output file, known before loading anything."""
    if args.sensor:
        return "sensors"
    first = args.source[0]
    if first.startswith(NAB_PREFIX):
        return Path(first[len(NAB_PREFIX) :]).stem or "nab"
    if first.startswith("s3://"):
        return Path(first.rstrip("/")).name or "s3"
    stem = Path(first.rstrip("/")).stem
    return "".join(ch for ch in stem if ch not in "*?[]") or "data"


def _duplicates(args: argparse.Namespace, default: Duplicates) -> Duplicates:
    given = args.duplicates
    if given is None:
        return default
    return "raise" if given == "error" else given  # type: ignore[no-any-return]


def load_source(args: argparse.Namespace, progress: bool) -> Source:
    """Read what ``args`` names (``source``, ``--sensor``, the input options).

    With ``--resample`` the irregular-sampling warning is not shown (the data is resampled).
    """
    with warnings.catch_warnings():
        if args.resample:
            from anomark.times import IrregularSamplingWarning

            warnings.simplefilter("ignore", IrregularSamplingWarning)
        return _load(args, progress)


def _load(args: argparse.Namespace, progress: bool) -> Source:
    from anomark import readers
    from anomark.dataset import Dataset

    stem = source_stem(args)
    options = reader_options(args)
    if args.sensor:
        if args.source:
            raise ConfigurationError("give either SOURCE arguments or --sensor, not both")
        sensors: dict[str, str] = {}
        for spec in args.sensor:
            name, sep, pattern = spec.partition("=")
            name, pattern = name.strip(), pattern.strip()
            if not sep or not name or not pattern:
                raise ConfigurationError(f"--sensor expects NAME=PATH_OR_GLOB, got {spec!r}")
            if name in sensors:
                raise ConfigurationError(f"sensor {name!r} given twice")
            sensors[name] = pattern
        loaded = {
            name: Dataset.from_csv(
                pattern, name=name, duplicates=_duplicates(args, "raise"), **options
            )
            for name, pattern in iter_progress(list(sensors.items()), "reading sensors", progress)
        }
        data = Dataset.from_sensors(loaded, how="outer", freq=args.resample, limit=None)
        return Source(data, "+".join(sensors), stem, None)

    if not args.source:
        raise ConfigurationError("nothing to read: give a CSV path, glob, nab:<name> or --sensor")
    first = args.source[0]
    if first.startswith(NAB_PREFIX):
        if len(args.source) > 1:
            raise ConfigurationError("a nab: source cannot be combined with other sources")
        from anomark.datasets import nab

        name = nab.resolve_name(first[len(NAB_PREFIX) :])
        data = nab.load(name, duplicates=_duplicates(args, "first"))
        return Source(data, name, Path(name).stem, nab.windows(name))
    if first.startswith("s3://"):
        if len(args.source) > 1:
            raise ConfigurationError("an s3:// source cannot be combined with other sources")
        data = Dataset.from_s3(first, duplicates=_duplicates(args, "raise"), **options)
        return Source(data, first, stem, None)
    if any(s.startswith((NAB_PREFIX, "s3://")) for s in args.source[1:]):
        raise ConfigurationError("nab: and s3:// sources cannot be combined with other sources")
    files = readers.expand_paths(args.source)
    label = files[0] if len(files) == 1 else f"{len(files)} files"
    name = Path(files[0]).name if len(files) == 1 else label  # the plot title: no folders
    wanted = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else []
    frame = readers.read_csv_files(  # with --columns, files need only those columns
        files, options["time_column"], columns=wanted or None, dayfirst=options["dayfirst"],
        time_format=options["time_format"], progress=progress, where=name,
    )
    data = Dataset(frame, duplicates=_duplicates(args, "raise"), name=name)
    return Source(data, label, stem, None)


def prepare(data: Dataset, args: argparse.Namespace) -> Dataset:
    """``--columns``, ``--resample`` (single sources) and ``--fill``; refuses remaining gaps."""
    if args.columns:
        wanted = [c.strip() for c in args.columns.split(",") if c.strip()]
        data = data.select(wanted)
    if args.resample and not args.sensor:
        data = data.resample(args.resample)
    fill = args.fill
    if fill == "interpolate":
        data = data.interpolate()
        if len(data.nan_report()):  # NaN at the ends: nothing to interpolate between
            data = data.fillna(method="ffill").fillna(method="bfill")
    elif fill == "ffill":
        data = data.fillna(method="ffill").fillna(method="bfill")
    elif fill == "zero":
        data = data.fillna(0.0)
    elif fill == "drop":
        data = data.dropna()
    counts = data.nan_report()
    if len(counts):
        shown = ", ".join(f"{c} ({n})" for c, n in counts.head(5).items())
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        raise DataError(
            f"{data.name or 'the data'} has missing values in {len(counts)} column(s): "
            f"{shown}{more}; choose how to fill them with --fill interpolate|ffill|zero|drop"
        )
    return data


def add_source_options(parser: argparse.ArgumentParser, group: Any) -> None:
    """The ``SOURCE`` argument and ``--sensor`` / ``--columns`` / ``--resample`` / ``--fill``."""
    parser.add_argument("source", nargs="*", metavar="SOURCE",
                        help="CSV file(s), a quoted glob, a folder, s3://bucket/prefix or "
                             "nab:<name>")
    group.add_argument("--sensor", action="append", default=[], metavar="NAME=GLOB",
                       help="a sensor's CSV files (repeat for each sensor); joined on time")
    group.add_argument("--columns", metavar="A,B,...", help="use only these value columns")
    group.add_argument("--resample", metavar="FREQ",
                       help="resample to a regular frequency first, e.g. 1min, 30min, 1h")
    group.add_argument("--fill", choices=FILL_CHOICES, default="none",
                       help="how to fill missing values (default: none = refuse data with gaps)")
