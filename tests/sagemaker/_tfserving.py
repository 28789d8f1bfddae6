"""An emulator of SageMaker's TensorFlow Serving container, for the moto-backed tests.

It answers as the real stack does, from its sources:

* TensorFlow Serving's REST API (``tensorflow_serving/util/json_tensor.cc``): row format
  (``instances`` → ``predictions``) and columnar format (``inputs`` → ``outputs``), the
  ``signature_name`` key, and its JSON formatting — rapidjson's ``PrettyWriter`` (4-space
  indent; items of a row-format reply on one line, ``", "`` between values) and ``WriteDecimal``
  (absl's six significant digits when they round-trip, else ``%.9g`` for float32 / ``%.17g``
  for float64, ``.0`` after whole numbers). Errors are ``{ "error": "..." }`` with HTTP 400.
* The SageMaker container's nginx script (``tensorflowServing.js``): ``application/json`` and
  ``application/jsonlines`` bodies that already hold ``instances``/``inputs`` pass through;
  other JSON Lines become ``{"instances": [line, ...]}``; with an ``Accept`` of JSON the newlines
  of the reply are removed.
* SageMaker's limits: InvokeEndpoint refuses requests and replies over 6,291,456 bytes; a batch
  transform record must fit ``MaxPayloadInMB``; ``SplitType=Line`` splits the input at line
  ends, ``SingleRecord`` sends one line per request, ``AssembleWith=Line`` writes one reply per
  line to ``<input>.out``.

The model itself is the real exported SavedModel, loaded with ``tf.saved_model.load``, so the
signatures the tests exercise are the ones TF Serving would run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _sagemaker_moto import Moto, fake_error

LIMIT = 6_291_456


# ---------------------------------------------------------------------------- formatting
def decimal(value: float, dtype: str) -> str:
    """``WriteDecimal``: one float as TF Serving writes it."""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "-Infinity" if v < 0 else "Infinity"
    text = f"{v:.6g}"
    back = np.float32(float(text)) if dtype == "float32" else float(text)
    if back != (np.float32(v) if dtype == "float32" else v):
        text = ("%.9g" if dtype == "float32" else "%.17g") % v
    if "." not in text and "e" not in text:
        text += ".0"
    return text


def _single_line(arr: np.ndarray, dtype: str) -> str:
    if arr.ndim == 0:
        return decimal(arr.item(), dtype)
    return "[" + ", ".join(_single_line(a, dtype) for a in arr) + "]"


def _pretty(arr: np.ndarray, dtype: str, level: int) -> str:
    if arr.ndim == 0:
        return decimal(arr.item(), dtype)
    if arr.shape[0] == 0:
        return "[]"
    pad = "    " * (level + 1)
    inner = ",".join("\n" + pad + _pretty(a, dtype, level + 1) for a in arr)
    return "[" + inner + "\n" + "    " * level + "]"


def row_reply(outputs: dict[str, np.ndarray]) -> str:
    """``MakeRowFormatJsonFromTensors``: items on one line each, objects for several outputs."""
    names = sorted(outputs)
    n = len(next(iter(outputs.values())))
    items = []
    for i in range(n):
        if len(names) == 1:
            arr = outputs[names[0]]
            items.append(_single_line(arr[i], arr.dtype.name))
        else:
            fields = ",".join(
                f'\n            "{k}": {_single_line(outputs[k][i], outputs[k].dtype.name)}'
                for k in names
            )
            items.append("\n        {" + fields + "\n        }")
    return '{\n    "predictions": [' + ", ".join(items) + "\n    ]\n}"


def columnar_reply(outputs: dict[str, np.ndarray]) -> str:
    """``MakeColumnarFormatJsonFromTensors``: the default (multi-line) pretty format."""
    if len(outputs) == 1:
        (arr,) = outputs.values()
        return '{\n    "outputs": ' + _pretty(arr, arr.dtype.name, 1) + "\n}"
    fields = ",".join(
        f'\n        "{k}": {_pretty(v, v.dtype.name, 2)}' for k, v in sorted(outputs.items())
    )
    return '{\n    "outputs": {' + fields + "\n    }\n}"


def error_reply(message: str) -> str:
    return '{ "error": ' + json.dumps(message) + " }"


# ---------------------------------------------------------------------------- the server
@dataclass
class TFServing:
    """TF Serving + the SageMaker container's front end, over a real SavedModel folder."""

    model_dir: Path
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        import tensorflow as tf

        self._tf = tf
        self.loaded = tf.saved_model.load(str(self.model_dir))

    def predict(self, doc: Any) -> tuple[int, str]:
        """TF Serving's ``:predict`` on a parsed JSON request."""
        tf = self._tf
        if not isinstance(doc, dict):
            return 400, error_reply("JSON Value is not an object")
        name = doc.get("signature_name", "serving_default")
        self.requests.append({"signature": name, "format": "inputs" if "inputs" in doc else
                              "instances"})
        if name not in self.loaded.signatures:
            return 400, error_reply(f'Serving signature name: "{name}" not found in signature def')
        sig = self.loaded.signatures[name]
        specs = sig.structured_input_signature[1]
        (input_name, spec), = specs.items()
        if "instances" in doc:
            values, columnar = doc["instances"], False
        elif "inputs" in doc:
            values, columnar = doc["inputs"], True
            if isinstance(values, dict):
                values = values.get(input_name)
        else:
            return 400, error_reply("Missing 'inputs' or 'instances' key")
        try:
            x = tf.constant(np.asarray(values, dtype=spec.dtype.as_numpy_dtype))
            out = {k: v.numpy() for k, v in sig(**{input_name: x}).items()}
        except Exception as exc:  # what TF Serving reports as a 400 with the op's message
            return 400, error_reply(str(exc).splitlines()[0])
        return 200, columnar_reply(out) if columnar else row_reply(out)

    def invocations(self, body: bytes, content_type: str, accept: str | None) -> tuple[int, str]:
        """The container's nginx ``invocations`` handler."""
        if content_type not in ("application/json", "application/jsonlines", "application/jsons"):
            return 415, error_reply(f"Unsupported Media Type: {content_type}")
        text = body.decode("utf-8")
        import re

        if re.search(r'"(instances|inputs|examples)"\s*:', text):
            payload = text
        elif re.search(r"[}\]]\s*[\[{]", text):  # JSON Lines of instances
            lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
            payload = '{"instances":' + ("[" + ",".join(lines) + "]" if len(lines) != 1
                                         else lines[0]) + "}"
        else:
            payload = '{"instances":' + (text if text.lstrip().startswith("[[") else
                                         "[" + text + "]") + "}"
        try:
            doc = json.loads(payload)
        except json.JSONDecodeError as exc:
            return 400, error_reply(f"JSON Parse error: {exc}")
        status, reply = self.predict(doc)
        if accept and ("application/json" in accept or "application/jsonlines" in accept):
            reply = reply.replace("\n", "")
        return status, reply


# ---------------------------------------------------------------------------- moto glue
@dataclass
class EndpointLog:
    limit: int = LIMIT
    bodies: list[bytes] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def serve_endpoint(aws: Moto, tfs: TFServing, *, limit: int = LIMIT) -> EndpointLog:
    """Answer every InvokeEndpoint as the TF Serving container would, under the 6 MB caps."""
    log = EndpointLog(limit=limit)
    answered: set[tuple[str, bytes, str]] = set()

    def handler(params: dict[str, Any], **_: Any) -> Any:
        body = params["body"]
        body = body if isinstance(body, bytes) else body.read()
        headers = params.get("headers", {})
        log.bodies.append(body)
        # moto answers a body it has seen on an endpoint from its cache, without taking the
        # next queued result: queue only for new requests (replies are deterministic)
        key = (str(params.get("url_path")), body, str(headers.get("Accept")))
        if len(body) > log.limit:
            log.refused.append("request")
            return fake_error("413", 413, f"HTTP content length exceeded {log.limit} bytes.")
        status, reply = tfs.invocations(
            body, headers.get("Content-Type", ""), headers.get("Accept")
        )
        if status != 200:
            return fake_error(
                "ModelError", 424, f"Received client error ({status}) from primary with "
                f"message \"{reply}\""
            )
        size = len(reply.encode())
        log.replies.append(size)
        if size > log.limit:
            log.refused.append("reply")
            return fake_error(
                "ModelError", 424, f"Response payload size exceeded the limit of {log.limit} bytes"
            )
        if key not in answered:
            answered.add(key)
            aws.queue_endpoint_results([reply])
        return None

    aws.before_call("sagemaker-runtime", "InvokeEndpoint", handler)
    return log


@dataclass
class TransformLog:
    jobs: list[dict[str, Any]] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def serve_transform(
    aws: Moto,
    tfs: TFServing,
    *,
    drop_last_reply: bool = False,
    reject_record: int | None = None,
) -> TransformLog:
    """Run each CreateTransformJob's records through the emulator and write ``.out`` files.

    A record over ``MaxPayloadInMB`` or a reply other than 200 fails the job with a
    ``FailureReason`` (as SageMaker does); ``drop_last_reply`` writes an output one reply short
    (as an interrupted instance might) while the job still completes; ``reject_record``
    makes that record (0-based, over the whole job) get TF Serving's 400 reply.
    """
    log = TransformLog()
    s3 = aws.client("s3")

    def handler(params: dict[str, Any], **_: Any) -> None:
        log.jobs.append(params)
        limit = int(params.get("MaxPayloadInMB", 6)) * 2**20
        single = params.get("BatchStrategy") == "SingleRecord"
        data_in = params["TransformInput"]
        in_uri = data_in["DataSource"]["S3DataSource"]["S3Uri"]
        out_uri = params["TransformOutput"]["S3OutputPath"]
        accept = params["TransformOutput"].get("Accept")
        in_bucket, _, in_prefix = in_uri[5:].partition("/")
        out_bucket, _, out_prefix = out_uri[5:].partition("/")
        listing = s3.list_objects_v2(Bucket=in_bucket, Prefix=in_prefix)
        for obj in listing.get("Contents", []):
            rel = obj["Key"][len(in_prefix) :].lstrip("/")
            data = s3.get_object(Bucket=in_bucket, Key=obj["Key"])["Body"].read()
            lines = [line for line in data.split(b"\n") if line.strip()]
            requests = lines if single else [b"\n".join(lines)]
            replies = []
            for request in requests:
                log.records.append(len(request))
                if len(request) > limit:
                    log.failures.append(
                        f"ClientError: record of {len(request)} bytes exceeds MaxPayloadInMB"
                    )
                    continue
                if reject_record is not None and len(log.records) - 1 == reject_record:
                    status, reply = 400, '{ "error": "Failed to process element: 0" }'
                else:
                    status, reply = tfs.invocations(request, data_in["ContentType"], accept)
                if status != 200:
                    log.failures.append(f"ClientError: {status}: {reply}")
                    continue
                replies.append(reply)
            if drop_last_reply:
                replies = replies[:-1]
            key = f"{out_prefix.rstrip('/')}/{rel}.out"
            s3.put_object(Bucket=out_bucket, Key=key, Body="".join(r + "\n" for r in replies))

    def fail(parsed: dict[str, Any], **_: Any) -> None:
        if log.failures:
            name = parsed["TransformJobArn"].rsplit("/", 1)[-1]
            job = aws.sagemaker_backend().transform_jobs[name]
            job.transform_job_status = "Failed"
            job.failure_reason = log.failures[0][:1000]

    aws.session.events.register("provide-client-params.sagemaker.CreateTransformJob", handler)
    aws.after_call("sagemaker", "CreateTransformJob", fail)
    return log
