"""The one HTTP connection pool of a worker process.

`create_session(settings)` is called once in the worker's `on_startup`, handed to every client, and closed in
`on_shutdown`; no client opens a session of its own. Pool size, per-host limit, connect timeout and keep-alive
come from the settings; per-call timeouts are set by each client.
"""

from __future__ import annotations

import aiohttp

from powerworker.settings import Settings

__all__ = ["create_session", "session_timeout"]


def session_timeout(settings: Settings) -> aiohttp.ClientTimeout:
    """The default timeout of a request: `API_TIMEOUT` in all, `HTTP_CONNECT_TIMEOUT_S` to connect."""
    return aiohttp.ClientTimeout(total=settings.api_timeout_s, connect=settings.http_connect_timeout_s)


def create_session(settings: Settings) -> aiohttp.ClientSession:
    """A pooled, keep-alive `ClientSession` for every outbound call of the process.

    Must be called from a coroutine (aiohttp binds the session to the running loop). The caller owns it and
    closes it with `await session.close()`.
    """
    keepalive = settings.http_keepalive_s
    connector = aiohttp.TCPConnector(
        limit=settings.http_pool_size,
        limit_per_host=settings.http_pool_per_host,
        keepalive_timeout=keepalive if keepalive > 0 else None,
        force_close=keepalive <= 0,
        ttl_dns_cache=300,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=session_timeout(settings),
        raise_for_status=False,
        auto_decompress=True,
        trust_env=False,
    )
