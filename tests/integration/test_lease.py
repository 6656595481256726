"""Leases of running jobs and worker presence."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from redis.asyncio import Redis

from powerworker import keys
from powerworker.resilience.lease import heartbeat_once, run_heartbeat, unregister
from powerworker.runner import _CLAIM
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


async def test_claim_takes_a_short_lease(harness: Harness, redis: Redis) -> None:
    """The worker claims a job with an in-progress key that lives the lease, not arq's job_timeout + 10 s."""
    async with harness(lease_s=20) as h:
        assert h.worker is not None
        job_id = await h.enqueue("Diagnostics::NoopJob")
        key = keys.IN_PROGRESS_PREFIX + job_id
        claim = h.worker.pool.register_script(_CLAIM)
        claim_keys = [
            key,
            h.worker.queue_name,
            keys.JOB_PREFIX + job_id,
            "running-test",
            keys.RETRY_PREFIX + job_id,
        ]
        args = [job_id, int(time.time() * 1000), 20_000, repr(time.time())]
        claimed = await claim(keys=claim_keys, args=args)
        assert claimed is not None and claimed[1] == 0  # claimed, and the runaway check said run
        assert 19_000 <= await redis.pttl(key) <= 20_000
        assert await claim(keys=claim_keys, args=args) is None  # not twice while the lease lives


async def test_claim_refuses_jobs_not_yet_due(harness: Harness, redis: Redis) -> None:
    """A deferred job is not claimed before its time."""
    async with harness() as h:
        job_id = await h.enqueue("Diagnostics::NoopJob", defer_s=60)
        await h.step()
        assert not await redis.exists(keys.IN_PROGRESS_PREFIX + job_id)
        assert await h.score(job_id) is not None
