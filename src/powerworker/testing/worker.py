"""Drive a real worker step by step in tests: no forever loop, no sleeping.

    async with WorkerHarness(settings) as harness:
        job_id = await harness.enqueue("Diagnostics::EchoJob", ["hi"])
        await harness.drain()
        assert (await harness.result(job_id)).result == "hi"

`drain()` runs poll iterations of arq's own worker until no job is due and none is running. Deferred jobs
(retries) stay queued; `make_due(job_id)` moves one to now, standing in for the passage of time.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Any

from arq.connections import create_pool
from arq.jobs import Job, JobResult

from powerworker import keys
from powerworker.clock import Clock
from powerworker.context import Runtime
from powerworker.enqueue import Enqueuer
from powerworker.runner import PowerworkerWorker
from powerworker.serialization import serialize
from powerworker.settings import Settings
from powerworker.worker import RUNTIME, build_worker_settings, close_worker, create_worker

__all__ = ["WorkerHarness"]


class WorkerHarness:
    """A worker whose poll loop the test drives."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, **overrides: Any) -> None:
        self.settings = settings
        self.settings_cls = build_worker_settings(settings, clock=clock, configure_logs=False)
        self._overrides = {"handle_signals": False, "burst": True, **overrides}
        self.worker: PowerworkerWorker | None = None

    async def __aenter__(self) -> WorkerHarness:
        worker = create_worker(self.settings_cls, **self._overrides)
        worker._pool = await create_pool(
            worker.redis_settings,
            job_serializer=serialize,
            job_deserializer=worker.job_deserializer,
            default_queue_name=worker.queue_name,
        )
        worker.ctx["redis"] = worker.pool
        assert worker.on_startup is not None
        await worker.on_startup(worker.ctx)
        self.worker = worker
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.worker is not None:
            await close_worker(self.worker)

    @property
    def runtime(self) -> Runtime:
        assert self.worker is not None
        runtime: Runtime = self.worker.ctx[RUNTIME]
        return runtime

    @property
    def enqueuer(self) -> Enqueuer:
        return self.runtime.enqueuer

    async def enqueue(
        self,
        name: str,
        args: list[Any] | tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> str:
        job_id = await self.enqueuer.enqueue(name, args, kwargs, **options)
        assert job_id is not None, "duplicate job id"
        return job_id

    async def step(self) -> None:
        """One poll iteration, then wait for the jobs it started."""
        assert self.worker is not None
        await self.worker._poll_iteration()
        await asyncio.gather(*self.worker.tasks.values(), return_exceptions=True)
        await self.worker._poll_iteration()  # reaps finished tasks
        await self.runtime.tracker.flush()

    async def due_count(self) -> int:
        assert self.worker is not None
        now_ms = int(time.time() * 1000)
        return int(await self.worker.pool.zcount(self.worker.queue_name, "-inf", now_ms))

    async def drain(self, max_steps: int = 100) -> None:
        """Step until no job is due and none is running."""
        for _ in range(max_steps):
            await self.step()
            if await self.due_count() == 0:
                return
        raise AssertionError(f"jobs still due after {max_steps} poll steps")

    async def make_due(self, job_id: str) -> None:
        """Move a deferred job to now (the test's stand-in for waiting out its delay)."""
        assert self.worker is not None
        await self.worker.pool.zadd(self.worker.queue_name, {job_id: 1})

    async def score(self, job_id: str) -> float | None:
        assert self.worker is not None
        value = await self.worker.pool.zscore(self.worker.queue_name, job_id)
        return None if value is None else float(value)

    async def result(self, job_id: str) -> JobResult:
        assert self.worker is not None
        job = Job(job_id, self.worker.pool, _deserializer=self.worker.job_deserializer)
        info = await job.result_info()
        assert info is not None, f"no result for {job_id}"
        return info

    async def job_try_counter(self, job_id: str) -> int:
        assert self.worker is not None
        raw = await self.worker.pool.get(keys.RETRY_PREFIX + job_id)
        return int(raw or 0)
