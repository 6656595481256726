"""The dashboard application: `create_app(deps)` wires the routes, middlewares and shared services.

    deps = Deps(config=..., redis=..., auth=clients.web_auth, dead=..., scheduler=...)
    app = create_app(deps)          # the caller owns deps and closes them after the app

`powerworker web` builds the deps from the settings and serves the app (see `powerworker.web.server`).
Every route is in `ROUTES`; each handler declares its access with `requires` (none = a signed-in admin).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from powerworker.web import (
    breakers,
    dead,
    health,
    job_metrics,
    jobs,
    login,
    overview,
    prometheus,
    runaway,
    schedule,
)
from powerworker.web.auth import Authenticator
from powerworker.web.config import SESSION_MAX_AGE_S
from powerworker.web.middleware import authenticate, csrf_protect, security_headers
from powerworker.web.ratelimit import LoginLimiter
from powerworker.web.render import make_templates
from powerworker.web.revocation import Revocations
from powerworker.web.session import SessionCodec
from powerworker.web.state import DEPS, SERVICES, Deps, Services

__all__ = ["ROUTES", "STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"

ROUTES = [
    web.get("/health", health.health, allow_head=True),
    web.get("/metrics", prometheus.metrics),
    web.get("/login", login.login_form),
    web.post("/login", login.login_submit),
    web.post("/logout", login.logout),
    web.get("/", overview.overview),
    web.get("/jobs", jobs.jobs_page),
    web.get("/jobs/{job_id}", jobs.job_page),
    web.get("/dead", dead.dead_page),
    web.post("/dead/bulk", dead.bulk),
    web.post("/dead/{job_id}/retry", dead.retry_one),
    web.post("/dead/{job_id}/delete", dead.delete_one),
    web.get("/schedule", schedule.schedule_page),
    web.post("/schedule/{name}/{action:enable|disable|run}", schedule.schedule_action),
    web.get("/runaway", runaway.runaway_page),
    web.post("/runaway/enable", runaway.reenable),
    web.get("/breakers", breakers.breakers_page),
    web.get("/job-metrics", job_metrics.metrics_page),
    web.get("/job-metrics/{name}", job_metrics.metric_page),
    web.get("/sidekiq", health.legacy_redirect),
    web.get("/sidekiq/{tail:.*}", health.legacy_redirect),
    web.static("/static", STATIC_DIR),
]


def create_app(deps: Deps) -> web.Application:
    """The dashboard over `deps` (which the caller keeps open for the app's life and closes after)."""
    app = web.Application(middlewares=[security_headers, csrf_protect, authenticate])
    app[DEPS] = deps
    app[SERVICES] = Services(
        codec=SessionCodec(deps.config.session_secret, secure=deps.config.secure_cookies, clock=deps.clock),
        auth=Authenticator(deps.auth, cache_s=deps.config.session_cache_s, clock=deps.clock),
        limiter=LoginLimiter(
            deps.redis,
            account_limit=deps.config.login_attempts,
            ip_limit=deps.config.login_ip_attempts,
            window_s=deps.config.login_window_s,
        ),
        revocations=Revocations(deps.redis, ttl_s=SESSION_MAX_AGE_S),
        templates=make_templates(),
    )
    app.add_routes(ROUTES)
    return app
