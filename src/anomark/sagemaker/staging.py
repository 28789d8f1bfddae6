"""Staging shingled data on S3 for SageMaker: headerless CSV or RecordIO-protobuf parts.

Keys carry a content hash (data, shape, format, number of parts), so staging identical data a
second time finds the existing parts (through a small manifest written last) and uploads
nothing. Parts larger than ``multipart_threshold`` go up as S3 multipart uploads.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from anomark.errors import DataError, RemoteJobError
from anomark.sagemaker.recordio import CONTENT_TYPE as RECORDIO_CONTENT_TYPE
from anomark.sagemaker.recordio import encode_dense, record_size

__all__ = [
    "CSV_TRAIN_CONTENT_TYPE",
    "StagedData",
    "stage_blobs",
    "csv_bytes",
    "csv_row_bytes",
    "data_hash",
    "download_objects",
    "list_objects",
    "split_rows",
    "stage_rows",
]

logger = logging.getLogger("anomark.sagemaker")

CSV_TRAIN_CONTENT_TYPE = "text/csv;label_size=0"
#: Target size of one staged part.
PART_BYTES = 128 * 2**20
#: Multipart upload from this size on (S3 allows single PUTs up to 5 GB; multipart is faster
#: and resumable per part).
MULTIPART_THRESHOLD = 64 * 2**20
#: ``data_format="auto"`` switches to RecordIO from this much CSV on.
RECORDIO_AUTO_BYTES = 10 * 2**20
_FLOAT_FMT = "%.17g"  # round-trips float64 exactly


@dataclass(frozen=True)
class StagedData:
    """Where a staged dataset lives."""

    s3_prefix: str
    """``s3://bucket/key-prefix/`` holding only this dataset's parts."""
    keys: tuple[str, ...]
    """Part keys, in row order."""
    rows_per_part: tuple[int, ...]
    content_type: str
    data_format: str
    digest: str
    uploaded: bool
    """False when identical data was already staged and nothing was uploaded."""


def check_rows(rows: Any) -> np.ndarray:
    """A finite, non-empty 2-D float64 array, or :class:`DataError`."""
    arr = np.asarray(rows)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"expected a non-empty 2-D array of shingles, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise DataError(f"shingles must be real numbers, got dtype {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise DataError("shingles contain NaN or infinite values; clean the data first")
    return arr


def csv_bytes(rows: np.ndarray) -> bytes:
    """Headerless CSV, one row per line, values with 17 significant digits (exact float64)."""
    arr = np.asarray(rows, dtype=np.float64)
    buf = io.StringIO()
    np.savetxt(buf, arr, fmt=_FLOAT_FMT, delimiter=",")
    return buf.getvalue().encode("ascii")


def csv_row_bytes(rows: np.ndarray) -> list[bytes]:
    """Each row as its own CSV line (with ``\\n``), for payload-bounded chunking."""
    text = csv_bytes(rows)
    lines = text.split(b"\n")
    return [line + b"\n" for line in lines[:-1]]


def data_hash(rows: np.ndarray, *extra: object) -> str:
    """SHA-256 (hex, 20 chars) of the array's bytes, shape, and any ``extra`` settings."""
    arr = np.ascontiguousarray(rows, dtype=np.float64)
    h = hashlib.sha256()
    h.update(repr((arr.shape, *extra)).encode())
    h.update(arr.data)
    return h.hexdigest()[:20]


def split_rows(n_rows: int, n_parts: int) -> list[tuple[int, int]]:
    """``n_parts`` contiguous ``(start, stop)`` ranges covering ``range(n_rows)`` (sizes +-1)."""
    n_parts = max(1, min(n_parts, n_rows))
    bounds = np.linspace(0, n_rows, n_parts + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def choose_format(rows: np.ndarray, data_format: str) -> str:
    """Resolve ``"auto"``: RecordIO from ``RECORDIO_AUTO_BYTES`` of (estimated) CSV on."""
    if data_format != "auto":
        return data_format
    return "recordio" if estimate_csv_bytes(rows) >= RECORDIO_AUTO_BYTES else "csv"


def estimate_csv_bytes(rows: np.ndarray, sample: int = 256) -> int:
    """Size of ``rows`` as CSV, extrapolated from evenly spaced sample rows."""
    n = rows.shape[0]
    if n == 0:
        return 0
    idx = np.unique(np.linspace(0, n - 1, min(n, sample)).astype(int))
    return int(len(csv_bytes(rows[idx])) * n / idx.size)


def _exists(s3: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NotFound"):
            return False
        raise RemoteJobError(f"cannot read s3://{bucket}/{key}: {exc}") from None
    return True


def upload_bytes(
    s3: Any,
    bucket: str,
    key: str,
    data: bytes,
    content_type: str,
    multipart_threshold: int = MULTIPART_THRESHOLD,
) -> None:
    """Upload ``data``; multipart (parallel parts of >= 5 MiB) from ``multipart_threshold`` on."""
    from boto3.s3.transfer import TransferConfig
    from botocore.exceptions import BotoCoreError, ClientError

    chunk = max(5 * 2**20, min(16 * 2**20, multipart_threshold))  # S3's minimum part: 5 MiB
    config = TransferConfig(
        multipart_threshold=multipart_threshold, multipart_chunksize=chunk, max_concurrency=4
    )
    try:
        s3.upload_fileobj(
            io.BytesIO(data),
            bucket,
            key,
            ExtraArgs={"ContentType": content_type},
            Config=config,
        )
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(f"upload to s3://{bucket}/{key} failed: {exc}") from None


def stage_rows(
    s3: Any,
    bucket: str,
    key_prefix: str,
    rows: np.ndarray,
    *,
    min_parts: int = 1,
    data_format: str = "csv",
    part_bytes: int = PART_BYTES,
    multipart_threshold: int = MULTIPART_THRESHOLD,
) -> StagedData:
    """Write ``rows`` under ``s3://bucket/key_prefix/<hash>/`` as parts, unless already there.

    Parameters
    ----------
    s3 : botocore client
        S3 client.
    bucket, key_prefix : str
        Destination; the content hash is appended to ``key_prefix``.
    rows : numpy.ndarray, shape (n_rows, n_features)
        Exactly the rows to stage (shingles), in order.
    min_parts : int
        At least this many parts (one per training instance for ``ShardedByS3Key``); never more
        parts than rows.
    data_format : {"csv", "recordio"}
        Headerless CSV (``text/csv;label_size=0``) or RecordIO-protobuf float32.
    part_bytes : int
        Target part size; more parts are made when the data is larger.
    multipart_threshold : int
        Parts from this size on are sent as S3 multipart uploads.

    Returns
    -------
    StagedData
    """
    arr = check_rows(rows)
    n, d = arr.shape
    if data_format == "recordio":
        est_bytes = n * record_size(d)
        content_type, ext = RECORDIO_CONTENT_TYPE, "rec"
    elif data_format == "csv":
        est_bytes = estimate_csv_bytes(arr)
        content_type, ext = CSV_TRAIN_CONTENT_TYPE, "csv"
    else:
        raise DataError(f"unknown staging format {data_format!r}")
    if min_parts > n:
        raise DataError(
            f"{n} rows cannot be split into {min_parts} parts (one per training instance); "
            "use fewer instances or more data"
        )
    n_parts = max(min_parts, math.ceil(est_bytes / max(part_bytes, 1)))
    ranges = split_rows(n, n_parts)
    digest = data_hash(arr, data_format, len(ranges))
    base = "/".join(p for p in (key_prefix.strip("/"), digest) if p)
    keys = tuple(f"{base}/part-{i:05d}.{ext}" for i in range(len(ranges)))
    manifest_key = f"{base}.manifest.json"
    rows_per_part = tuple(b - a for a, b in ranges)
    staged = StagedData(
        s3_prefix=f"s3://{bucket}/{base}/",
        keys=keys,
        rows_per_part=rows_per_part,
        content_type=content_type,
        data_format=data_format,
        digest=digest,
        uploaded=False,
    )
    if _already_staged(s3, bucket, manifest_key, keys):
        logger.info("data already staged at %s; not uploading again", staged.s3_prefix)
        return staged
    for key, (a, b) in zip(keys, ranges, strict=True):
        part = arr[a:b]
        data = encode_dense(part) if data_format == "recordio" else csv_bytes(part)
        upload_bytes(s3, bucket, key, data, content_type, multipart_threshold)
    manifest = {
        "rows": n,
        "features": d,
        "format": data_format,
        "content_type": content_type,
        "parts": [{"key": k, "rows": r} for k, r in zip(keys, rows_per_part, strict=True)],
    }
    upload_bytes(s3, bucket, manifest_key, json.dumps(manifest).encode(), "application/json")
    logger.info("staged %d rows in %d part(s) at %s", n, len(keys), staged.s3_prefix)
    return StagedData(**{**staged.__dict__, "uploaded": True})


def _already_staged(s3: Any, bucket: str, manifest_key: str, keys: tuple[str, ...]) -> bool:
    """The manifest is written last: with it and every part present, nothing is missing."""
    return _exists(s3, bucket, manifest_key) and all(_exists(s3, bucket, k) for k in keys)


def stage_blobs(
    s3: Any,
    bucket: str,
    key_prefix: str,
    blobs: list[tuple[str, bytes]],
    *,
    content_type: str,
    multipart_threshold: int = MULTIPART_THRESHOLD,
) -> StagedData:
    """Upload named byte strings under ``s3://bucket/key_prefix/<hash>/<name>``, unless there.

    The same content-hash and manifest scheme as :func:`stage_rows`, for data that is already
    encoded: CSV files with a header, a source tarball... ``rows_per_part`` holds the byte size
    of each blob.

    Parameters
    ----------
    s3 : botocore client
        S3 client.
    bucket, key_prefix : str
        Destination; the content hash is appended to ``key_prefix``.
    blobs : list of (name, bytes)
        File names (``[A-Za-z0-9._-]``, unique) and contents, in order.
    content_type : str
        ``ContentType`` of every object.
    multipart_threshold : int
        Blobs from this size on are sent as S3 multipart uploads.

    Returns
    -------
    StagedData

    Raises
    ------
    DataError
        No blobs, empty or duplicate names, or names with ``/``.
    RemoteJobError
        An upload failed.
    """
    if not blobs:
        raise DataError("nothing to stage: no files given")
    names = [name for name, _ in blobs]
    if len(set(names)) != len(names) or any(not n or "/" in n for n in names):
        raise DataError(f"staged file names must be unique, non-empty and without '/': {names}")
    h = hashlib.sha256()
    for name, data in blobs:
        h.update(f"{name}\0{len(data)}\0".encode())
        h.update(data)
    digest = h.hexdigest()[:20]
    base = "/".join(p for p in (key_prefix.strip("/"), digest) if p)
    keys = tuple(f"{base}/{name}" for name in names)
    manifest_key = f"{base}.manifest.json"
    staged = StagedData(
        s3_prefix=f"s3://{bucket}/{base}/",
        keys=keys,
        rows_per_part=tuple(len(data) for _, data in blobs),
        content_type=content_type,
        data_format="blob",
        digest=digest,
        uploaded=False,
    )
    if _already_staged(s3, bucket, manifest_key, keys):
        logger.info("files already staged at %s; not uploading again", staged.s3_prefix)
        return staged
    for key, (_, data) in zip(keys, blobs, strict=True):
        upload_bytes(s3, bucket, key, data, content_type, multipart_threshold)
    manifest = {
        "content_type": content_type,
        "parts": [{"key": k, "bytes": len(d)} for k, (_, d) in zip(keys, blobs, strict=True)],
    }
    upload_bytes(s3, bucket, manifest_key, json.dumps(manifest).encode(), "application/json")
    logger.info("staged %d file(s) at %s", len(keys), staged.s3_prefix)
    return StagedData(**{**staged.__dict__, "uploaded": True})


def list_objects(s3: Any, uri: str, *, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Keys of the objects under an ``s3://bucket/prefix`` (ending with ``suffixes``), sorted.

    Raises
    ------
    DataError
        A malformed URI.
    RemoteJobError
        The listing failed (no such bucket, no permission...).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from anomark._s3 import split_s3_uri

    bucket, prefix = split_s3_uri(uri)
    keys: list[str] = []
    token: str | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = s3.list_objects_v2(**kwargs)
            keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
            token = page.get("NextContinuationToken")
            if not token:
                break
    except (ClientError, BotoCoreError) as exc:
        raise RemoteJobError(f"cannot list {uri}: {exc}") from None
    return sorted(k for k in keys if not suffixes or k.endswith(suffixes))


def download_objects(s3: Any, uri: str, dest: Any, *, suffixes: tuple[str, ...] = ()) -> list[Any]:
    """Download the objects under ``uri`` (ending with ``suffixes``) into folder ``dest``.

    Each object keeps its key below the prefix as relative path (sub-folders included; keys
    that would leave ``dest`` are refused). Returns the local paths, in key order.

    Raises
    ------
    DataError
        A malformed URI, no matching object, or an unsafe key.
    RemoteJobError
        A listing or download failed.
    """
    from pathlib import Path

    from botocore.exceptions import BotoCoreError, ClientError

    from anomark._s3 import split_s3_uri

    bucket, prefix = split_s3_uri(uri)
    keys = list_objects(s3, uri, suffixes=suffixes)
    if not keys:
        raise DataError(f"no objects{' ending with ' + '/'.join(suffixes) if suffixes else ''} "
                        f"under {uri}")
    root = Path(dest).resolve()
    out = []
    for key in keys:
        rel = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
        target = (root / rel).resolve()
        if root not in target.parents:
            raise DataError(f"object key {key!r} would be written outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, key, str(target))
        except (ClientError, BotoCoreError) as exc:
            raise RemoteJobError(f"cannot download s3://{bucket}/{key}: {exc}") from None
        out.append(target)
    return out
