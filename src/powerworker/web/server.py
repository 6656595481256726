"""Running the dashboard as its own process: the deps made from the settings, and the server.

powerworker web [--host 127.0.0.1] [--port 4567]
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from aiohttp import web
from redis.asyncio import Redis

from powerworker.api import open_clients
from powerworker.clock import Clock, system_clock
from powerworker.scheduler import Scheduler, load_schedule
from powerworker.settings import Settings
from powerworker.web.app import create_app
from powerworker.web.config import DashboardConfig
from powerworker.web.state import Deps
from powerworker.worker import build_queue_tools

__all__ = ["build_app", "open_deps", "serve"]

log = structlog.get_logger(__name__)

#: The identity the dashboard signs worker JWTs with in development when WORKER_ID is not set.
DEVELOPMENT_IDENTITY = "development-dashboard"


@asynccontextmanager
async def open_deps(
    settings: Settings, *, clock: Clock = system_clock, version: str = ""
) -> AsyncIterator[Deps]:
    """Redis, the login client and the dead set and schedule over them, for the length of a block."""
    if not settings.worker_id and settings.relaxed:
        settings = settings.model_copy(update={"worker_id": DEVELOPMENT_IDENTITY})
    redis: Redis = Redis.from_url(settings.redis_url)
    try:
        # No Redis for the breaker registry: the dashboard's own breakers are not a worker's to publish.
        async with open_clients(settings, clock=clock) as clients:
            enqueuer, dead = build_queue_tools(settings, redis, clock)
            yield Deps(
                config=DashboardConfig.from_settings(settings, version=version),
                redis=redis,
                auth=clients.web_auth,
                dead=dead,
                scheduler=Scheduler(
                    redis,
                    enqueuer,
                    load_schedule(settings.schedule),
                    timezone=settings.cron_timezone,
                    clock=clock,
                ),
                clock=clock,
            )
    finally:
        await redis.aclose()


async def build_app(settings: Settings, *, version: str = "") -> web.Application:
    """The dashboard with deps opened from `settings`, closed when the application is cleaned up."""
    stack = AsyncExitStack()
    deps = await stack.enter_async_context(open_deps(settings, version=version))
    app = create_app(deps)

    async def close_deps(_: web.Application) -> None:
        await stack.aclose()

    app.on_cleanup.append(close_deps)
    return app


def serve(settings: Settings, host: str, port: int, *, version: str = "") -> None:
    """Serve the dashboard until SIGINT or SIGTERM."""
    log.info("web.starting", host=host, port=port, env=settings.worker_env)
    web.run_app(
        build_app(settings, version=version),
        host=host,
        port=port,
        print=None,
        access_log=None,
        shutdown_timeout=5,  # pages answer fast; do not hold a restart for a minute
    )
    log.info("web.stopped")
