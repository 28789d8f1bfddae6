"""The one splitter of ``s3://bucket/key`` URIs (user input, staging, model artefacts)."""

from __future__ import annotations

from typing import Any

from anomark.errors import DataError

__all__ = ["is_s3_uri", "split_s3_uri"]


def is_s3_uri(value: Any) -> bool:
    """Whether ``value`` is a string starting with ``s3://``."""
    return isinstance(value, str) and value.startswith("s3://")


def split_s3_uri(uri: Any) -> tuple[str, str]:
    """Split ``s3://bucket/key/prefix`` into ``(bucket, "key/prefix")``.

    The key may be empty (``s3://bucket`` or ``s3://bucket/``).

    Raises
    ------
    DataError
        Not a string starting with ``s3://``, or no bucket name.

    Examples
    --------
    >>> split_s3_uri("s3://my-bucket/data/2024/")
    ('my-bucket', 'data/2024/')
    """
    if not is_s3_uri(uri):
        raise DataError(f"expected an s3://bucket/prefix URI, got {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise DataError(f"no bucket name in {uri!r} (expected s3://bucket/prefix)")
    return bucket, key
