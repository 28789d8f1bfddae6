"""The Numenta Anomaly Benchmark (NAB): its 58 series, their labelled anomaly windows.

Where the files come from:

* The NYC taxi series (``realKnownCause/nyc_taxi.csv``, the main example) and its labels ship
  with anomark (:data:`BUNDLED`, in ``anomark/datasets/_nab/`` with NAB's MIT notice), so it
  loads offline, with no cache and no ``ANOMARK_NAB_DIR``.

Every other series, and the label files of the whole corpus, in this order:

1. ``ANOMARK_NAB_DIR``: a local copy of NAB (or of its ``data/`` and ``labels/`` folders),
   laid out as ``data/<subfolder>/<name>.csv`` and ``labels/combined_windows.json``.
   Nothing is downloaded; a missing file is an error.
2. Otherwise each file is downloaded on first use from the public NAB repository
   (``https://raw.githubusercontent.com/numenta/NAB/master``; override with ``ANOMARK_NAB_URL``)
   into a cache folder (``$ANOMARK_CACHE_DIR/nab``, else ``$XDG_CACHE_HOME/anomark/nab``,
   else ``~/.cache/anomark/nab``), written atomically, then read from there.

A series is named as in NAB's label files, ``"<subfolder>/<file>.csv"`` (for example
``"realKnownCause/nyc_taxi.csv"``); :func:`resolve_name` also accepts a ``data/`` prefix,
a missing ``.csv`` suffix and a bare file name (all NAB file names are unique).

NAB is MIT-licensed; cite Ahmad, Lavin, Purdy and Agha (2017), "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 262.

Examples
--------
>>> from anomark.datasets import nab
>>> ds = nab.load("realKnownCause/nyc_taxi.csv")            # doctest: +SKIP
>>> nab.windows("realKnownCause/nyc_taxi.csv")[0]           # doctest: +SKIP
(Timestamp('2014-10-30 15:30:00'), Timestamp('2014-11-03 22:30:00'))
"""

from __future__ import annotations

import difflib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from anomark.dataset import Dataset, Duplicates
from anomark.errors import DataError
from anomark.labels import Window, parse_windows, to_timestamp
from anomark.persistence import atomic_write_bytes
from anomark.times import IrregularSamplingWarning

__all__ = [
    "BUNDLED",
    "DEFAULT_URL",
    "NABUnavailableError",
    "all_windows",
    "base_url",
    "cache_dir",
    "data_dir",
    "is_nab_name",
    "labels",
    "load",
    "names",
    "path",
    "resolve_name",
    "windows",
]

DEFAULT_URL = "https://raw.githubusercontent.com/numenta/NAB/master"
"""Where files are downloaded from when ``ANOMARK_NAB_DIR`` is not set."""

WINDOWS_FILE = "labels/combined_windows.json"
LABELS_FILE = "labels/combined_labels.json"
TIMEOUT_S = 60.0
"""Seconds to wait for the NAB server before giving up on a download."""

#: Series shipped inside the package (read from there, whatever ``ANOMARK_NAB_DIR`` says).
BUNDLED: tuple[str, ...] = ("realKnownCause/nyc_taxi.csv",)
_BUNDLED_DIR = Path(__file__).resolve().parent / "_nab"
#: The bundled copy of each NAB file (``data/...`` and the two label files) per series.
_BUNDLED_FILES = {
    "realKnownCause/nyc_taxi.csv": {
        "data/realKnownCause/nyc_taxi.csv": "nyc_taxi.csv",
        WINDOWS_FILE: "nyc_taxi_windows.json",
        LABELS_FILE: "nyc_taxi_labels.json",
    },
}

_ENV_DIR = "ANOMARK_NAB_DIR"
_ENV_URL = "ANOMARK_NAB_URL"
_ENV_CACHE = "ANOMARK_CACHE_DIR"

# The 58 series of NAB v1.1 (keys of labels/combined_windows.json), so that names can be
# checked and suggested without touching the disk or the network.
_NAMES: tuple[str, ...] = (
    "artificialNoAnomaly/art_daily_no_noise.csv",
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv",
    "artificialNoAnomaly/art_daily_small_noise.csv",
    "artificialNoAnomaly/art_flatline.csv",
    "artificialNoAnomaly/art_noisy.csv",
    "artificialWithAnomaly/art_daily_flatmiddle.csv",
    "artificialWithAnomaly/art_daily_jumpsdown.csv",
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "artificialWithAnomaly/art_daily_nojump.csv",
    "artificialWithAnomaly/art_increase_spike_density.csv",
    "artificialWithAnomaly/art_load_balancer_spikes.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv",
    "realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv",
    "realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
    "realAWSCloudwatch/ec2_network_in_257a54.csv",
    "realAWSCloudwatch/ec2_network_in_5abac7.csv",
    "realAWSCloudwatch/elb_request_count_8c0756.csv",
    "realAWSCloudwatch/grok_asg_anomaly.csv",
    "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realAdExchange/exchange-2_cpm_results.csv",
    "realAdExchange/exchange-3_cpc_results.csv",
    "realAdExchange/exchange-3_cpm_results.csv",
    "realAdExchange/exchange-4_cpc_results.csv",
    "realAdExchange/exchange-4_cpm_results.csv",
    "realKnownCause/ambient_temperature_system_failure.csv",
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv",
    "realKnownCause/ec2_request_latency_system_failure.csv",
    "realKnownCause/machine_temperature_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realKnownCause/rogue_agent_key_hold.csv",
    "realKnownCause/rogue_agent_key_updown.csv",
    "realTraffic/TravelTime_387.csv",
    "realTraffic/TravelTime_451.csv",
    "realTraffic/occupancy_6005.csv",
    "realTraffic/occupancy_t4013.csv",
    "realTraffic/speed_6005.csv",
    "realTraffic/speed_7578.csv",
    "realTraffic/speed_t4013.csv",
    "realTweets/Twitter_volume_AAPL.csv",
    "realTweets/Twitter_volume_AMZN.csv",
    "realTweets/Twitter_volume_CRM.csv",
    "realTweets/Twitter_volume_CVS.csv",
    "realTweets/Twitter_volume_FB.csv",
    "realTweets/Twitter_volume_GOOG.csv",
    "realTweets/Twitter_volume_IBM.csv",
    "realTweets/Twitter_volume_KO.csv",
    "realTweets/Twitter_volume_PFE.csv",
    "realTweets/Twitter_volume_UPS.csv",
)
_BY_FILE = {n.split("/", 1)[1]: n for n in _NAMES}



class NABUnavailableError(DataError):
    """A NAB file is neither in ``ANOMARK_NAB_DIR``/the cache nor downloadable right now."""


# ---------------------------------------------------------------------------- names
def names() -> list[str]:
    """All 58 NAB series names, ``"<subfolder>/<file>.csv"``, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from anomark.datasets import nab
    >>> len(nab.names()), nab.names()[0]
    (58, 'artificialNoAnomaly/art_daily_no_noise.csv')
    """
    return list(_NAMES)


def _canonical(name: str) -> str | None:
    text = name.strip().replace("\\", "/")
    if text.startswith("data/"):
        text = text[len("data/") :]
    if not text.endswith(".csv"):
        text += ".csv"
    if text in _NAMES:
        return text
    return _BY_FILE.get(text)


def is_nab_name(name: object) -> bool:
    """Whether ``name`` names a NAB series (in any form :func:`resolve_name` accepts).

    Examples
    --------
    >>> from anomark.datasets import nab
    >>> nab.is_nab_name("realKnownCause/nyc_taxi.csv"), nab.is_nab_name("nyc_taxi")
    (True, True)
    >>> nab.is_nab_name("my_data.csv")
    False
    """
    return isinstance(name, str) and _canonical(name) is not None


def resolve_name(name: str) -> str:
    """The canonical ``"<subfolder>/<file>.csv"`` name of a NAB series.

    Parameters
    ----------
    name : str
        ``"realKnownCause/nyc_taxi.csv"``, ``"data/realKnownCause/nyc_taxi.csv"``,
        ``"realKnownCause/nyc_taxi"`` or just ``"nyc_taxi.csv"`` / ``"nyc_taxi"``.

    Returns
    -------
    str

    Raises
    ------
    DataError
        Not a NAB series; the message lists the closest names.

    Examples
    --------
    >>> from anomark.datasets import nab
    >>> nab.resolve_name("nyc_taxi")
    'realKnownCause/nyc_taxi.csv'
    """
    if not isinstance(name, str):
        raise DataError(f"a NAB series name must be a string, got {type(name).__name__}")
    found = _canonical(name)
    if found is not None:
        return found
    key = name.strip().replace("\\", "/").removeprefix("data/")
    close = difflib.get_close_matches(key, _NAMES, n=5, cutoff=0.5)
    close += [
        _BY_FILE[f]
        for f in difflib.get_close_matches(key.rsplit("/", 1)[-1], list(_BY_FILE), n=5, cutoff=0.6)
        if _BY_FILE[f] not in close
    ]
    hint = f"; did you mean {', '.join(repr(c) for c in close[:5])}?" if close else ""
    raise DataError(
        f"{name!r} is not a NAB series{hint} (nab.names() lists all 58, "
        "e.g. 'realKnownCause/nyc_taxi.csv')"
    )


# ---------------------------------------------------------------------------- locations
def data_dir() -> Path | None:
    """The local NAB folder from ``ANOMARK_NAB_DIR``, or ``None`` when it is not set.

    Raises
    ------
    DataError
        ``ANOMARK_NAB_DIR`` is set but is not a folder.
    """
    value = os.environ.get(_ENV_DIR)
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"{_ENV_DIR}={value!r} is not a folder; point it at a NAB checkout (with data/ and "
            "labels/) or unset it to download the files"
        )
    return folder


def cache_dir() -> Path:
    """Where downloaded NAB files are kept.

    ``$ANOMARK_CACHE_DIR/nab`` when set, else ``$XDG_CACHE_HOME/anomark/nab``, else
    ``~/.cache/anomark/nab``. The folder is created on the first download.
    """
    root = os.environ.get(_ENV_CACHE)
    if root:
        return Path(root).expanduser() / "nab"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "anomark" / "nab"


def base_url() -> str:
    """The URL NAB files are downloaded from (``ANOMARK_NAB_URL`` or :data:`DEFAULT_URL`)."""
    return (os.environ.get(_ENV_URL) or DEFAULT_URL).rstrip("/")


def _download(relpath: str, target: Path) -> None:
    url = f"{base_url()}/{urllib.parse.quote(relpath)}"
    fix = (
        f"set {_ENV_DIR} to a local copy of NAB (github.com/numenta/NAB: data/ and labels/), "
        f"or connect to the internet so that it can be downloaded into {cache_dir()}"
    )
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            payload = response.read()
    except urllib.error.HTTPError as exc:
        raise NABUnavailableError(
            f"cannot download NAB file {relpath!r}: {url} answered HTTP {exc.code} "
            f"({exc.reason}); {fix}"
        ) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NABUnavailableError(
            f"NAB file {relpath!r} is not cached and cannot be downloaded from {url} "
            f"({reason}); {fix}"
        ) from None
    if not payload:
        raise NABUnavailableError(f"the download of NAB file {relpath!r} from {url} was empty")
    if relpath.endswith(".json"):
        try:
            json.loads(payload)
        except ValueError:
            raise NABUnavailableError(
                f"the download of {relpath!r} from {url} is not valid JSON; is "
                f"{_ENV_URL}={base_url()!r} right?"
            ) from None
    atomic_write_bytes(target, payload)


def _local_file(relpath: str) -> Path:
    folder = data_dir()
    if folder is not None:
        found = folder / relpath
        if not found.is_file():
            raise DataError(
                f"NAB file {relpath!r} not found in {_ENV_DIR}={str(folder)!r} "
                f"(expected {found}); fix the folder or unset {_ENV_DIR} to download it"
            )
        return found
    cached = cache_dir() / relpath
    if not cached.is_file():
        _download(relpath, cached)
    return cached


def path(name: str) -> Path:
    """The local CSV file of a series: the bundled copy for :data:`BUNDLED` series, else the
    file in ``ANOMARK_NAB_DIR`` or in the cache (downloaded when needed).

    Parameters
    ----------
    name : str
        A NAB series name (see :func:`resolve_name`).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        Unknown series, or the file is missing from ``ANOMARK_NAB_DIR``.
    NABUnavailableError
        Not cached and the download failed (offline...).
    """
    canonical = resolve_name(name)
    return _bundled(canonical, f"data/{canonical}") or _local_file(f"data/{canonical}")


def _bundled(canonical: str, relpath: str) -> Path | None:
    """The packaged copy of NAB file ``relpath`` for a bundled series, else ``None``."""
    file = _BUNDLED_FILES.get(canonical, {}).get(relpath)
    return None if file is None else _BUNDLED_DIR / file


# ---------------------------------------------------------------------------- readers
def load(name: str, *, duplicates: Duplicates = "first") -> Dataset:
    """Load one NAB series as a :class:`~anomark.Dataset` (one column, ``"value"``).

    Seven NAB files repeat timestamps (daylight-saving changes, e.g. twelve rows stamped
    ``2014-03-09 03:00:00``) and ``realKnownCause/machine_temperature_system_failure.csv`` also
    steps back one hour once. A ``Dataset`` needs unique timestamps in time order, so rows are
    sorted (stably) and repeated timestamps combined as ``duplicates`` says. The labelled
    windows stay valid: their ends are timestamps of the result. Series with gaps are
    loaded as published (no :class:`~anomark.times.IrregularSamplingWarning`).

    Parameters
    ----------
    name : str
        A NAB series name, e.g. ``"realKnownCause/nyc_taxi.csv"``.
    duplicates : {"first", "last", "mean", "raise"}, default "first"
        How to combine rows that share a timestamp (see :class:`~anomark.Dataset`).

    Returns
    -------
    Dataset
        Indexed by the series' timestamps; ``name`` is the canonical series name.

    Raises
    ------
    DataError
        Unknown series name (with suggestions), file missing from ``ANOMARK_NAB_DIR`` or
        malformed, repeated timestamps with ``duplicates="raise"``.
    NABUnavailableError
        The file is not available locally and cannot be downloaded.

    Examples
    --------
    >>> from anomark.datasets import nab
    >>> ds = nab.load("realKnownCause/nyc_taxi.csv")      # doctest: +SKIP
    >>> len(ds), ds.columns                                # doctest: +SKIP
    (10320, ['value'])
    """
    canonical = resolve_name(name)
    file = path(canonical)
    with warnings.catch_warnings():
        # machine_temperature_system_failure.csv is not in time order; sorting is expected.
        warnings.filterwarnings("ignore", message=".*not in time order.*", category=UserWarning)
        # a dozen NAB series have gaps: the benchmark scores them as published, row by row
        warnings.simplefilter("ignore", IrregularSamplingWarning)
        return Dataset.from_csv(
            file, time_column="timestamp", duplicates=duplicates, name=canonical
        )


@lru_cache(maxsize=8)
def _read_json(file: str, mtime_ns: int, size: int) -> dict[str, Any]:
    try:
        content = json.loads(Path(file).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"NAB label file {file} is not valid JSON: {exc}") from None
    if not isinstance(content, dict):
        raise DataError(f"NAB label file {file} should hold a JSON object of series names")
    return content


def _label_file(relpath: str, series: str | None = None) -> dict[str, Any]:
    """A label file's content: the bundled copy when ``series`` is bundled, else NAB's."""
    file = (_bundled(series, relpath) if series else None) or _local_file(relpath)
    stat = file.stat()
    return _read_json(str(file), stat.st_mtime_ns, stat.st_size)


def _entry(relpath: str, name: str) -> Any:
    canonical = resolve_name(name)
    content = _label_file(relpath, canonical)
    if canonical not in content:
        raise DataError(f"NAB label file {relpath!r} has no entry for {canonical!r}")
    return content[canonical]


def windows(name: str) -> list[Window]:
    """The labelled anomaly windows of a series, from ``labels/combined_windows.json``.

    Parameters
    ----------
    name : str
        A NAB series name.

    Returns
    -------
    list of (pandas.Timestamp, pandas.Timestamp)
        ``(start, end)`` pairs, both ends inclusive, in time order; empty when the series has
        no labelled anomaly.

    Raises
    ------
    DataError, NABUnavailableError
        As for :func:`load`.

    Examples
    --------
    >>> from anomark.datasets import nab
    >>> nab.windows("realKnownCause/nyc_taxi.csv")[0]     # doctest: +SKIP
    (Timestamp('2014-10-30 15:30:00'), Timestamp('2014-11-03 22:30:00'))
    """
    canonical = resolve_name(name)
    found = parse_windows(_entry(WINDOWS_FILE, canonical), f"windows of {canonical!r}")
    return sorted(found)


def all_windows() -> dict[str, list[Window]]:
    """The windows of every series, keyed by series name (the input of ``nab_score``).

    Returns
    -------
    dict of str to list of (pandas.Timestamp, pandas.Timestamp)
    """
    content = _label_file(WINDOWS_FILE)
    return {
        name: sorted(parse_windows(content[name], f"windows of {name!r}"))
        for name in _NAMES
        if name in content
    }


def labels(name: str) -> list[pd.Timestamp]:
    """The single anomaly timestamps of a series (``labels/combined_labels.json``).

    Each window of :func:`windows` is centred on one of these.

    Parameters
    ----------
    name : str
        A NAB series name.

    Returns
    -------
    list of pandas.Timestamp
        In time order; empty when the series has no labelled anomaly.

    Raises
    ------
    DataError, NABUnavailableError
        As for :func:`load`.
    """
    canonical = resolve_name(name)
    raw = _entry(LABELS_FILE, canonical)
    where = f"labels of {canonical!r}"
    if not isinstance(raw, list):
        raise DataError(f"{where}: expected a list of timestamps, got {raw!r}")
    return sorted(to_timestamp(v, where) for v in raw)
