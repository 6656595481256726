"""What the dashboard's handlers share: the dependencies handed to `create_app`, and the typed keys they sit under.

`Deps` holds the connections (made by the caller, closed by the caller); `Services` holds what `create_app`
builds from them once (cookie codec, authenticator, login limiter, signed-out sessions, templates). Per-request values (the
session, the signed-in user) sit under `RequestKey`s set by the middlewares.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web
from redis.asyncio import Redis

from powerworker.api.web_auth import WebAuthApiClient
from powerworker.clock import Clock, system_clock
from powerworker.dead import DeadSet
from powerworker.scheduler import Scheduler
from powerworker.web.auth import Authenticator, User
from powerworker.web.config import DashboardConfig
from powerworker.web.ratelimit import LoginLimiter
from powerworker.web.revocation import Revocations
from powerworker.web.session import Session, SessionCodec

__all__ = ["DEPS", "NEW_SESSION", "SERVICES", "SESSION", "USER", "Deps", "Services"]


@dataclass(frozen=True)
class Deps:
    """The dashboard's dependencies, built and closed by whoever runs it.

    Args:
        config: the dashboard's settings.
        redis: the queue's Redis.
        auth: the login client (its own breaker, `web_auth`).
        dead: the dead set, with an enqueuer for retries.
        scheduler: the schedule, for its table and its enable/disable/run actions.
        clock: time for sessions, caches and "now" on the pages.
    """

    config: DashboardConfig
    redis: Redis
    auth: WebAuthApiClient
    dead: DeadSet
    scheduler: Scheduler
    clock: Clock = system_clock


@dataclass(frozen=True)
class Services:
    """Built once by `create_app` from the deps."""

    codec: SessionCodec
    auth: Authenticator
    limiter: LoginLimiter
    revocations: Revocations
    templates: jinja2.Environment


DEPS = web.AppKey("deps", Deps)
SERVICES = web.AppKey("services", Services)
#: The request's session as read from its cookie (None: no valid cookie).
SESSION = web.RequestKey("session", Session)
#: A session created while handling the request; the auth middleware writes its cookie.
NEW_SESSION = web.RequestKey("new_session", Session)
#: The signed-in user, once the backend confirmed the session.
USER = web.RequestKey("user", User)
