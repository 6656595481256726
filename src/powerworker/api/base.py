"""The base client: how every call to the Powernode server is built, guarded, retried and answered.

Every request carries `Authorization: Bearer <worker JWT>`, `Content-Type` and `Accept: application/json` and
the client's `User-Agent`. GET, HEAD and DELETE send their data as a Rails-style nested query string; POST,
PUT and PATCH as a JSON body, omitted when empty. Each try goes through the client's circuit breaker, so a
retried request counts once per try and an open breaker stops the retries at once. Idempotent verbs are
retried on timeouts and 5xx (`RetryPolicy`); POST and PATCH never are. Backoff sleeps go through the Clock.

Errors: every failure reaches the caller as one `ApiError` with status, message, body and service
(see `powerworker.api.responses` for the mapping); an open breaker raises `CircuitOpenError` (an `ApiError`,
503).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import quote
from uuid import UUID

import aiohttp
import structlog
from yarl import URL

from powerworker.api.jwt import WorkerJwt
from powerworker.api.query import to_query
from powerworker.api.responses import error_for_status, error_for_transport, parse_body
from powerworker.clock import Clock, system_clock
from powerworker.errors import ApiError
from powerworker.resilience.breaker import Breaker
from powerworker.resilience.http_retry import RetryPolicy, parse_retry_after

__all__ = ["ApiClient", "json_dumps"]

log = structlog.get_logger(__name__)

#: Verbs whose data goes into the query string rather than a body.
QUERY_METHODS = frozenset({"GET", "HEAD", "DELETE"})
_URL_SAFE = "/:?&=%[]@!$'()*+,;~-._#"


def _json_default(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(data: Any) -> str:
    """Compact JSON as the server expects it (datetimes ISO 8601, Decimals and UUIDs as strings)."""
    return json.dumps(data, separators=(",", ":"), default=_json_default)


class ApiClient:
    """Sends requests to one server with one identity, breaker and retry policy.

    Args:
        session: the process's shared `ClientSession` (never closed here).
        base_url: e.g. `http://localhost:3000`; paths are appended to it.
        auth: the worker JWT signer, shared by every client.
        breaker: the breaker every try goes through.
        service: names the client in errors and logs (`backend_api`, `web_auth`).
        user_agent: the `User-Agent` header.
        timeout_s: total time of one try; connect_timeout_s: time to connect.
        retry: retry policy for idempotent verbs.
        clock: where backoff sleeps and `Retry-After` dates are measured.
        rng: jitter source (seed it in tests).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        auth: WorkerJwt,
        breaker: Breaker,
        service: str,
        user_agent: str,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 10.0,
        retry: RetryPolicy | None = None,
        clock: Clock = system_clock,
        rng: random.Random | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.breaker = breaker
        self.service = service
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self._rng = rng or random.Random()
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._timeout = self._timeout_for(breaker, None)
        self._plain_urls: dict[str, URL] = {}
        self._static_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }

    # -- the raw verbs ---------------------------------------------------------------------------------------
    async def get(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """GET `path` with `params` in the query string; the parsed reply."""
        return await self.request("GET", path, params, **options)

    async def post(self, path: str, data: Any = None, **options: Any) -> Any:
        """POST `data` as JSON to `path` (never retried); the parsed reply."""
        return await self.request("POST", path, data, **options)

    async def put(self, path: str, data: Any = None, **options: Any) -> Any:
        """PUT `data` as JSON to `path`; the parsed reply."""
        return await self.request("PUT", path, data, **options)

    async def patch(self, path: str, data: Any = None, **options: Any) -> Any:
        """PATCH `data` as JSON to `path` (never retried); the parsed reply."""
        return await self.request("PATCH", path, data, **options)

    async def delete(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """DELETE `path` with `params` in the query string; the parsed reply."""
        return await self.request("DELETE", path, params, **options)

    async def request(
        self,
        method: str,
        path: str,
        data: Any = None,
        *,
        timeout_s: float | None = None,
        breaker: Breaker | None = None,
        retry: RetryPolicy | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request, retrying idempotent verbs, and return the parsed 2xx body.

        Args:
            method: the HTTP verb.
            path: appended to the base URL (a leading `/` is added if missing); a full URL is used as it is.
            data: query parameters (GET/HEAD/DELETE) or JSON body (POST/PUT/PATCH).
            timeout_s: total time of one try, instead of the client's.
            breaker: a breaker to use instead of the client's (e.g. `mission_execution`).
            retry: a retry policy instead of the client's.
            raw: return the body as bytes instead of parsing it.

        Raises:
            ApiError: non-2xx reply, timeout (408), connection failure (503), open breaker (503,
                `CircuitOpenError`).
        """
        method = method.upper()
        url, body = self._prepare(method, path, data)
        guard = breaker or self.breaker
        timeout = (
            self._timeout if timeout_s is None and breaker is None else self._timeout_for(guard, timeout_s)
        )
        policy = retry or self.retry
        attempt = 0
        while True:
            attempt += 1
            retry_after_s: float | None = None
            try:
                ticket = guard.admit()  # CircuitOpenError when refused
                try:
                    # The try's timeout is at most the breaker's wall-clock limit, so it enforces that limit.
                    async with self.session.request(
                        method,
                        url,
                        data=body,
                        headers={"Authorization": f"Bearer {self.auth.token()}", **self._static_headers},
                        timeout=timeout,
                        allow_redirects=False,
                    ) as response:
                        content = await response.read()
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    failure = error_for_transport(error, self.service)
                    guard.record(ticket, failure)
                    raise failure from error
                except BaseException as error:  # cancelled: the breaker frees a probe slot
                    guard.record(ticket, error)
                    raise
                status, headers = response.status, response.headers
                if 200 <= status < 300:
                    guard.record(ticket)
                    return content if raw else parse_body(content, headers.get("Content-Type"))
                retry_after_s = parse_retry_after(headers.get("Retry-After"), self.clock.time())
                failure = error_for_status(
                    status, parse_body(content, headers.get("Content-Type")), self.service
                )
                guard.record(ticket, failure)
                raise failure
            except ApiError as error:
                failure = error
            if not policy.should_retry(method, failure, attempt):
                raise failure
            if retry_after_s is not None and retry_after_s > policy.max_retry_after_s:
                raise failure
            delay = policy.delay_s(attempt, retry_after_s, self._rng)
            log.info(
                "api_retry",
                service=self.service,
                method=method,
                path=path,
                attempt=attempt,
                status=failure.status,
                delay_s=round(delay, 3),
            )
            await self.clock.sleep(delay)

    # -- building a request ----------------------------------------------------------------------------------
    def _prepare(self, method: str, path: str, data: Any) -> tuple[URL, bytes | None]:
        """The URL (with the query of GET/HEAD/DELETE data) and the body (JSON of POST/PUT/PATCH data)."""
        if not data:  # most calls: a path alone, whose URL is built once
            url = self._plain_urls.get(path)
            if url is None:
                url = _url(self._target(path))
                if len(self._plain_urls) < 1024:
                    self._plain_urls[path] = url
            return url, None
        target = self._target(path)
        if method in QUERY_METHODS:
            query = to_query(data)
            return _url(f"{target}{'&' if '?' in target else '?'}{query}" if query else target), None
        return _url(target), json_dumps(data).encode()

    def _target(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def _timeout_for(self, breaker: Breaker, timeout_s: float | None) -> aiohttp.ClientTimeout:
        """The try's timeout: the client's (or the given one), never longer than the breaker's limit."""
        total = min(self._timeout_s if timeout_s is None else timeout_s, breaker.config.call_timeout_s)
        timeout = self._timeouts.get(total)
        if timeout is None:
            timeout = aiohttp.ClientTimeout(total=total, connect=min(self._connect_timeout_s, total))
            if len(self._timeouts) < 64:
                self._timeouts[total] = timeout
        return timeout


@lru_cache(maxsize=4096)
def _url(target: str) -> URL:
    """The URL of a target string, escaped where needed (cached: most calls repeat a few paths)."""
    return URL(quote(target, safe=_URL_SAFE), encoded=True)
