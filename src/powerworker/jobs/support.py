"""Small readers shared by the scheduled jobs: the envelope's `data`, counts, lists and timestamps.

The server answers `{"success": true, "data": ...}` with string keys and omits `data` when it is empty, so
every reader here defaults (`{}`, `[]`, 0) instead of failing on a missing key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from powerworker.api.envelope import data_of
from powerworker.context import JobContext

__all__ = ["as_list", "as_map", "count_of", "dig", "epoch_of", "iso", "now_iso", "unwrap"]


def unwrap(body: Any) -> Any:
    """The `data` of a reply: an envelope's `data` (None when omitted), or a bare reply as it is.

    Raises:
        ApiError: the envelope says `success: false` (status None).
    """
    if isinstance(body, Mapping) and "success" in body:
        return data_of(body)
    return body


def as_map(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty dict."""
    return dict(value) if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty list."""
    return list(value) if isinstance(value, list) else []


def dig(value: Any, path: str) -> Any:
    """The value at a dotted `path` of nested objects (`""` is `value` itself); None where a key is missing."""
    for key in filter(None, path.split(".")):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def count_of(value: Any) -> int:
    """A count read from a reply: a number as it is, a list or object by its size, anything else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, list | Mapping):
        return len(value)
    return 0


def iso(epoch_s: float) -> str:
    """An epoch time as ISO 8601 UTC with seconds, as the server's `Time#iso8601` writes it."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds")


def now_iso(ctx: JobContext) -> str:
    """The job clock's current time as ISO 8601 UTC."""
    return iso(ctx.clock.time())


def epoch_of(value: Any) -> float | None:
    """The epoch seconds of an ISO 8601 time (UTC when it names no zone); None when missing or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
