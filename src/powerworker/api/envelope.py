"""The Powernode server's response envelope.

Success: `{"success": true, "data": ..., "meta"?, "message"?}`. Failure: `{"success": false, "error": "<msg>",
"code"?, "details"?}`. Keys are strings (the original's symbol-key reads were bugs; see the spec §9.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from powerworker.api.responses import server_message
from powerworker.errors import ApiError

__all__ = ["Envelope", "data_of", "error_of", "is_success"]


class Envelope(TypedDict):
    """The server's reply to almost every call."""

    success: bool
    data: NotRequired[Any]
    error: NotRequired[str]
    message: NotRequired[str]
    meta: NotRequired[Any]
    code: NotRequired[str]
    details: NotRequired[Any]


def is_success(response: Any) -> bool:
    """Whether `response` is an envelope that says `success: true`."""
    return isinstance(response, Mapping) and response.get("success") is True


def error_of(response: Any) -> str | None:
    """The failure message of an envelope, or None when it succeeded."""
    if is_success(response):
        return None
    return server_message(response) or "Unknown error"


def data_of(response: Any, *, service: str = "backend_api") -> Any:
    """The `data` of a successful envelope.

    Raises:
        ApiError: the envelope says `success: false` (status None: the HTTP call succeeded, the operation
            did not; `body` holds the envelope, so `code` and `details` stay reachable), or the reply is
            not an envelope at all.
    """
    if is_success(response):
        return response.get("data")
    if isinstance(response, Mapping) and "success" in response:
        raise ApiError(error_of(response) or "Unknown error", status=None, body=response, service=service)
    raise ApiError("Response is not a Powernode envelope", status=None, body=response, service=service)
