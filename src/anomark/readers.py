"""Reading time series from files: CSV files, globs and folders, S3 prefixes.

Every reader returns a :class:`pandas.DataFrame` indexed by the parsed timestamps (the
:class:`~anomark.Dataset` constructors validate it): :func:`read_csv_files` (one or several
CSV files, concatenated in time order), :func:`read_s3` (every CSV object under an
``s3://`` prefix) and :func:`read_csv_file` (one file or buffer). Timestamps are parsed by
:mod:`anomark.times` (one format per column; its public names are also importable from here).
"""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from anomark._s3 import split_s3_uri
from anomark.errors import DataError, DataTypeError, MissingFileError
from anomark.times import (
    IrregularSamplingWarning,
    bad_index_message,
    check_sampling,
    date_order,
    find_time_column,
    index_looks_like_dates,
    infer_time_format,
    is_datetime_like,
    parse_index,
    parse_times,
    value_kind,
)

if TYPE_CHECKING:  # pragma: no cover
    import boto3

__all__ = [
    "IrregularSamplingWarning",
    "PathLike",
    "bad_index_message",
    "check_sampling",
    "concat_frames",
    "date_order",
    "expand_paths",
    "find_time_column",
    "index_looks_like_dates",
    "infer_time_format",
    "is_datetime_like",
    "parse_index",
    "parse_times",
    "read_csv_file",
    "read_csv_files",
    "read_s3",
    "value_kind",
]

PathLike = str | os.PathLike[str]

_GLOB_CHARS = set("*?[")


# ---------------------------------------------------------------------- files
def expand_paths(paths: PathLike | Sequence[PathLike]) -> list[str]:
    """Files named by a path, a glob pattern, a folder (its ``*.csv``) or a list of them.

    Raises
    ------
    MissingFileError
        A named file does not exist.
    DataError
        A glob matches nothing, a folder has no ``*.csv`` file, or no path is given.
    DataTypeError
        ``paths`` is not a path or a sequence of paths.
    """
    if isinstance(paths, str | os.PathLike):
        items = [os.fspath(paths)]
    elif isinstance(paths, Sequence) and not isinstance(paths, bytes):
        items = [os.fspath(p) for p in paths]
    else:
        raise DataTypeError(
            f"expected a path, glob pattern or list of paths, got {type(paths).__name__}"
        )
    if not items:
        raise DataError("no CSV files given")
    files: list[str] = []
    for item in items:
        if _GLOB_CHARS & set(item) and not os.path.exists(item):
            matched = sorted(p for p in glob.glob(item) if os.path.isfile(p))
            if not matched:
                raise DataError(f"no files match {item!r}")
            files.extend(matched)
        elif os.path.isdir(item):
            matched = sorted(glob.glob(os.path.join(item, "*.csv")))
            if not matched:
                raise DataError(f"no *.csv files in folder {item}")
            files.extend(matched)
        elif os.path.exists(item):
            files.append(item)
        else:
            raise MissingFileError(f"CSV file not found: {item}")
    return files


def read_csv_file(
    source: Any,
    time_column: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
    *,
    label: str | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
) -> pd.DataFrame:
    """Read one CSV file (or buffer) into a frame indexed by its parsed time column.

    Parameters
    ----------
    source : path or file-like
        The CSV.
    time_column : str, optional
        The timestamp column; found by :func:`find_time_column` when omitted.
    read_csv_kwargs : mapping, optional
        Passed to :func:`pandas.read_csv` (``sep``, ``decimal``...).
    label : str, optional
        Name of the source in messages (default: ``str(source)``).
    dayfirst, time_format
        See :func:`parse_times`.

    Returns
    -------
    pandas.DataFrame
        In file order (not sorted); ``attrs["source"]`` holds ``label``.

    Raises
    ------
    DataError
        Empty or malformed file, not text, no time column, unparseable timestamps.
    """
    label = label or str(source)
    if isinstance(source, str) and os.path.getsize(source) == 0:
        raise DataError(f"CSV file {label} is empty (0 bytes)")
    opts = {"encoding": "utf-8-sig", **(read_csv_kwargs or {})}
    try:
        frame = pd.read_csv(source, **opts)
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {label} is empty") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"CSV file {label} is malformed: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"CSV file {label} is not valid text ({exc.reason})") from None
    if frame.empty:
        raise DataError(f"CSV file {label} has a header but no rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    col = time_column if time_column is not None else find_time_column(frame, f"CSV file {label}")
    if col not in frame.columns:
        raise DataError(
            f"CSV file {label}: time column {col!r} not found among {list(frame.columns)}"
        )
    frame = frame.set_index(col)
    frame.index = parse_times(
        frame.index, f"CSV file {label} column {col!r}", dayfirst=dayfirst,
        time_format=time_format,
    )
    frame.attrs["source"] = label
    return frame


def concat_frames(
    frames: list[pd.DataFrame], columns: Sequence[str] | None, where: str
) -> pd.DataFrame:
    """Frames read from several files, concatenated and stably sorted in time; all must have
    the same columns (in any order, matched by name). With ``columns``, each file needs only
    those (other columns are dropped)."""
    first = frames[0]
    wanted = list(first.columns) if columns is None else list(columns)
    for f in frames:
        missing = [c for c in wanted if c not in f.columns]
        extra = [] if columns is not None else [c for c in f.columns if c not in wanted]
        if missing or extra:
            source = f.attrs.get("source", "?")
            if columns is not None:
                raise DataError(f"columns {missing} not found in {source} (reading {where})")
            differences = ([f"lacks column(s) {missing}"] if missing else []) + (
                [f"has extra column(s) {extra}"] if extra else []
            )
            raise DataError(
                f"files have different columns: {source} {' and '.join(differences)} "
                f"compared with {first.attrs.get('source', '?')} (columns {wanted}); pass "
                "columns= (--columns) to read only the common ones"
            )
    if len(frames) == 1:
        return first[wanted] if columns is not None else first
    return pd.concat([f[wanted] for f in frames]).sort_index(kind="stable")


def read_csv_files(
    files: Sequence[str],
    time_column: str | None = None,
    *,
    columns: Sequence[str] | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
    where: str | None = None,
) -> pd.DataFrame:
    """Read CSV files (see :func:`expand_paths`) into one frame in time order.

    Each file is parsed with :func:`read_csv_file` (its own time format); the result is
    checked for irregular sampling (:func:`check_sampling`). ``progress`` shows a bar on
    stderr while reading several files.
    """
    where = where or (files[0] if len(files) == 1 else f"{len(files)} files")
    items: Any = files
    if progress and len(files) > 1:
        import sys

        from tqdm import tqdm

        items = tqdm(files, desc=f"reading {where}", file=sys.stderr, leave=False, unit="file")
    frames = [
        read_csv_file(f, time_column, read_csv_kwargs, dayfirst=dayfirst,
                      time_format=time_format)
        for f in items
    ]
    frame = concat_frames(frames, columns, where)
    check_sampling(frame.index, where)
    return frame


def read_s3(
    uri: str,
    *,
    session: boto3.Session | None = None,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    suffix: str = ".csv",
    endpoint_url: str | None = None,
    dayfirst: bool | None = None,
    time_format: str | None = None,
    read_csv_kwargs: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read every CSV object under ``s3://bucket/prefix`` (in key order) into one frame.

    Parameters
    ----------
    uri : str
        ``s3://bucket/prefix/`` (all objects whose key ends with ``suffix``) or one object.
    session : boto3.Session, optional
        Credentials/region to use; the default session otherwise.
    suffix : str, default ".csv"
        Only keys ending with this are read (``""`` reads all).
    endpoint_url : str, optional
        S3 endpoint (S3-compatible stores, tests); ``AWS_ENDPOINT_URL`` also works.

    Raises
    ------
    DataError
        A bad URI, no matching object, an S3 error (its code named), a bad CSV.
    """
    import boto3 as _boto3
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri)
    where = f"s3://{bucket}/{prefix}"
    sess = session or _boto3.Session()
    s3 = sess.client("s3", endpoint_url=endpoint_url)
    frames: list[pd.DataFrame] = []
    try:
        keys: list[str] = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith(suffix) and not key.endswith("/"):
                    keys.append(key)
        if not keys:
            raise DataError(f"no objects ending with {suffix!r} under {where}")
        for key in sorted(keys):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            frames.append(
                read_csv_file(
                    io.BytesIO(body), time_column, read_csv_kwargs,
                    label=f"s3://{bucket}/{key}", dayfirst=dayfirst, time_format=time_format,
                )
            )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise DataError(f"cannot read {where}: {code} {exc}") from exc
    except BotoCoreError as exc:
        raise DataError(f"cannot read {where}: {exc}") from exc
    frame = concat_frames(frames, columns, where)
    check_sampling(frame.index, where)
    return frame
