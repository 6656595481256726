"""Job leases and worker presence.

arq marks a running job with an in-progress key that lives `job_timeout + 10 s`, so after `kill -9` a job
waits that long (310 s by default) before any worker may run it again. The base layer shortens that key to a
lease of `lease_s` (at most 30 s) when the job starts, and this module renews the leases of every job running
in the process every `lease_s / 3` seconds, in one Redis round trip that also refreshes the worker's presence.
A dead worker's jobs are therefore picked up again within `lease_s` plus one poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket

import structlog

from powerworker import keys
from powerworker.context import Runtime
from powerworker.tracking import RUNNING_TTL_S

__all__ = ["heartbeat_once", "run_heartbeat", "unregister"]

log = structlog.get_logger(__name__)


async def heartbeat_once(runtime: Runtime, lane: str, started_at: float) -> None:
    """Renew the lease of every job running here and refresh this worker's presence."""
    settings = runtime.settings
    lease_ms = int(settings.lease_s * 1000)
    now = runtime.clock.time()
    info = keys.worker_info(runtime.instance_id)
    async with runtime.redis.pipeline(transaction=False) as pipe:
        for job_id in list(runtime.running):
            pipe.pexpire(keys.IN_PROGRESS_PREFIX + job_id, lease_ms)
        pipe.expire(runtime.tracker.running_key, RUNNING_TTL_S)
        pipe.zadd(keys.WORKERS, {runtime.instance_id: now})
        pipe.zremrangebyscore(keys.WORKERS, "-inf", now - RUNNING_TTL_S)
        pipe.hset(
            info,
            mapping={
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "lane": lane,
                "concurrency": settings.worker_concurrency,
                "started_at": started_at,
                "beat_at": now,
                "running": len(runtime.running),
                "worker_id": settings.worker_id,
            },
        )
        pipe.expire(info, RUNNING_TTL_S)
        await pipe.execute()
    if runtime.api is not None:  # the dashboard shows each worker's breakers
        await runtime.api.breakers.publish(runtime.redis)


async def run_heartbeat(runtime: Runtime, lane: str, stop: asyncio.Event) -> None:
    """Beat every `lease_s / 3` seconds until `stop` is set; Redis trouble is logged and retried."""
    started_at = runtime.clock.time()
    interval = runtime.settings.lease_s / 3
    while not stop.is_set():
        try:
            await heartbeat_once(runtime, lane, started_at)
        except Exception as exc:  # a missed beat must not end the loop
            log.warning("heartbeat.failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def unregister(runtime: Runtime) -> None:
    """Remove this worker's presence on a clean shutdown."""
    async with runtime.redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.WORKERS, runtime.instance_id)
        pipe.delete(keys.worker_info(runtime.instance_id), runtime.tracker.running_key)
        await pipe.execute()
