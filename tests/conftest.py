"""Shared fixtures: a real Redis database per test, settings, a fake clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from powerworker.settings import Settings, load_settings
from powerworker.testing import FakeClock

#: Tests use their own database (15 unless TEST_REDIS_URL says otherwise), flushed before every test.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def settings() -> Settings:
    """Settings for the test environment, pointed at the test Redis database."""
    return load_settings(
        worker_env="test", redis_url=TEST_REDIS_URL, worker_id="test-worker-1", scheduler_enabled=False
    )


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client on a freshly flushed test database."""
    client: Redis = Redis.from_url(TEST_REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


# Test-only jobs register themselves on import, before any worker settings are built.
from collections.abc import Callable  # noqa: E402
from contextlib import AbstractAsyncContextManager  # noqa: E402
from typing import Any  # noqa: E402

import tests.jobs_for_tests  # noqa: E402,F401
from powerworker.testing.worker import WorkerHarness  # noqa: E402


@pytest.fixture
def harness(settings: Settings, redis: Redis) -> Callable[..., AbstractAsyncContextManager[WorkerHarness]]:
    """Factory: `async with harness(**setting_overrides) as h:` gives a step-driven worker on the test DB."""

    def make(clock: Any = None, **overrides: Any) -> AbstractAsyncContextManager[WorkerHarness]:
        merged = settings.model_copy(update=overrides) if overrides else settings
        return WorkerHarness(merged, clock=clock)

    return make


@pytest.fixture(autouse=True)
def _collect_garbage() -> Any:
    """Collect after each test so a leaked connection is reported by the test that leaked it."""
    yield
    import gc

    gc.collect()


@pytest.fixture
async def private_redis_url() -> AsyncIterator[str]:
    """A Redis server of the test's own (nobody else's commands in its statistics), on a free port."""
    import asyncio
    import shutil
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    proc = await asyncio.create_subprocess_exec(
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(10):
        async for line in proc.stdout:
            if b"Ready to accept connections" in line:
                break
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        await proc.wait()
