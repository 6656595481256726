"""Everything that talks HTTP: the shared session, the worker JWT and the clients of the Powernode server.

The worker wires it up once per process:

    session = create_session(settings)                                   # on_startup
    clients = build_clients(session, settings, redis=redis)              # put in the job ctx
    ...
    await clients.close(); await session.close()                         # on_shutdown

`clients.backend` is the jobs' client, `clients.web_auth` the dashboard's login client, `clients.llm` the LLM
client, and `clients.breakers` the process's circuit breakers (`await clients.breakers.publish()` periodically
keeps their state visible to the dashboard).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

from powerworker.api.backend import BackendApiClient
from powerworker.api.envelope import Envelope, data_of, error_of, is_success
from powerworker.api.http import create_session
from powerworker.api.jwt import WorkerJwt
from powerworker.api.llm import LlmProxyClient, ProviderClient
from powerworker.api.web_auth import WEB_AUTH_USER_AGENT, WebAuthApiClient
from powerworker.clock import Clock, system_clock
from powerworker.resilience.breaker import BreakerRegistry
from powerworker.settings import Settings

__all__ = [
    "ApiClients",
    "BackendApiClient",
    "Envelope",
    "LlmProxyClient",
    "WebAuthApiClient",
    "WorkerJwt",
    "build_clients",
    "create_session",
    "data_of",
    "error_of",
    "is_success",
    "open_clients",
]

BACKEND_USER_AGENT = "PowernodeWorker/1.0"


@dataclass(frozen=True)
class ApiClients:
    """The HTTP clients of one worker process, sharing one session, one JWT and one breaker registry."""

    backend: BackendApiClient
    web_auth: WebAuthApiClient
    llm: LlmProxyClient
    breakers: BreakerRegistry
    auth: WorkerJwt
    session: aiohttp.ClientSession

    async def close(self) -> None:
        """Write pending breaker state to Redis (the session is the caller's to close, after this)."""
        await self.breakers.close()


def build_clients(
    session: aiohttp.ClientSession,
    settings: Settings,
    *,
    redis: Redis | None = None,
    clock: Clock = system_clock,
    instance_id: str | None = None,
) -> ApiClients:
    """Every client of the process over `session`.

    Args:
        session: from `create_session(settings)`; shared by all clients and closed by the caller.
        settings: base URL, JWT identity, timeouts.
        redis: if given, breaker transitions are published to `powerworker:breakers:<instance>` at once.
        instance_id: names this process in the published breaker state (several processes may share one
            WORKER_ID); defaults to WORKER_ID.
        clock: time for JWT expiry, breaker windows, backoff sleeps and caches.
    """
    breakers = BreakerRegistry(clock=clock, redis=redis, worker_id=instance_id or settings.worker_id)
    auth = WorkerJwt.from_settings(settings, clock)
    backend = BackendApiClient(
        session,
        base_url=settings.backend_api_url,
        auth=auth,
        breaker=breakers.get("backend_api"),
        service="backend_api",
        user_agent=BACKEND_USER_AGENT,
        timeout_s=settings.api_timeout_s,
        connect_timeout_s=settings.http_connect_timeout_s,
        clock=clock,
    )
    web_auth = WebAuthApiClient(
        session,
        base_url=settings.backend_api_url,
        auth=auth,
        breaker=breakers.get("web_auth"),  # its own: login trouble never opens `backend_api`
        service="web_auth",
        user_agent=WEB_AUTH_USER_AGENT,
        timeout_s=settings.api_timeout_s,  # capped by the breaker's 15 s limit
        connect_timeout_s=settings.http_connect_timeout_s,
        clock=clock,
    )
    llm = LlmProxyClient(backend, ProviderClient(session, breakers), clock=clock)
    return ApiClients(
        backend=backend, web_auth=web_auth, llm=llm, breakers=breakers, auth=auth, session=session
    )


@asynccontextmanager
async def open_clients(
    settings: Settings, *, redis: Redis | None = None, clock: Clock = system_clock
) -> AsyncIterator[ApiClients]:
    """A session and its clients for the length of a block (scripts, the CLI, tests); closes both after."""
    session = create_session(settings)
    try:
        clients = build_clients(session, settings, redis=redis, clock=clock)
        yield clients
        await clients.close()
    finally:
        await session.close()
