"""The helpers a job gets on its context."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.asyncio import Redis

from powerworker import keys
from powerworker.context import JobContext
from powerworker.testing.worker import WorkerHarness

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


def make_context(h: WorkerHarness) -> JobContext:
    import structlog

    return JobContext("j1", "Test::Ctx", 1, "default", None, "Test::Ctx:k", h.runtime, structlog.get_logger())


async def test_safe_parse_json(harness: Harness) -> None:
    """Empty or invalid JSON gives the default; valid JSON parses."""
    async with harness() as h:
        ctx = make_context(h)
        assert ctx.safe_parse_json('{"a": 1}') == {"a": 1}
        assert ctx.safe_parse_json("") == {}
        assert ctx.safe_parse_json("{oops", default=[]) == []


async def test_error_metric_and_enqueue(harness: Harness, redis: Redis) -> None:
    """track_error_metric writes an error_<type> counter; enqueue puts a job on its queue."""
    async with harness() as h:
        ctx = make_context(h)
        await ctx.track_error_metric("timeout", {"service": "backend"})
        job_id = await ctx.enqueue("Diagnostics::EchoJob", "x")
        await h.drain()
        assert (await h.result(job_id or "")).result == "x"
    assert await redis.llen(keys.job_metrics("error_timeout")) == 1


async def test_api_clients_are_shared_per_process(harness: Harness) -> None:
    """The context hands out the process's one backend client; settings and clock come from the runtime."""
    async with harness() as h:
        ctx = make_context(h)
        assert ctx.api is h.runtime.api.backend
        assert ctx.settings is h.runtime.settings and ctx.clock is h.runtime.clock
        saved: Any = h.runtime.api
        h.runtime.api = None
        with pytest.raises(RuntimeError, match="HTTP layer"):
            _ = ctx.api
        h.runtime.api = saved


async def test_metric_write_failures_do_not_fail_the_job(harness: Harness) -> None:
    """A Redis error while writing a metric is swallowed: metrics never fail a job."""
    async with harness() as h:
        ctx = make_context(h)
        await h.runtime.redis.set(keys.job_metrics("broken"), "not a list")
        await ctx.increment_counter("broken")
