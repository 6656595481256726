"""Fixtures of the job tests: a fake backend and a step-driven worker talking to it, on one fake clock.

The clock starts at the real time, so jobs enqueued before it moves are due at once, and it never waits: the
in-process API retries (2 s, 4 s) and the HTTP client's backoff only advance it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import structlog
from arq.jobs import JobResult
from structlog.testing import capture_logs

from powerworker.settings import Settings
from powerworker.testing import FakeBackend, FakeClock
from powerworker.testing.fake_docker import FakeDockerEngine
from powerworker.testing.worker import WorkerHarness

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock starting now (the queue's scores are on the real clock)."""
    return FakeClock(start=time.time())


@pytest.fixture
async def backend(settings: Settings, clock: FakeClock) -> AsyncIterator[FakeBackend]:
    """A fake Powernode server accepting the test worker's JWTs."""
    async with FakeBackend.for_settings(settings, clock=clock) as server:
        yield server


@pytest.fixture
async def worker(harness: Harness, backend: FakeBackend, clock: FakeClock) -> AsyncIterator[WorkerHarness]:
    """A step-driven worker whose jobs call the fake backend."""
    async with harness(clock=clock, backend_api_url=backend.url) as h:
        yield h


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """The events logged during the test, whatever level filter an earlier test's logging setup left behind."""
    structlog.reset_defaults()
    with capture_logs() as captured:
        yield captured
    structlog.reset_defaults()


@pytest.fixture
async def engine() -> AsyncIterator[FakeDockerEngine]:
    """A fake Docker engine over plain HTTP."""
    async with FakeDockerEngine() as server:
        yield server


async def run_job(
    h: WorkerHarness, name: str, args: list[Any] | tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
) -> tuple[str, JobResult | None]:
    """Enqueue a job, run it once (and whatever became due), return its id and result (None if deferred)."""
    job_id = await h.enqueue(name, list(args), kwargs)
    await h.make_due(job_id)  # the fake clock may be ahead of the queue's real-time scores
    await h.drain()
    if await h.score(job_id) is not None:
        return job_id, None
    return job_id, await h.result(job_id)


def delay_s(score: float | None) -> float:
    """Seconds from now until a queue score (ms)."""
    assert score is not None
    return score / 1000 - time.time()
