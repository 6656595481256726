"""What a running job sees: its `JobContext`, and the per-process `Runtime` behind it.

The `Runtime` is built once per worker process in `on_startup` (one Redis pool, one aiohttp session and its
clients, the tracker, the dead set) and shared by every job. Each job gets a small `JobContext` naming the job
and exposing the original BaseJob's helpers (metrics, idempotency, API retry).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis

from powerworker import keys
from powerworker.clock import Clock
from powerworker.dead import DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.resilience.retry import with_api_retry
from powerworker.settings import Settings
from powerworker.tracking import Tracker, record_metric

__all__ = ["JobContext", "Runtime", "new_instance_id"]

T = TypeVar("T")


def new_instance_id() -> str:
    """A unique id for this worker process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    """Per-process resources shared by every job."""

    settings: Settings
    clock: Clock
    redis: Redis
    instance_id: str
    tracker: Tracker
    dead: DeadSet
    enqueuer: Enqueuer
    #: API clients bundle (`powerworker.api.ApiClients`), set when the HTTP layer is started.
    api: Any = None
    #: Job ids running in this process, whose leases the renewer extends.
    running: set[str] = field(default_factory=set)
    #: Extra resources that jobs or extensions attach.
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobContext:
    """Passed as the first argument of every job.

    Attributes:
        job_id: arq's job id.
        name: the registered job name.
        job_try: 1 for the first try, 2 for the first retry, ...
        queue: the logical queue the job was enqueued on.
        enqueued_at: when the job was enqueued.
        job_key: the original's job key (`<name>:<id or args hash>`), used by the runaway detector.
        runtime: the per-process resources.
        log: a structlog logger bound with job id, name, try and queue.
    """

    job_id: str
    name: str
    job_try: int
    queue: str
    enqueued_at: datetime | None
    job_key: str
    runtime: Runtime
    log: Any

    @property
    def redis(self) -> Redis:
        return self.runtime.redis

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def api(self) -> Any:
        """The BackendApiClient of this process."""
        if self.runtime.api is None:
            raise RuntimeError("the HTTP layer is not started in this process")
        return self.runtime.api.backend

    # -- metrics (job_metrics:<name>, 1,000 points, 24 h) -----------------------------------------------------
    async def increment_counter(self, name: str, tags: Mapping[str, Any] | None = None) -> None:
        await self._metric("counter", name, 1, tags)

    async def track_performance_metric(
        self, name: str, value: float, tags: Mapping[str, Any] | None = None
    ) -> None:
        await self._metric("gauge", name, value, tags)

    async def track_cleanup_metrics(self, counts: Mapping[str, float]) -> None:
        for key, value in counts.items():
            await self._metric("gauge", f"cleanup_{key}", value, None)

    async def track_error_metric(self, error_type: str, context: Mapping[str, Any] | None = None) -> None:
        await self._metric("counter", f"error_{error_type}", 1, context)

    async def _metric(self, kind: str, name: str, value: float, tags: Mapping[str, Any] | None) -> None:
        await record_metric(
            self.redis, self.clock, kind=kind, name=name, value=value, tags=tags or {}, job_class=self.name
        )

    # -- idempotency -----------------------------------------------------------------------------------------
    async def already_processed(self, key: str) -> bool:
        """Whether `mark_processed(key)` was called and has not expired."""
        return bool(await self.redis.exists(keys.idempotency(key)))

    async def mark_processed(self, key: str, ttl_s: int = 86_400) -> None:
        await self.redis.set(keys.idempotency(key), repr(self.clock.time()), ex=ttl_s)

    async def claim(self, key: str, ttl_s: int = 86_400) -> bool:
        """Atomically mark `key` processed; True only for the first caller (a check-and-set the original lacked)."""
        return bool(await self.redis.set(keys.idempotency(key), repr(self.clock.time()), ex=ttl_s, nx=True))

    # -- helpers ---------------------------------------------------------------------------------------------
    async def with_api_retry(self, call: Callable[[], Awaitable[T]], *, max_attempts: int = 3) -> T:
        """Run `call`, retrying in process on retryable API errors (see `resilience.retry.with_api_retry`)."""
        return await with_api_retry(call, max_attempts=max_attempts, clock=self.clock)

    async def enqueue(self, name: str, *args: Any, **kwargs: Any) -> str | None:
        """Enqueue another job by name with positional and keyword arguments, due now on its own queue."""
        return await self.runtime.enqueuer.enqueue(name, args, kwargs)

    def safe_parse_json(self, text: str | bytes | None, default: Any = None) -> Any:
        """Parse JSON, returning `default` ({} if not given) for empty or invalid input."""
        fallback = {} if default is None else default
        if not text:
            return fallback
        try:
            return json.loads(text)
        except ValueError:
            self.log.warning("json.invalid", preview=str(text)[:120])
            return fallback


#: The jobs' logger; each job's fields ride in its task's context variables (merged by `merge_contextvars`).
_JOB_LOG = structlog.get_logger("powerworker.job")


def bound_logger(job_id: str, name: str, job_try: int, queue: str) -> Any:
    """The structlog logger of one job; its fields are also bound in the task's contextvars."""
    structlog.contextvars.bind_contextvars(job_id=job_id, job=name, job_try=job_try, queue=queue)
    return _JOB_LOG
