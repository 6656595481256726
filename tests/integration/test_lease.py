"""Leases of running jobs and worker presence."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from redis.asyncio import Redis

from powerworker import keys
from powerworker.resilience.lease import heartbeat_once, run_heartbeat, unregister
from powerworker.testing.worker import WorkerHarness

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


async def test_heartbeat_renews_every_running_lease_and_presence(harness: Harness, redis: Redis) -> None:
    """One beat extends the lease of each job running here and records the worker as alive."""
    async with harness(lease_s=12) as h:
        runtime = h.runtime
        for job_id in ("a", "b"):
            await redis.set(keys.IN_PROGRESS_PREFIX + job_id, b"1", px=500)
            runtime.running.add(job_id)
        await heartbeat_once(runtime, "default", started_at=1.0)
        ttls = [await redis.pttl(keys.IN_PROGRESS_PREFIX + job_id) for job_id in ("a", "b")]
        assert all(11_000 <= ttl <= 12_000 for ttl in ttls)
        assert await redis.zscore(keys.WORKERS, runtime.instance_id) is not None
        info = await redis.hgetall(keys.worker_info(runtime.instance_id))
        assert info[b"lane"] == b"default" and info[b"running"] == b"2"
        await unregister(runtime)
        assert await redis.zscore(keys.WORKERS, runtime.instance_id) is None


async def test_heartbeat_loop_survives_redis_errors_and_stops(harness: Harness) -> None:
    """A failed beat is logged and the loop goes on until told to stop."""
    async with harness() as h:
        runtime = h.runtime
        runtime.running.add("x")
        stop = asyncio.Event()
        original = runtime.redis.pipeline
        calls = 0

        def broken(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            stop.set()
            raise ConnectionError("redis away")

        runtime.redis.pipeline = broken  # type: ignore[method-assign]
        try:
            await asyncio.wait_for(run_heartbeat(runtime, "default", stop), 5)
        finally:
            runtime.redis.pipeline = original  # type: ignore[method-assign]
        assert calls == 1


async def test_a_job_holds_a_short_lease_while_running(harness: Harness, redis: Redis) -> None:
    """While a job runs, its in-progress key lives at most the lease, not arq's job_timeout + 10 s."""
    async with harness(lease_s=30) as h:
        job_id = await h.enqueue("Diagnostics::NoopJob")
        # Observe the lease from inside: the tracker's start call is what sets it.
        verdict_key = keys.IN_PROGRESS_PREFIX + job_id
        await redis.set(verdict_key, b"1", px=310_000)
        await h.runtime.tracker.start("k", job_id, "Diagnostics::NoopJob", "default", 1)
        assert 29_000 <= await redis.pttl(verdict_key) <= 30_000
