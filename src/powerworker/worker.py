"""Worker wiring: the arq settings object, start-up and shutdown of the per-process resources.

`arq powerworker.WorkerSettings` imports `build_worker_settings()`'s result. Tuned defaults: poll every
50 ms, `max_jobs` from WORKER_CONCURRENCY, a health check every 10 s (so `arq ... --check` tells the truth),
JSON payloads, and on SIGTERM a grace period for running jobs before the rest are handed back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from arq import Worker
from arq.connections import RedisSettings

from powerworker.api import build_clients, create_session
from powerworker.clock import Clock, system_clock
from powerworker.context import Runtime, new_instance_id
from powerworker.dead import DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.execution import arq_functions, internal_functions
from powerworker.jobs.base import JobSpec, load_jobs
from powerworker.keys import lane_key
from powerworker.logs import configure_logging
from powerworker.queues import QueueRouter
from powerworker.resilience.lease import run_heartbeat, unregister
from powerworker.runner import PowerworkerWorker
from powerworker.scheduler import Scheduler, arq_cron_jobs, load_schedule
from powerworker.serialization import make_job_deserializer, serialize
from powerworker.settings import Settings, load_settings
from powerworker.tracking import Tracker

__all__ = [
    "build_queue_tools",
    "build_runtime",
    "build_worker_settings",
    "close_worker",
    "create_worker",
    "router_for",
]

log = structlog.get_logger(__name__)

#: Keys of arq's ctx where powerworker keeps its state.
RUNTIME = "runtime"
SETTINGS = "settings"
CLOCK = "clock"
_HEARTBEAT = "_powerworker_heartbeat"
_CONFIGURE_LOGS = "_powerworker_configure_logs"


def router_for(settings: Settings) -> QueueRouter:
    return QueueRouter(priority_step_ms=int(settings.priority_step_s * 1000), lanes=settings.lanes)


def build_queue_tools(
    settings: Settings, redis: Any, clock: Clock = system_clock, specs: Mapping[str, JobSpec] | None = None
) -> tuple[Enqueuer, DeadSet]:
    """The enqueuer and dead set every process (worker, CLI, dashboard) builds the same way."""
    specs = load_jobs() if specs is None else specs
    enqueuer = Enqueuer(
        redis,
        router_for(settings),
        {n: s.queue for n, s in specs.items()},
        clock=clock,
        untracked={n for n, s in specs.items() if not s.runaway_check},
    )
    dead = DeadSet(
        redis,
        retention_s=settings.dead_retention_s,
        max_jobs=settings.dead_max_jobs,
        enqueuer=enqueuer,
        clock=clock,
    )
    return enqueuer, dead


def build_runtime(
    settings: Settings, redis: Any, clock: Clock = system_clock, specs: Mapping[str, JobSpec] | None = None
) -> Runtime:
    """The per-process resources (without the HTTP layer)."""
    enqueuer, dead = build_queue_tools(settings, redis, clock, specs)
    instance_id = new_instance_id()
    tracker = Tracker(redis, clock, instance_id)
    return Runtime(
        settings=settings,
        clock=clock,
        redis=redis,
        instance_id=instance_id,
        tracker=tracker,
        dead=dead,
        enqueuer=enqueuer,
    )


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx[SETTINGS]
    if ctx.get(_CONFIGURE_LOGS, True):
        configure_logging(settings)  # again: arq's CLI replaced the handlers after import
    runtime = build_runtime(settings, ctx["redis"], ctx.get(CLOCK, system_clock))
    ctx[RUNTIME] = runtime
    runtime.extras["scheduler"] = Scheduler(
        runtime.redis,
        runtime.enqueuer,
        load_schedule(settings.schedule),
        timezone=settings.cron_timezone,
        clock=runtime.clock,
    )
    await _start_http(runtime)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_heartbeat(runtime, settings.worker_lane, stop), name="powerworker-heartbeat"
    )
    ctx[_HEARTBEAT] = (stop, task)
    log.info(
        "worker.started",
        instance=runtime.instance_id,
        lane=settings.worker_lane,
        concurrency=settings.worker_concurrency,
        env=settings.worker_env,
    )


async def on_shutdown(ctx: dict[str, Any]) -> None:
    runtime: Runtime | None = ctx.get(RUNTIME)
    if _HEARTBEAT in ctx:
        stop, task = ctx.pop(_HEARTBEAT)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if runtime is not None:
        await runtime.tracker.flush()
        await _stop_http(runtime)
        with contextlib.suppress(Exception):
            await unregister(runtime)
        log.info("worker.stopped", instance=runtime.instance_id)


async def _start_http(runtime: Runtime) -> None:
    """Open the one shared HTTP session and its clients."""
    settings = runtime.settings
    if not settings.worker_id and settings.relaxed:  # development: a stand-in identity for the JWT
        settings = settings.model_copy(update={"worker_id": f"development-{runtime.instance_id}"})
    session = create_session(settings)
    runtime.api = build_clients(
        session, settings, redis=runtime.redis, clock=runtime.clock, instance_id=runtime.instance_id
    )


async def _stop_http(runtime: Runtime) -> None:
    if runtime.api is not None:
        await runtime.api.close()
        await runtime.api.session.close()
        runtime.api = None


def build_worker_settings(
    settings: Settings | None = None, *, clock: Clock | None = None, configure_logs: bool = True
) -> type:
    """The arq `WorkerSettings` class for `settings` (read from the environment when not given).

    Raises:
        ConfigurationError: the environment is not fit to start a worker.
    """
    settings = settings or load_settings()
    settings.check_for_start()
    if configure_logs:
        configure_logging(settings)
    for module in settings.extra_job_modules:
        importlib.import_module(module)
    specs = load_jobs()
    functions = [*arq_functions(specs, settings), *internal_functions()]
    entries = load_schedule(settings.schedule) if settings.scheduler_enabled else ()
    for entry in entries:
        if entry.job not in specs:
            log.warning("schedule.unknown_job", schedule=entry.name, job=entry.job)
    cron_jobs = arq_cron_jobs(entries)
    ctx: dict[str, Any] = {SETTINGS: settings, _CONFIGURE_LOGS: configure_logs}
    if clock is not None:
        ctx[CLOCK] = clock
    attributes: dict[str, Any] = {
        "functions": functions,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": lane_key(settings.worker_lane),
        "max_jobs": settings.worker_concurrency,
        "poll_delay": settings.poll_delay_s,
        "job_timeout": settings.job_timeout_s,
        "keep_result": settings.keep_result_s,
        "max_tries": settings.default_retries + 4,
        "health_check_interval": settings.health_check_interval_s,
        "job_completion_wait": int(settings.shutdown_grace_s),
        "job_serializer": serialize,
        "job_deserializer": make_job_deserializer(
            frozenset(f.name for f in functions) | {c.name for c in cron_jobs}
        ),
        "cron_jobs": cron_jobs,
        "timezone": ZoneInfo(settings.cron_timezone),
        "expires_extra_ms": 14 * 86_400_000,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "ctx": ctx,
        "log_results": False,
        "lease_s": settings.lease_s,
    }
    return type("WorkerSettings", (), attributes)


def create_worker(settings_cls: type, **overrides: Any) -> PowerworkerWorker:
    """A worker from a settings class, with overrides (tests pass `burst`, `handle_signals`...)."""
    params = {k: v for k, v in vars(settings_cls).items() if not k.startswith("__")}
    params["ctx"] = dict(params["ctx"])  # each worker gets its own ctx
    params.update(overrides)
    return PowerworkerWorker(**params)


async def close_worker(worker: Worker) -> None:
    """Close a worker started with `async_run` (arq's own `close()` uses a call redis-py 5 deprecates)."""
    if not worker._handle_signals:
        for task in worker.tasks.values():
            task.cancel()
    if worker._pool is None:
        return
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    await worker.pool.delete(worker.health_check_key)
    if worker.on_shutdown:
        await worker.on_shutdown(worker.ctx)
    await worker.pool.aclose(close_connection_pool=True)
    worker._pool = None
