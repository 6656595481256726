"""The base client against a real local HTTP server: request building, error mapping, retries, breaker."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from powerworker.api import ApiClients, data_of
from powerworker.errors import ApiError, CircuitOpenError
from powerworker.settings import Settings
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend, Reply


async def test_every_request_carries_the_worker_headers(
    clients: ApiClients, backend: FakeBackend, settings: Settings
) -> None:
    """Bearer JWT, JSON content type and accept, and the worker's user agent."""
    await clients.backend.get("/api/v1/health")
    request = backend.requests[-1]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == "PowernodeWorker/1.0"
    token = request.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(
        token,
        settings.jwt_secret,
        algorithms=["HS256"],
        audience="powernode-api",
        issuer="powernode-platform",
        options={"verify_exp": False},
    )
    assert claims["type"] == "worker"
    assert request.claims == claims


async def test_get_and_delete_send_data_as_nested_query(clients: ApiClients, backend: FakeBackend) -> None:
    """Arrays and hashes are written Rails-style into the query string, with no body."""
    await clients.backend.get(
        "/api/v1/subscriptions", {"status": ["active", "trial"], "filter": {"plan": "pro"}}
    )
    await clients.backend.delete("/api/v1/things/1", {"force": True})
    get, delete = backend.requests
    assert (get.method, get.path) == ("GET", "/api/v1/subscriptions")
    assert get.query == {"status": ["active", "trial"], "filter": {"plan": "pro"}}
    assert get.body == b""
    assert (delete.method, delete.query, delete.body) == ("DELETE", {"force": "true"}, b"")


async def test_post_put_patch_send_json_bodies_and_omit_empty_ones(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """Data goes as a compact JSON body; empty data sends no body at all."""
    await clients.backend.post("/api/v1/reports", {"name": "r", "items": [1, 2]})
    await clients.backend.put("/api/v1/reports/1", {"name": "s"})
    await clients.backend.patch("/api/v1/reports/1", {"status": "done"})
    await clients.backend.post("/api/v1/service/verify", {})
    post, put, patch, empty = backend.requests
    assert post.json == {"name": "r", "items": [1, 2]}
    assert post.body == b'{"name":"r","items":[1,2]}'
    assert (put.method, put.json) == ("PUT", {"name": "s"})
    assert (patch.method, patch.json) == ("PATCH", {"status": "done"})
    assert (empty.body, empty.query) == (b"", {})


async def test_path_without_leading_slash_is_rooted(clients: ApiClients, backend: FakeBackend) -> None:
    """A path written without its leading slash still hits the server's path, not a relative one."""
    await clients.backend.get("api/v1/health")
    assert backend.requests[-1].path == "/api/v1/health"


async def test_success_returns_the_parsed_envelope(clients: ApiClients, backend: FakeBackend) -> None:
    """2xx replies come back as parsed JSON with string keys; `data_of` unwraps them."""
    backend.route("GET", "/api/v1/accounts/{id}", handler=lambda r: {"id": r.match_info["id"]})
    body = await clients.backend.get("/api/v1/accounts/a1")
    assert body == {"success": True, "data": {"id": "a1"}}
    assert data_of(body) == {"id": "a1"}
    assert await clients.backend.get_data("/api/v1/accounts/a2") == {"id": "a2"}


async def test_success_false_envelope_raises_with_the_server_error(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """`data_of` turns `success: false` into an ApiError carrying the envelope."""
    envelope = {"success": False, "error": "quota exceeded", "code": "QUOTA"}
    backend.route("POST", "/api/v1/things", body=envelope)
    with pytest.raises(ApiError) as caught:
        await clients.backend.post_data("/api/v1/things", {"a": 1})
    assert (caught.value.message, caught.value.status, caught.value.body) == (
        "quota exceeded",
        None,
        envelope,
    )


async def test_non_json_reply_is_returned_as_text(clients: ApiClients, backend: FakeBackend) -> None:
    """A reply that is not JSON comes back as its text."""
    backend.route("GET", "/plain", handler=lambda r: Reply(raw=b"hello", content_type="text/plain"))
    assert await clients.backend.get("/plain") == "hello"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, {"message": "name is missing"}, "name is missing"),
        (400, {}, "Bad request"),
        (401, {"error": "bad token"}, "Service authentication failed"),
        (403, {"error": "nope"}, "Service access forbidden"),
        (404, {"error": "no such account"}, "no such account"),
        (404, None, "Resource not found"),
        (422, {"errors": ["email is taken", "x"]}, "email is taken"),
        (422, {"errors": {"message": "invalid plan"}}, "invalid plan"),
        (422, {"success": False}, "Unprocessable entity"),
        (409, {"error": "conflict"}, "Unexpected response: 409"),
        (429, {"error": "slow down"}, "Unexpected response: 429"),
    ],
)
async def test_status_mapping(
    clients: ApiClients, backend: FakeBackend, status: int, body: Any, message: str
) -> None:
    """Each 4xx becomes one ApiError with the original's message, the status, the body and the service."""
    backend.route("POST", "/api/v1/x", status=status, body=body)
    with pytest.raises(ApiError) as caught:
        await clients.backend.post("/api/v1/x", {"a": 1})
    error = caught.value
    assert (error.message, error.status, error.body, error.service) == (message, status, body, "backend_api")
    assert len(backend.requests) == 1


async def test_server_error_is_mapped_and_not_resent_for_post(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """A 5xx on POST raises `Backend server error` after one request: POST is never re-sent."""
    backend.fail(status=502)
    with pytest.raises(ApiError) as caught:
        await clients.backend.post("/api/v1/payments", {"amount": 1})
    assert (caught.value.status, caught.value.message) == (502, "Backend server error")
    assert len(backend.requests) == 1


async def test_patch_is_never_resent(clients: ApiClients, backend: FakeBackend, clock: FakeClock) -> None:
    """PATCH gets one try on a 503, with no backoff sleep."""
    backend.fail(status=503)
    with pytest.raises(ApiError):
        await clients.backend.patch("/api/v1/x/1", {"a": 1})
    assert len(backend.requests) == 1
    assert clock.sleeps == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_idempotent_verbs_retry_5xx_with_backoff(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock, method: str
) -> None:
    """Two 503s then success: three tries, sleeping 0.5-0.75 s then 1.0-1.5 s on the clock."""
    backend.fail(status=503, times=2)
    body = await clients.backend.request(method, "/api/v1/x", {"a": 1})
    assert body == {"success": True, "data": {}}
    assert len(backend.requests) == 3
    first, second = clock.sleeps
    assert 0.5 <= first <= 0.75
    assert 1.0 <= second <= 1.5


async def test_retries_give_up_after_three_tries(clients: ApiClients, backend: FakeBackend) -> None:
    """A GET failing every time is tried three times, then the last error surfaces."""
    backend.fail(status=500)
    with pytest.raises(ApiError) as caught:
        await clients.backend.get("/api/v1/x")
    assert caught.value.status == 500
    assert len(backend.requests) == 3


async def test_retry_after_is_honoured(clients: ApiClients, backend: FakeBackend, clock: FakeClock) -> None:
    """A longer `Retry-After` replaces the backoff; one beyond the limit ends the retries."""
    backend.fail(status=503, times=1, headers={"Retry-After": "7"})
    await clients.backend.get("/api/v1/x")
    assert clock.sleeps == [7.0]
    backend.fail(status=503, times=1, headers={"Retry-After": "3600"})
    with pytest.raises(ApiError):
        await clients.backend.get("/api/v1/x")
    assert len(backend.requests) == 3


async def test_4xx_is_not_retried(clients: ApiClients, backend: FakeBackend) -> None:
    """A 404 on GET is final at once."""
    backend.fail(status=404, body={"error": "gone"})
    with pytest.raises(ApiError) as caught:
        await clients.backend.get("/api/v1/x")
    assert (caught.value.status, caught.value.message) == (404, "gone")
    assert len(backend.requests) == 1


async def test_timeout_becomes_408_and_is_retried_for_get(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock
) -> None:
    """A request the server holds past the timeout fails with status 408 after three tries."""
    backend.stall()
    with pytest.raises(ApiError) as caught:
        await clients.backend.get("/api/v1/slow", timeout_s=0.05)
    assert caught.value.status == 408
    assert caught.value.message.startswith("Request timeout")
    assert len(backend.requests) == 3
    assert len(clock.sleeps) == 2


async def test_timeout_on_post_is_not_retried(clients: ApiClients, backend: FakeBackend) -> None:
    """A timed-out POST is not sent again (the server may have acted on it)."""
    backend.stall()
    with pytest.raises(ApiError) as caught:
        await clients.backend.post("/api/v1/slow", {"a": 1}, timeout_s=0.05)
    assert caught.value.status == 408
    assert len(backend.requests) == 1


async def test_dropped_connection_becomes_503(clients: ApiClients, backend: FakeBackend) -> None:
    """A connection closed without a reply fails with status 503 `Connection failed`."""
    backend.drop_connections()
    with pytest.raises(ApiError) as caught:
        await clients.backend.post("/api/v1/x", {"a": 1})
    assert caught.value.status == 503
    assert caught.value.message.startswith("Connection failed")


async def test_refused_connection_becomes_503(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock
) -> None:
    """Nobody listening on the port fails with status 503 (retried for GET)."""
    url = backend.url
    await backend.close()
    with pytest.raises(ApiError) as caught:
        await clients.backend.get(f"{url}/api/v1/health")
    assert caught.value.status == 503
    assert len(clock.sleeps) == 2


async def test_open_breaker_refuses_without_sending(clients: ApiClients, backend: FakeBackend) -> None:
    """With the backend breaker open, calls fail at once with CircuitOpenError (503) and nothing is sent."""
    clients.backend.breaker.open()
    with pytest.raises(CircuitOpenError) as caught:
        await clients.backend.get("/api/v1/health")
    assert caught.value.status == 503
    assert caught.value.reopen_at is not None
    assert backend.requests == []
