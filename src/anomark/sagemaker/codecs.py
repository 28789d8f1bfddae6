"""What goes over the wire to a SageMaker container, and how big the reply can get.

A :class:`PayloadCodec` encodes items into request bodies and decodes replies:

* :class:`CSVScoresCodec` — Random Cut Forest: CSV rows in, ``{"scores": [{"score": x}]}`` or
  JSON Lines out (:func:`parse_scores`);
* :class:`TFServingCodec` — TensorFlow Serving's REST row format: ``{"instances": [...]}`` in
  (optionally with a ``"signature_name"``), ``{"predictions": [...]}`` out.

InvokeEndpoint caps the request *and* the reply at 6 MB (:data:`INVOKE_LIMIT_BYTES`). TensorFlow
Serving writes replies much larger than compact requests — each float as absl's six-digit form
when it round-trips and ``%.9g`` (float32) / ``%.17g`` (float64) otherwise, ``.0`` after whole
numbers, ``", "`` between values (``tensorflow_serving/util/json_tensor.cc``, ``WriteDecimal`` and
``MakeRowFormatJsonFromTensors`` with rapidjson's ``PrettyWriter``) — so a request of zero-heavy
or integer data grows several-fold. :class:`TFServingCodec` therefore bounds every request by the
largest reply it can produce (:meth:`TFServingCodec.max_reply_bytes`) as well as by its own size.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from anomark.errors import DataError, RemoteJobError
from anomark.sagemaker.staging import check_rows, csv_row_bytes

__all__ = [
    "INVOKE_LIMIT_BYTES",
    "CSVScoresCodec",
    "PayloadCodec",
    "TFServingCodec",
    "chunk_rows",
    "encode_columnar_request",
    "encode_instances",
    "parse_predictions",
    "parse_scores",
    "reply_item_bytes",
]

#: InvokeEndpoint's limit on the request body and on the model's reply (6 MB).
INVOKE_LIMIT_BYTES = 6 * 1024 * 1024
#: Widest text TF Serving writes for one value of each dtype: ``%.9g`` of a float32
#: (``-1.17549435e-38``) and ``%.17g`` of a float64 (``-2.2250738585072014e-308``).
VALUE_WIDTH = {"float32": 15, "float64": 24}
#: What ``MakeRowFormatJsonFromTensors`` writes around the items of a one-output reply.
_REPLY_OPEN = b'{\n    "predictions": ['
_REPLY_CLOSE = b"\n    ]\n}"
_ITEM_SEPARATOR = 2  # ", " between items and between the values of one item


def chunk_rows(
    lines: Sequence[bytes],
    max_bytes: int,
    *,
    max_items: int | None = None,
    what: str = "row is {n} bytes as CSV",
    hint: str = "use batch scoring or a smaller shingle",
) -> list[tuple[int, int]]:
    """Group consecutive encoded items into ``(start, stop)`` chunks of at most ``max_bytes``.

    ``max_items`` also caps the number of items per chunk (e.g. so that the reply fits);
    ``what`` and ``hint`` word the error for the caller's kind of item.

    Raises
    ------
    DataError
        When one item alone is larger than ``max_bytes``.
    """
    sizes = np.fromiter((len(line) for line in lines), dtype=np.int64, count=len(lines))
    if sizes.size and sizes.max() > max_bytes:
        raise DataError(
            f"one {what.format(n=int(sizes.max()))}, more than the {max_bytes}-byte "
            f"endpoint payload limit; {hint}"
        )
    cap = len(lines) if max_items is None else max(1, int(max_items))
    out: list[tuple[int, int]] = []
    start = 0
    ends = np.cumsum(sizes)
    while start < len(lines):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + max_bytes, side="right"))
        stop = min(stop, start + cap)
        out.append((start, stop))
        start = stop
    return out


# ---------------------------------------------------------------------------- RCF replies
def parse_scores(body: bytes | str, expected: int | None = None) -> np.ndarray:
    """Scores from an RCF reply: JSON ``{"scores": [{"score": x}, ...]}`` or JSON Lines.

    JSON Lines are accepted with or without a comma after each record: AWS's Random Cut Forest
    documentation prints batch transform output as ``{"score": 0.02},`` one per line, which is
    not valid JSON Lines, while the container writes plain ``{"score": 0.02}`` lines.

    Raises
    ------
    RemoteJobError
        When the body is not one of those forms, or holds ``expected`` scores not.
    """
    text = body.decode("utf-8") if isinstance(body, bytes | bytearray) else body
    scores: list[float] = []
    try:
        stripped = text.strip()
        try:
            docs: list[Any] = [json.loads(stripped)] if stripped else []
        except json.JSONDecodeError:
            docs = []
            for line in stripped.splitlines():
                line = line.strip().rstrip(",").strip()
                if not line:
                    continue
                try:
                    docs.append(json.loads(line))
                except json.JSONDecodeError:
                    docs.append(json.loads(f"[{line}]"))  # '{"score": 1}, {"score": 2}'
        for doc in docs:
            _collect(doc, scores)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RemoteJobError(
            f"cannot read RCF scores from the reply ({exc}); got {text[:200]!r}"
        ) from None
    out = np.asarray(scores, dtype=np.float64)
    if expected is not None and out.shape[0] != expected:
        raise RemoteJobError(f"expected {expected} scores in the reply, got {out.shape[0]}")
    if not np.isfinite(out).all():
        raise RemoteJobError("the reply holds non-finite scores")
    return out


def _collect(doc: Any, scores: list[float]) -> None:
    if isinstance(doc, list):
        for item in doc:
            _collect(item, scores)
    elif isinstance(doc, dict) and "scores" in doc:
        _collect(doc["scores"], scores)
    elif isinstance(doc, dict) and "score" in doc:
        value = doc["score"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"score must be a number, got {value!r}")
        scores.append(float(value))
    else:
        raise KeyError(f"no 'score' or 'scores' in {str(doc)[:80]}")


# ---------------------------------------------------------------------------- TF Serving
def encode_instances(x: np.ndarray) -> list[bytes]:
    """Each item of ``x`` (first axis) as a JSON nested list, float32 values in ``%.9g``.

    Nine significant digits round-trip float32 exactly, in about half the bytes of
    ``json.dumps(x.tolist())`` (which writes the float64 expansion of every float32).
    """
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim < 2:
        raise DataError(f"expected items of at least 1 dimension, got shape {arr.shape}")
    if arr.shape[0] == 0:
        return []
    if arr.ndim >= 3 and arr.shape[-1] == 1:
        # (..., n, 1): format whole rows of n one-element lists at once (much faster)
        rows, fmt, groups = arr.reshape(-1, arr.shape[-2]), "[%.9g]", arr.shape[1:-2]
    else:
        rows, fmt, groups = arr.reshape(-1, arr.shape[-1]), "%.9g", arr.shape[1:-1]
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt=fmt, delimiter=",")
    items = ["[" + line + "]" for line in buf.getvalue().splitlines()]
    for size in reversed(groups):
        items = ["[" + ",".join(items[i : i + size]) + "]" for i in range(0, len(items), size)]
    return [item.encode("ascii") for item in items]


def encode_columnar_request(values: np.ndarray, signature: str, input_name: str) -> bytes:
    """A TF Serving columnar request ``{"signature_name": ..., "inputs": {name: [[...]]}}``.

    Values are written with 17 significant digits, so float64 data arrives exactly; the
    request is one line (no newline inside), as a JSON Lines record must be.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DataError(f"expected a non-empty 2-D block of rows, got shape {arr.shape}")
    buf = io.StringIO()
    np.savetxt(buf, arr, fmt="%.17g", delimiter=",")
    rows = ",".join("[" + line + "]" for line in buf.getvalue().splitlines())
    head = json.dumps({"signature_name": signature})[:-1]
    return f'{head},"inputs":{{{json.dumps(input_name)}:[{rows}]}}}}'.encode("ascii")


def reply_item_bytes(shape: Sequence[int], dtype: str = "float32") -> int:
    """The most bytes TF Serving can write for one prediction of ``shape`` and ``dtype``.

    Nested lists are written on one line: ``[`` + values separated by ``", "`` + ``]``, each
    value at most :data:`VALUE_WIDTH` characters.
    """
    size = VALUE_WIDTH[dtype]
    for d in reversed(tuple(int(x) for x in shape)):
        size = 2 + d * size + _ITEM_SEPARATOR * max(d - 1, 0)
    return size


def parse_predictions(
    body: bytes | str,
    expected: int | None = None,
    item_shape: Sequence[int] | None = None,
    *,
    dtype: type = np.float32,
) -> np.ndarray:
    """The predictions of a TensorFlow Serving reply as an array.

    Parameters
    ----------
    body : bytes or str
        ``{"predictions": [...]}`` (row format) or ``{"outputs": [...]}`` (columnar format).
    expected : int, optional
        Number of predictions the request asked for.
    item_shape : sequence of int, optional
        Shape of one prediction; a trailing axis of size 1 may be present or not.
    dtype : numpy dtype, default float32
        Type of the returned array (float64 for the ``score`` signature's errors).

    Raises
    ------
    RemoteJobError
        Not JSON, no predictions (an ``error`` reply is quoted), ragged or non-numeric
        values, the wrong number or shape of predictions, or non-finite values.
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteJobError(f"the reply is not JSON ({exc}); got {text[:200]!r}") from None
    key = next((k for k in ("predictions", "outputs") if isinstance(doc, dict) and k in doc), None)
    if key is None:
        detail = doc.get("error") if isinstance(doc, dict) else None
        raise RemoteJobError(
            "the reply holds no 'predictions'"
            + (f": {detail}" if detail else f"; got {text[:200]!r}")
        )
    try:
        out: np.ndarray = np.asarray(doc[key], dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise RemoteJobError(f"the predictions are not a numeric array: {exc}") from None
    if expected is not None and (out.ndim == 0 or out.shape[0] != expected):
        got = out.shape[0] if out.ndim else 0
        raise RemoteJobError(f"expected {expected} predictions in the reply, got {got}")
    if item_shape is not None:
        shape = tuple(int(d) for d in item_shape)
        if out.shape[1:] != shape:
            if (*out.shape[1:], 1) == shape or out.shape[1:] == (*shape, 1):
                out = out.reshape((out.shape[0], *shape))
            else:
                raise RemoteJobError(
                    f"predictions have shape {out.shape[1:]} per item, expected {shape}"
                )
    if not np.isfinite(out).all():
        raise RemoteJobError("the reply holds non-finite predictions")
    return out


# ---------------------------------------------------------------------------- codecs
class PayloadCodec(Protocol):
    """How an :class:`~anomark.sagemaker.endpoints.Endpoint` encodes requests and replies."""

    content_type: str
    accept: str

    def prepare(self, data: Any) -> np.ndarray:
        """Validate ``data`` (raise :class:`DataError`) and return it as an array."""
        ...

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        """``(start, stop, body)`` for consecutive items; body and reply at most ``max_bytes``."""
        ...

    def encode(self, data: np.ndarray) -> bytes:
        """One request body holding every item of ``data`` (for split-and-retry)."""
        ...

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        """The ``expected`` results in a reply (raise :class:`RemoteJobError` otherwise)."""
        ...


class CSVScoresCodec:
    """Random Cut Forest: CSV rows in, one score per row out (:func:`parse_scores`).

    Parameters
    ----------
    feature_dim : int, optional
        Expected row width, checked before sending.
    """

    content_type = "text/csv"
    accept = "application/json"

    def __init__(self, feature_dim: int | None = None) -> None:
        self.feature_dim = feature_dim

    def prepare(self, data: Any) -> np.ndarray:
        arr = check_rows(data)
        if self.feature_dim is not None and arr.shape[1] != self.feature_dim:
            raise DataError(
                f"rows have {arr.shape[1]} values but the model was trained on "
                f"feature_dim={self.feature_dim}"
            )
        return arr

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        # a reply holds one '{"score": x}' per row, far smaller than the CSV row itself
        lines = csv_row_bytes(data)
        for start, stop in chunk_rows(lines, max_bytes):
            yield start, stop, b"".join(lines[start:stop])

    def encode(self, data: np.ndarray) -> bytes:
        return b"".join(csv_row_bytes(data))

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        return parse_scores(body, expected=expected)


class TFServingCodec:
    """TensorFlow Serving's REST row format: ``{"instances": [...]}`` → ``{"predictions"}``.

    Parameters
    ----------
    item_shape : sequence of int
        Shape of one instance (without the batch axis), e.g. ``(window_size, n_features, 1)``;
        inputs of shape ``item_shape`` without its trailing 1 are accepted too.
    signature : str, optional
        ``signature_name`` of the request (default: the model's ``serving_default``).
    output_shape : sequence of int, optional
        Shape of one prediction (default ``item_shape``: a reconstruction); ``()`` for one
        number per instance.
    output_dtype : {"float32", "float64"}, default "float32"
        Type of the predictions (bounds the reply's size and sets the parsed type).
    """

    content_type = "application/json"
    accept = "application/json"
    _CLOSE = b"]}"

    def __init__(
        self,
        item_shape: Sequence[int],
        *,
        signature: str | None = None,
        output_shape: Sequence[int] | None = None,
        output_dtype: str = "float32",
    ) -> None:
        self.item_shape = tuple(int(d) for d in item_shape)
        self.signature = signature
        self.output_shape = (
            self.item_shape if output_shape is None else tuple(int(d) for d in output_shape)
        )
        if output_dtype not in VALUE_WIDTH:
            raise DataError(f"output_dtype must be float32 or float64, got {output_dtype!r}")
        self.output_dtype = output_dtype

    def __repr__(self) -> str:
        return (
            f"TFServingCodec({self.item_shape}, signature={self.signature!r}, "
            f"output_shape={self.output_shape}, output_dtype={self.output_dtype!r})"
        )

    @property
    def _open(self) -> bytes:
        if self.signature is None:
            return b'{"instances":['
        return b'{"signature_name":' + json.dumps(self.signature).encode() + b',"instances":['

    def max_reply_bytes(self, n_items: int) -> int:
        """The largest reply TF Serving can send for ``n_items`` instances."""
        per_item = reply_item_bytes(self.output_shape, self.output_dtype)
        seps = _ITEM_SEPARATOR * max(n_items - 1, 0)
        return len(_REPLY_OPEN) + len(_REPLY_CLOSE) + n_items * per_item + seps

    def max_items(self, max_bytes: int) -> int:
        """Most instances per request whose reply cannot exceed ``max_bytes``.

        Raises
        ------
        DataError
            When even one instance's reply could exceed ``max_bytes``.
        """
        per_item = reply_item_bytes(self.output_shape, self.output_dtype) + _ITEM_SEPARATOR
        room = max_bytes - len(_REPLY_OPEN) - len(_REPLY_CLOSE) + _ITEM_SEPARATOR
        if room < per_item:
            raise DataError(
                f"one prediction of shape {self.output_shape} can take {per_item} bytes as TF "
                f"Serving writes it, more than the {max_bytes}-byte reply limit; use smaller "
                "windows or fewer columns, or score with the 'score' signature"
            )
        return room // per_item

    def prepare(self, data: Any) -> np.ndarray:
        arr = np.asarray(data)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise DataError(f"instances must be real numbers, got dtype {arr.dtype}")
        shape = self.item_shape
        if arr.ndim >= 1 and (*arr.shape[1:], 1) == shape:
            arr = arr[..., None]
        if arr.ndim != len(shape) + 1 or arr.shape[1:] != shape or arr.shape[0] == 0:
            raise DataError(
                f"expected a non-empty array of instances of shape {shape}, got {arr.shape}"
            )
        arr = np.asarray(arr, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise DataError("instances contain NaN or infinite values (after float32 cast)")
        return arr

    def encode(self, data: np.ndarray) -> bytes:
        return self._open + b",".join(encode_instances(data)) + self._CLOSE

    def requests(self, data: np.ndarray, max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
        opening = self._open
        overhead = len(opening) + len(self._CLOSE)
        cap = self.max_items(max_bytes)
        # encode a bounded number of instances at a time: memory stays flat for large inputs
        block = max(1, 2**22 // max(1, math.prod(self.item_shape)))
        for a in range(0, data.shape[0], block):
            items = encode_instances(data[a : a + block])
            sized = [item + b"," for item in items]  # the separator counts against the limit
            for start, stop in chunk_rows(
                sized,
                max_bytes - overhead + 1,
                max_items=cap,
                what="instance is {n} bytes as JSON",
                hint="use smaller windows or fewer columns",
            ):
                body = opening + b",".join(items[start:stop]) + self._CLOSE
                yield a + start, a + stop, body

    def parse(self, body: bytes, expected: int) -> np.ndarray:
        dtype = np.float64 if self.output_dtype == "float64" else np.float32
        return parse_predictions(body, expected, self.output_shape, dtype=dtype)
