"""A backend outage seen by jobs: API backoff, a breaker that opens and probes, recovery, isolation of web auth."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from powerworker.errors import ApiError
from powerworker.settings import Settings
from powerworker.testing import FakeBackend, FakeClock
from powerworker.testing.worker import WorkerHarness

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]
JOBS = 20


def delay_s(score: float | None) -> float:
    assert score is not None
    return score / 1000 - time.time()


async def run_round(h: WorkerHarness, ids: list[str]) -> None:
    """Make every still-queued job due now (standing in for waiting out its backoff) and run them."""
    for job_id in ids:
        if await h.score(job_id) is not None:
            await h.make_due(job_id)
    await h.drain()


async def test_outage_backoff_breaker_and_recovery(harness: Harness, settings: Settings) -> None:
    """Jobs back off 30/60 s, the breaker opens after 15 failures and then lets one probe through per open
    period; once the backend recovers the breaker closes and every job completes."""
    clock = FakeClock(start=time.time())
    backend = FakeBackend.for_settings(settings, clock=clock)
    async with backend, harness(clock=clock, worker_concurrency=1, backend_api_url=backend.url) as h:
        backend.route("POST", "/api/v1/test/ping", data={"pong": True})
        backend.fail(503, path="/api/v1/test/ping")
        breaker = h.runtime.api.breakers.get("backend_api")
        ids = [await h.enqueue("Test::BackendCallJob", [i]) for i in range(JOBS)]

        await h.drain()  # first tries
        assert len(backend.requests_to("POST", "/api/v1/test/ping")) == 15
        assert breaker.state_name == "open"
        delays = [delay_s(await h.score(job_id)) for job_id in ids]
        assert all(29 <= d <= 30.5 for d in delays), delays

        clock.advance(30)  # still inside the 60 s open period: nothing reaches the backend
        await run_round(h, ids)
        assert len(backend.requests_to("POST", "/api/v1/test/ping")) == 15
        delays = [delay_s(await h.score(job_id)) for job_id in ids]
        assert all(59 <= d <= 60.5 for d in delays), delays

        for period in range(2):  # each open period admits exactly one probe, which fails
            clock.advance(61)
            await run_round(h, ids)
            assert len(backend.requests_to("POST", "/api/v1/test/ping")) == 16 + period
            assert breaker.state_name == "open"

        backend.recover()
        clock.advance(61)
        await run_round(h, ids)  # the probe succeeds and closes the breaker
        assert breaker.state_name == "closed"
        await run_round(h, ids)
        results = [await h.result(job_id) for job_id in ids]
        assert await h.runtime.dead.size() == 0
    assert all(r.success and r.result == {"pong": True} for r in results)


async def test_web_auth_outage_leaves_jobs_alone(harness: Harness, settings: Settings) -> None:
    """Login trouble opens the web_auth breaker only: the backend breaker stays closed and jobs keep running."""
    clock = FakeClock(start=time.time())
    backend = FakeBackend.for_settings(settings, clock=clock)
    async with backend, harness(clock=clock, backend_api_url=backend.url) as h:
        api = h.runtime.api
        backend.fail(503, path="/api/v1/worker_auth/verify_session")
        for _ in range(12):
            with pytest.raises(ApiError) as failure:
                await api.web_auth.verify_session("s")
            assert failure.value.status == 503
        assert api.breakers.get("web_auth").state_name == "open"
        job_id = await h.enqueue("Test::BackendCallJob", [1])
        await h.drain()
        assert (await h.result(job_id)).success
        assert api.breakers.get("backend_api").state_name == "closed"
