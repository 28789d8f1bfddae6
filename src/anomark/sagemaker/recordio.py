"""RecordIO-protobuf encoding of dense float32 rows, the binary input of SageMaker's built-ins.

Format (what the retired ``sagemaker.amazon.common.write_numpy_to_dense_tensor`` wrote):

* each row is one ``aialgs.data.Record`` protobuf message (``record.proto``)::

      message Float32Tensor { repeated float values = 1 [packed = true]; ... }
      message Value { optional Float32Tensor float32_tensor = 2; ... }
      message Record { map<string, Value> features = 1; map<string, Value> label = 2; ... }

  holding ``features["values"].float32_tensor.values = row``;
* each message is framed as a RecordIO record: the magic ``0xCED7230A`` and the payload
  length as little-endian uint32, the payload, then zero padding to a multiple of 4 bytes.

Because every row has the same length, every record has the same layout: the encoder builds the
constant header once and fills a ``(n_rows, record_size)`` byte matrix with numpy, so encoding
costs about one copy of the data (no per-row Python loop).
"""

from __future__ import annotations

import struct

import numpy as np

from anomark.errors import DataError

__all__ = ["CONTENT_TYPE", "RECORDIO_MAGIC", "decode_dense", "encode_dense", "record_size"]

CONTENT_TYPE = "application/x-recordio-protobuf"
RECORDIO_MAGIC = 0xCED7230A
_FEATURE_KEY = b"values"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload_len: int) -> bytes:
    """Tag (wire type 2, length-delimited) and length prefix of a field."""
    return _varint((number << 3) | 2) + _varint(payload_len)


def _header(n_features: int) -> tuple[bytes, int]:
    """The bytes before the float values of one record, and the record's payload length."""
    values_len = 4 * n_features
    tensor = _field(1, values_len)  # Float32Tensor.values (packed)
    tensor_len = len(tensor) + values_len
    value = _field(2, tensor_len)  # Value.float32_tensor
    value_len = len(value) + tensor_len
    key = _field(1, len(_FEATURE_KEY)) + _FEATURE_KEY  # map entry key
    entry_prefix = key + _field(2, value_len)  # map entry value
    entry_len = len(entry_prefix) + value_len
    record = _field(1, entry_len)  # Record.features entry
    payload = record + entry_prefix + value + tensor
    payload_len = len(payload) + values_len
    frame = struct.pack("<II", RECORDIO_MAGIC, payload_len)
    return frame + payload, payload_len


def record_size(n_features: int) -> int:
    """Bytes taken by one encoded row of ``n_features`` values (framing and padding included)."""
    head, payload_len = _header(n_features)
    return len(head) + 4 * n_features + (-payload_len) % 4


def encode_dense(rows: np.ndarray) -> bytes:
    """Encode a 2-D array as RecordIO-protobuf, one float32 ``Record`` per row.

    Parameters
    ----------
    rows : numpy.ndarray, shape (n_rows, n_features)
        Finite values; they are cast to float32 (the precision SageMaker's RCF works in).

    Returns
    -------
    bytes

    Raises
    ------
    DataError
        When ``rows`` is not 2-D, is empty or holds non-finite values.
    """
    arr = np.asarray(rows)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"RecordIO encoding needs a non-empty 2-D array, got shape {arr.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.ascontiguousarray(arr, dtype="<f4")
    if not np.isfinite(values).all():
        raise DataError(
            "RecordIO encoding needs finite values (NaN/inf found or overflow in float32)"
        )
    n, d = values.shape
    head, payload_len = _header(d)
    pad = (-payload_len) % 4
    size = len(head) + 4 * d + pad
    buf = np.zeros((n, size), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    buf[:, len(head) : len(head) + 4 * d] = values.view(np.uint8).reshape(n, 4 * d)
    return buf.tobytes()


def _read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise DataError("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes | memoryview) -> list[tuple[int, int, bytes | int]]:
    """Parse one protobuf message into ``(field_number, wire_type, value)`` triples."""
    out: list[tuple[int, int, bytes | int]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
            out.append((number, wire, value))
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise DataError("truncated protobuf field")
            out.append((number, wire, bytes(data[pos : pos + length])))
            pos += length
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            out.append((number, wire, bytes(data[pos : pos + width])))
            pos += width
        else:
            raise DataError(f"unsupported protobuf wire type {wire}")
    return out


def _decode_record(payload: bytes) -> np.ndarray:
    for number, _, entry in _fields(payload):
        if number != 1 or not isinstance(entry, bytes):
            continue  # label, uid, metadata...
        parts = {n: v for n, _, v in _fields(entry)}
        if parts.get(1) != _FEATURE_KEY or not isinstance(parts.get(2), bytes):
            continue
        value = {n: v for n, _, v in _fields(parts[2])}  # type: ignore[arg-type]
        tensor = value.get(2)
        if not isinstance(tensor, bytes):
            raise DataError("RecordIO record has no float32 tensor under features['values']")
        chunks = [v for n, w, v in _fields(tensor) if n == 1]
        raw = b"".join(c if isinstance(c, bytes) else b"" for c in chunks)
        return np.frombuffer(raw, dtype="<f4").copy()
    raise DataError("RecordIO record has no features['values']")


def decode_dense(data: bytes) -> np.ndarray:
    """Inverse of :func:`encode_dense`: parse the framing and protobuf and return float32 rows.

    Raises
    ------
    DataError
        On a bad magic number, truncated data, or rows of different lengths.
    """
    view = memoryview(data)
    rows: list[np.ndarray] = []
    pos = 0
    while pos < len(view):
        if pos + 8 > len(view):
            raise DataError("truncated RecordIO header")
        magic, length = struct.unpack_from("<II", view, pos)
        if magic != RECORDIO_MAGIC:
            raise DataError(f"bad RecordIO magic {magic:#x} at byte {pos}")
        length &= (1 << 29) - 1  # upper 3 bits: continuation flag, 0 for whole records
        start = pos + 8
        if start + length > len(view):
            raise DataError("truncated RecordIO record")
        rows.append(_decode_record(bytes(view[start : start + length])))
        pos = start + length + (-length) % 4
    if not rows:
        return np.empty((0, 0), dtype=np.float32)
    if len({r.shape[0] for r in rows}) != 1:
        raise DataError("RecordIO records have different lengths; not a dense matrix")
    return np.stack(rows)
