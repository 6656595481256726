"""A backend outage at client level: the breaker opens, probes once per open period, and closes on recovery."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from powerworker.api import ApiClients
from powerworker.errors import ApiError, CircuitOpenError
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend


async def _call_until_open(clients: ApiClients) -> int:
    """Health checks until the breaker refuses; how many calls raised a plain ApiError first."""
    failed = 0
    while True:
        try:
            await clients.backend.health_check()
        except CircuitOpenError:
            return failed
        except ApiError:
            failed += 1


async def test_outage_opens_probes_once_per_period_and_recovers(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock
) -> None:
    """15 counted failures open `backend_api`; each open period lets one probe through; recovery closes it."""
    breaker = clients.backend.breaker
    backend.fail(status=503)
    with capture_logs() as logs:
        await _call_until_open(clients)
    assert len(backend.requests) == 15  # every try counted, retries included, and not one more
    assert breaker.state_name == "open"
    assert [e["event"] for e in logs].count("circuit_opened") == 1

    for _period in range(3):
        seen = len(backend.requests)
        for _ in range(20):  # while open, nothing reaches the backend
            with pytest.raises(CircuitOpenError):
                await clients.backend.health_check()
        assert len(backend.requests) == seen
        clock.advance(60)
        probe = asyncio.create_task(clients.backend.health_check())
        others = await asyncio.gather(
            *(clients.backend.health_check() for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(o, CircuitOpenError) for o in others)  # fail fast while the probe runs
        with pytest.raises(ApiError):
            await probe
        assert len(backend.requests) == seen + 1  # the single probe
        assert breaker.state_name == "open"

    backend.recover()
    clock.advance(60)
    assert await clients.backend.health_check() == {"success": True, "data": {}}
    assert breaker.state_name == "closed"
    assert breaker.failures == 0
    await asyncio.gather(*(clients.backend.health_check() for _ in range(5)))


async def test_web_auth_outage_leaves_the_backend_breaker_closed(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """Login trouble opens `web_auth` after 10 failures while jobs' `backend_api` breaker stays closed."""
    backend.fail(status=503, path="/api/v1/worker_auth")
    for _ in range(10):
        with pytest.raises(ApiError) as caught:
            await clients.web_auth.verify_session("s")
        assert not isinstance(caught.value, CircuitOpenError)
    with pytest.raises(CircuitOpenError):
        await clients.web_auth.verify_session("s")
    assert clients.web_auth.breaker.state_name == "open"
    assert clients.backend.breaker.state_name == "closed"
    assert clients.backend.breaker.failures == 0
    assert await clients.backend.health_check() == {"success": True, "data": {}}
