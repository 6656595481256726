"""The JSON wire format of job payloads and results (never pickle).

A job payload is a JSON object `{"f": name, "a": [args], "k": {kwargs}, "et": enqueue_ms, "t": try|null,
"q": logical queue}` (see docs/wire-format.md). The deserializer never raises for a job payload: anything it
cannot run becomes a call of one of two internal jobs, so the worker records it in the dead set with the raw
payload instead of failing somewhere arq would only log it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Container
from datetime import date, datetime
from typing import Any

__all__ = [
    "MALFORMED_JOB",
    "QUEUE_KWARG",
    "UNKNOWN_JOB",
    "dumps",
    "make_job_deserializer",
    "serialize",
]

#: Internal job that records a payload that is not a valid job.
MALFORMED_JOB = "powerworker:malformed"
#: Internal job that records a payload naming no registered job.
UNKNOWN_JOB = "powerworker:unknown"
#: Reserved keyword carrying the payload's logical queue from the deserializer to the job runner.
QUEUE_KWARG = "__queue__"

RAW_PREVIEW_BYTES = 64 * 1024


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {"error_class": type(value).__name__, "message": str(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return repr(value)


def dumps(value: Any) -> str:
    """Compact JSON; values JSON cannot hold become their closest JSON form (exceptions become objects)."""
    return json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)


def serialize(value: Any) -> bytes:
    """arq's `job_serializer`: compact UTF-8 JSON."""
    return dumps(value).encode()


def _malformed(raw: bytes, problem: str) -> dict[str, Any]:
    text = raw[:RAW_PREVIEW_BYTES].decode("utf-8", "replace")
    return {"f": MALFORMED_JOB, "a": [text, problem], "k": {}, "t": None, "et": 0}


def make_job_deserializer(known_jobs: Container[str]) -> Callable[[bytes], dict[str, Any]]:
    """arq's `job_deserializer`: JSON in, arq's payload dict out, bad payloads turned into internal jobs.

    Args:
        known_jobs: the registered job names; other names are routed to `UNKNOWN_JOB`.
    """

    def deserialize(raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _malformed(raw, f"payload is not JSON: {exc}")
        if not isinstance(data, dict):
            return _malformed(raw, "payload is not a JSON object")
        if "s" in data and "r" in data:  # a stored result, read back by a client
            return data
        name, args, kwargs = data.get("f"), data.get("a", []), data.get("k", {})
        enqueued_ms, queue = data.get("et", 0), data.get("q")
        if not isinstance(name, str) or not name:
            return _malformed(raw, "field 'f' (job name) must be a non-empty string")
        if not isinstance(args, list):
            return _malformed(raw, "field 'a' (args) must be an array")
        if not isinstance(kwargs, dict):
            return _malformed(raw, "field 'k' (kwargs) must be an object")
        if not isinstance(enqueued_ms, int) or isinstance(enqueued_ms, bool):
            return _malformed(raw, "field 'et' (enqueue time, ms) must be an integer")
        if queue is not None and not isinstance(queue, str):
            return _malformed(raw, "field 'q' (queue) must be a string")
        job_try = data.get("t")
        if name not in known_jobs:
            return {
                "f": UNKNOWN_JOB,
                "a": [name, args, kwargs],
                "k": {QUEUE_KWARG: queue},
                "t": None,
                "et": enqueued_ms,
            }
        if queue is not None:
            kwargs = {**kwargs, QUEUE_KWARG: queue}
        return {
            "f": name,
            "a": args,
            "k": kwargs,
            "t": job_try if isinstance(job_try, int) else None,
            "et": enqueued_ms,
        }

    return deserialize
