"""The fake Powernode backend itself: JWT checks, recording, routes, faults."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import jwt
import pytest

from powerworker.api import ApiClients
from powerworker.errors import ApiError
from powerworker.settings import Settings
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend, RecordedRequest, Reply


def _token(settings: Settings, clock: FakeClock, **changes: Any) -> str:
    now = int(clock.time())
    claims = {
        "type": "worker",
        "sub": "w1",
        "iat": now,
        "exp": now + 300,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    secret = changes.pop("secret", settings.jwt_secret)
    claims.update(changes)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"secret": "another-secret-of-sufficient-length-000"}, "Signature verification failed"),
        ({"exp": 1}, "Signature has expired"),
        ({"type": "access"}, "token type is not worker"),
        ({"aud": "someone-else"}, "Audience doesn't match"),
        ({"iss": "mallory"}, "Invalid issuer"),
    ],
)
async def test_bad_worker_tokens_get_401(
    backend: FakeBackend,
    session: aiohttp.ClientSession,
    settings: Settings,
    clock: FakeClock,
    changes: dict[str, Any],
    reason: str,
) -> None:
    """Bad signature, expiry (on the backend's clock), wrong type, audience or issuer: 401 envelope."""
    headers = {"Authorization": f"Bearer {_token(settings, clock, **changes)}"}
    async with session.get(f"{backend.url}/api/v1/health", headers=headers) as response:
        assert response.status == 401
        body = await response.json()
    assert body["success"] is False
    assert reason in body["error"]
    assert backend.requests[-1].claims is None
    assert reason in str(backend.requests[-1].auth_error)


async def test_missing_token_gets_401(backend: FakeBackend, session: aiohttp.ClientSession) -> None:
    """No Authorization header: 401."""
    async with session.get(f"{backend.url}/api/v1/health") as response:
        assert response.status == 401


async def test_expiry_follows_the_backend_clock(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    """A token past its exp on the shared FakeClock is refused; the client signs a new one before that."""
    token = clients.auth.token()
    clock.advance(301)
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{backend.url}/api/v1/health", headers=headers) as response:
        assert response.status == 401
    await clients.backend.health_check()  # the client refreshed its token
    assert backend.requests[-1].claims is not None


async def test_requests_are_recorded(clients: ApiClients, backend: FakeBackend) -> None:
    """Method, path, decoded query, JSON body and headers of each request are kept in order."""
    await clients.backend.get("/api/v1/a", {"ids": [1, 2]})
    await clients.backend.post("/api/v1/b", {"x": 1})
    first, second = backend.requests
    assert (first.method, first.path, first.query, first.json) == (
        "GET",
        "/api/v1/a",
        {"ids": ["1", "2"]},
        None,
    )
    assert (second.method, second.path, second.json) == ("POST", "/api/v1/b", {"x": 1})
    assert second.headers["User-Agent"] == "PowernodeWorker/1.0"
    assert backend.requests_to("POST") == [second]
    assert backend.requests_to(path="/api/v1/a") == [first]


async def test_routes_answer_with_data_body_or_handler(clients: ApiClients, backend: FakeBackend) -> None:
    """`data` is wrapped in the envelope, `body` sent as is, handlers (sync or async) get the request."""

    async def echo(request: RecordedRequest) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"id": request.match_info["id"], "q": request.query}

    backend.route("GET", "/api/v1/d", data={"n": 1})
    backend.route("GET", "/api/v1/b", body={"raw": True})
    backend.route("GET", "/api/v1/things/{id}", handler=echo)
    backend.route("GET", "/api/v1/teapot", handler=lambda r: Reply(418, {"error": "teapot"}))
    assert await clients.backend.get("/api/v1/d") == {"success": True, "data": {"n": 1}}
    assert await clients.backend.get("/api/v1/b") == {"raw": True}
    assert await clients.backend.get_data("/api/v1/things/7", {"a": "b"}) == {"id": "7", "q": {"a": "b"}}
    with pytest.raises(ApiError) as caught:
        await clients.backend.get("/api/v1/teapot")
    assert caught.value.status == 418


async def test_newest_route_wins(clients: ApiClients, backend: FakeBackend) -> None:
    """Registering a path again replaces its answer."""
    backend.route("GET", "/api/v1/x", data=1)
    backend.route("GET", "/api/v1/x", data=2)
    assert await clients.backend.get_data("/api/v1/x") == 2


async def test_unrouted_paths_default_or_404_when_strict(
    clients: ApiClients,
    backend: FakeBackend,
    settings: Settings,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    """By default an unrouted path succeeds with empty data; a strict backend answers 404."""
    assert await clients.backend.get("/api/v1/anything") == {"success": True, "data": {}}
    async with FakeBackend.for_settings(settings, clock=clock, strict=True) as strict:
        with pytest.raises(ApiError) as caught:
            await clients.backend.get(f"{strict.url}/api/v1/anything")
    assert caught.value.status == 404
    assert caught.value.message == "No route for GET /api/v1/anything"


async def test_fail_counts_down_then_recovers(clients: ApiClients, backend: FakeBackend) -> None:
    """`fail(times=2)` fails two requests; `fail()` fails all until `recover()`; `path` limits a fault."""
    backend.fail(status=500, times=2)
    for _ in range(2):
        with pytest.raises(ApiError):
            await clients.backend.post("/api/v1/x", {})
    await clients.backend.post("/api/v1/x", {})
    backend.fail(status=503, path="/api/v1/only")
    await clients.backend.post("/api/v1/other", {})
    with pytest.raises(ApiError):
        await clients.backend.post("/api/v1/only/this", {})
    backend.recover()
    await clients.backend.post("/api/v1/only/this", {})


async def test_stall_holds_requests_until_released(clients: ApiClients, backend: FakeBackend) -> None:
    """A stalled request waits for `release()`; the test sees it arrive with `wait_for_requests`."""
    backend.stall(times=1)
    call = asyncio.create_task(clients.backend.post("/api/v1/x", {"n": 1}))
    await backend.wait_for_requests(1)
    assert not call.done()
    backend.release()
    assert await call == {"success": True, "data": {}}


async def test_dropped_connections(backend: FakeBackend, session: aiohttp.ClientSession) -> None:
    """`drop_connections` closes the connection without a reply."""
    backend.drop_connections(times=1)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with session.post(f"{backend.url}/x", json={}) as response:
            await response.read()


async def test_delay_adds_latency(clients: ApiClients, backend: FakeBackend) -> None:
    """`delay(0)` is accepted and the request still succeeds (real latency is for benchmarks)."""
    backend.delay(0, times=1)
    assert await clients.backend.post("/api/v1/x", {}) == {"success": True, "data": {}}
