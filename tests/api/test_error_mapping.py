"""Narrow units of the error mapping: server messages, statuses, transport failures (aioresponses)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from powerworker.api import ApiClients
from powerworker.api.responses import error_for_status, error_for_transport, parse_body, server_message
from powerworker.errors import ApiError
from tests.helpers_http import mocked_http


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": "m", "error": "e"}, "m"),
        ({"error": "e"}, "e"),
        ({"error": {"message": "nested"}}, "nested"),
        ({"errors": {"message": "hash"}}, "hash"),
        ({"errors": ["first", "second"]}, "first"),
        ({"errors": []}, None),
        ("not a hash", None),
        (None, None),
    ],
)
def test_server_message(body: Any, message: str | None) -> None:
    """The server's message is read from `message`, `error`, `errors.message` or `errors[0]`."""
    assert server_message(body) == message


@pytest.mark.parametrize(
    ("status", "message"),
    [(500, "Backend server error"), (503, "Backend server error"), (302, "Unexpected response: 302")],
)
def test_error_for_status_outside_4xx(status: int, message: str) -> None:
    """5xx is `Backend server error`; anything else unexpected names its status."""
    error = error_for_status(status, {"error": "ignored"}, "web_auth")
    assert (error.message, error.status, error.service) == (message, status, "web_auth")


@pytest.mark.parametrize(
    ("error", "status", "prefix"),
    [
        (TimeoutError(), 408, "Request timeout"),
        (aiohttp.ServerTimeoutError("read"), 408, "Request timeout"),
        (aiohttp.ServerDisconnectedError(), 503, "Connection failed"),
        (ConnectionRefusedError("refused"), 503, "Connection failed"),
        (aiohttp.ClientPayloadError("truncated"), 503, "Connection failed"),
        (aiohttp.InvalidURL("nota url"), None, "Request failed"),
    ],
)
def test_error_for_transport(error: BaseException, status: int | None, prefix: str) -> None:
    """Timeouts become 408, connection failures 503, other client errors carry no status."""
    mapped = error_for_transport(error, "backend_api")
    assert (mapped.status, mapped.message.split(":")[0]) == (status, prefix)


def test_parse_body_by_content_type() -> None:
    """JSON when the content type says so, text otherwise, None when empty, text when JSON is broken."""
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert parse_body(b'{"a": 1}', "application/vnd.api+json") == {"a": 1}
    assert parse_body(b"<html>", "text/html") == "<html>"
    assert parse_body(b"", "application/json") is None
    assert parse_body(b"{oops", "application/json") == "{oops"


async def test_mocked_error_reply_maps_through_the_client(clients: ApiClients) -> None:
    """Through aioresponses (patched for aiohttp 3.14), a 422 with an errors list maps to its first error."""
    url = f"{clients.backend.base_url}/api/v1/invoices"
    with mocked_http() as mocked:
        mocked.post(url, status=422, payload={"errors": ["line items missing"]})
        with pytest.raises(ApiError) as caught:
            await clients.backend.create_invoice("sub-1", [])
    assert (caught.value.status, caught.value.message) == (422, "line items missing")


async def test_mocked_transport_error_maps_to_503(clients: ApiClients) -> None:
    """A connection error raised inside aiohttp becomes status 503 for the caller."""
    url = f"{clients.backend.base_url}/api/v1/payments"
    with mocked_http() as mocked:
        mocked.post(url, exception=aiohttp.ServerDisconnectedError())
        with pytest.raises(ApiError) as caught:
            await clients.backend.post("/api/v1/payments", {"amount": 5})
    assert caught.value.status == 503
