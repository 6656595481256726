"""`/health` (no login): Redis answers PING and the backend answers its health endpoint; 200 or 503 JSON.
Also the old `/sidekiq...` addresses, which the platform's sign-in links use, sent on to the same pages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from aiohttp import web

from powerworker.errors import ApiError
from powerworker.resilience.http_retry import RetryPolicy
from powerworker.web.auth import PUBLIC, requires
from powerworker.web.render import safe_next, see_other
from powerworker.web.state import DEPS

__all__ = ["health", "legacy_redirect"]

REDIS_TIMEOUT_S = 2.0
BACKEND_TIMEOUT_S = 5.0
#: A health check answers for now: one try, no retries with backoff.
ONE_TRY = RetryPolicy(max_attempts=1)


@requires(PUBLIC)
async def health(request: web.Request) -> web.Response:
    """GET /health: `{status, timestamp, redis, backend_api}` (200) or `{status: "error", timestamp, error}` (503)."""
    deps = request.app[DEPS]
    timestamp = datetime.fromtimestamp(deps.clock.time(), UTC).isoformat()
    try:
        async with asyncio.timeout(REDIS_TIMEOUT_S):
            await deps.redis.ping()
    except Exception as error:  # any failure to reach Redis is a failed check
        return _error(timestamp, f"Redis: {type(error).__name__}: {error}")
    try:
        await deps.auth.get("/api/v1/health", timeout_s=BACKEND_TIMEOUT_S, retry=ONE_TRY)
    except ApiError as error:
        return _error(timestamp, f"Backend API: {error.message}")
    return web.json_response(
        {"status": "ok", "timestamp": timestamp, "redis": "connected", "backend_api": "connected"}
    )


def _error(timestamp: str, message: str) -> web.Response:
    return web.json_response({"status": "error", "timestamp": timestamp, "error": message}, status=503)


@requires(PUBLIC)
async def legacy_redirect(request: web.Request) -> web.Response:
    """GET /sidekiq[/...]: the same page at its new address, query (and so a sign-in `token`) kept."""
    tail = request.match_info.get("tail", "").strip("/")
    target = "/" + tail
    if request.query_string:
        target += "?" + request.query_string
    return see_other(safe_next(target))
