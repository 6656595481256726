"""From an HTTP outcome to a value or an `ApiError`, as the original worker mapped them.

Statuses: 400 server message or `Bad request`; 401 `Service authentication failed`; 403 `Service access
forbidden`; 404 server message or `Resource not found`; 422 server message or `Unprocessable entity`; 5xx
`Backend server error`; anything else that is not 2xx `Unexpected response: <status>`. The server message is
the body's `message`, else `error`, else `errors.message` (a hash) or the first of `errors` (a list).
Transport failures: a timeout becomes status 408, a failed or dropped connection (also in the middle of the
reply) 503, any other client error None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from powerworker.errors import ApiError

__all__ = ["error_for_status", "error_for_transport", "parse_body", "server_message"]

_FIXED = {401: "Service authentication failed", 403: "Service access forbidden"}
_DEFAULTS = {400: "Bad request", 404: "Resource not found", 422: "Unprocessable entity"}


def parse_body(raw: bytes, content_type: str | None) -> Any:
    """JSON (string keys) when the content type ends in `json`, else text; None for an empty body.

    A body that claims to be JSON but is not is returned as text rather than failing the call.
    """
    if not raw:
        return None
    if content_type and content_type.partition(";")[0].rstrip().lower().endswith("json"):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw.decode("utf-8", errors="replace")


def server_message(body: Any) -> str | None:
    """The error message the server put in `body`, if any."""
    if not isinstance(body, Mapping):
        return None
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping) and isinstance(value.get("message"), str):
            return str(value["message"])
    errors = body.get("errors")
    if isinstance(errors, Mapping) and errors.get("message"):
        return str(errors["message"])
    if isinstance(errors, list) and errors:
        return str(errors[0])
    return None


def error_for_status(status: int, body: Any, service: str) -> ApiError:
    """The `ApiError` for a non-2xx reply."""
    if status in _FIXED:
        message = _FIXED[status]
    elif status in _DEFAULTS:
        message = server_message(body) or _DEFAULTS[status]
    elif 500 <= status < 600:
        message = "Backend server error"
    else:
        message = f"Unexpected response: {status}"
    return ApiError(message, status=status, body=body, service=service)


def error_for_transport(error: BaseException, service: str) -> ApiError:
    """The `ApiError` for a request that got no reply: timeout 408, connection 503, anything else None."""
    detail = str(error) or type(error).__name__
    if isinstance(error, TimeoutError):  # includes aiohttp's ServerTimeoutError and the breaker's limit
        return ApiError(f"Request timeout: {detail}", status=408, service=service)
    # A payload error is a connection closed in the middle of the reply.
    if isinstance(error, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | ConnectionError):
        return ApiError(f"Connection failed: {detail}", status=503, service=service)
    return ApiError(f"Request failed: {detail}", status=None, service=service)
