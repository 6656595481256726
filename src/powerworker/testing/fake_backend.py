"""A fake Powernode server for tests: real HTTP on 127.0.0.1, the server's envelope, scripted faults.

    async with FakeBackend(clock=clock) as backend:
        backend.route("GET", "/api/v1/accounts/{id}", data={"id": "a1"})
        backend.fail(status=503, times=2)            # the next two requests get a 503
        client = ...(base_url=backend.url)            # point a client at it
        assert backend.requests[-1].path == "/api/v1/accounts/a1"

What it does, in order, for every request: records it (`backend.requests`), applies the first matching fault
(`fail`, `drop_connections`, `stall`, `delay`), checks the worker JWT as the server does (signature, `exp`
against the backend's clock, `iss`, `aud`, `type == "worker"`; any failure is a 401 envelope), then answers
from the routes the test registered. **An unrouted path answers `{"success": true, "data": {}}`** (jobs that
only need the call to succeed work without setup); pass `strict=True` to get a 404 envelope instead.

The `/api/v1/worker_auth/*` endpoints the dashboard uses are built in, backed by users and platform tokens
added with `add_user` and `add_platform_token`; sessions last 24 h on the backend's clock.

Give the backend the same clock as the worker JWT: a `FakeClock` starts in 2023, and a backend on the system
clock would reject its tokens as expired.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import jwt
from aiohttp import web

from powerworker.api.query import parse_query
from powerworker.clock import Clock, system_clock
from powerworker.settings import DEVELOPMENT_SECRET, Settings

__all__ = ["FakeBackend", "FakeUser", "RecordedRequest", "Reply"]

SESSION_TTL_S = 86_400
ADMIN_PERMISSIONS = frozenset({"admin.access", "system.admin"})
_MISSING: Any = object()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the backend received it.

    `path` is percent-decoded, `raw_path` as sent. `query` is the Rails-decoded query string (`a[]=1&a[]=2` -> `{"a": ["1", "2"]}`), `json` the parsed body
    (None when empty or not JSON), `claims` the verified JWT claims (None when missing or invalid, and then
    `auth_error` says why).
    """

    method: str
    path: str
    raw_path: str
    query: dict[str, Any]
    query_string: str
    json: Any
    body: bytes
    headers: Mapping[str, str]
    claims: dict[str, Any] | None = None
    auth_error: str | None = None
    match_info: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A full reply, for when an envelope with `data` is not what the test needs.

    `body` is sent as JSON; give `raw` (with its `content_type`) to send bytes instead.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/octet-stream"

    def response(self) -> web.Response:
        if self.raw is not None:
            return web.Response(
                body=self.raw, status=self.status, headers=self.headers, content_type=self.content_type
            )
        return web.json_response(self.body, status=self.status, headers=self.headers)


@dataclass
class FakeUser:
    """A platform user known to the worker_auth endpoints."""

    email: str
    password: str
    permissions: tuple[str, ...] = ("admin.access",)
    verified: bool = True
    active: bool = True


Handler = Callable[[RecordedRequest], Any]
FaultKind = Literal["fail", "drop", "stall", "delay"]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    respond: Handler


@dataclass
class _Fault:
    kind: FaultKind
    times: int | None
    path: str | None
    status: int = 503
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


def _compile(path: str) -> re.Pattern[str]:
    """`/api/v1/accounts/{id}` -> a regex with a named group per placeholder."""
    parts = re.split(r"\{(\w+)\}", path)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def _envelope_error(message: str) -> dict[str, Any]:
    return {"success": False, "error": message}


class FakeBackend:
    """An in-process Powernode server on a free port of 127.0.0.1 (use as an async context manager).

    Args:
        secret / issuer / audience: what worker JWTs are checked against.
        clock: the clock `exp` and session expiry are checked on (use the test's `FakeClock`).
        require_auth: check the worker JWT on every request.
        strict: answer unrouted paths with 404 instead of an empty success envelope.
    """

    def __init__(
        self,
        *,
        secret: str = DEVELOPMENT_SECRET,
        issuer: str = "powernode-platform",
        audience: str = "powernode-api",
        clock: Clock = system_clock,
        require_auth: bool = True,
        strict: bool = False,
    ) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.clock = clock
        self.require_auth = require_auth
        self.strict = strict
        self.requests: list[RecordedRequest] = []
        self.users: dict[str, FakeUser] = {}
        self.platform_tokens: dict[str, str] = {}
        self.sessions: dict[str, tuple[str, float]] = {}  # token -> (email, expires_at epoch)
        self._routes: list[_Route] = []
        self._faults: list[_Fault] = []
        self._stalls: list[asyncio.Event] = []
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._add_worker_auth_routes()

    @classmethod
    def for_settings(cls, settings: Settings, **options: Any) -> FakeBackend:
        """A backend that accepts the JWTs a worker with `settings` signs."""
        return cls(
            secret=settings.jwt_secret, issuer=settings.jwt_issuer, audience=settings.jwt_audience, **options
        )

    # -- lifecycle -------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash)."""
        if self._url is None:
            raise RuntimeError("the fake backend is not started")
        return self._url

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Release stalled requests and stop listening."""
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBackend:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # -- scripting replies -----------------------------------------------------------------------------------
    def route(
        self,
        method: str,
        path: str,
        *,
        data: Any = _MISSING,
        status: int = 200,
        body: Any = _MISSING,
        headers: Mapping[str, str] | None = None,
        handler: Handler | None = None,
    ) -> None:
        """Answer `method path` (placeholders like `{id}` allowed; the newest route for a path wins).

        Give one of: `data` (answered as `{"success": true, "data": data}` with `status`), `body` (any JSON,
        as it is, with `status`), or `handler(request) -> data | Reply` (sync or async).
        """
        if handler is None:
            reply = Reply(
                status, body if body is not _MISSING else {"success": True, "data": data}, headers or {}
            )
            if data is _MISSING and body is _MISSING:
                reply = Reply(status, {"success": True, "data": {}}, headers or {})

            def handler(_: RecordedRequest) -> Reply:
                return reply

        self._routes.insert(0, _Route(method.upper(), _compile(path), handler))

    def fail(
        self,
        status: int = 503,
        *,
        times: int | None = None,
        path: str | None = None,
        body: Any = _MISSING,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests (all until `recover()` if None) under `path` with `status`."""
        error_body = _envelope_error(f"Injected failure ({status})") if body is _MISSING else body
        self._faults.append(
            _Fault("fail", times, path, status=status, body=error_body, headers=headers or {})
        )

    def drop_connections(self, *, times: int | None = None, path: str | None = None) -> None:
        """Close the connection of the next `times` requests without replying (a failed connection).

        aiohttp re-sends an idempotent request once when a reused keep-alive connection is closed on it, so
        the backend may see such a request twice.
        """
        self._faults.append(_Fault("drop", times, path))

    def stall(self, *, times: int | None = None, path: str | None = None) -> None:
        """Hold the next `times` requests until `release()`, `recover()` or `close()`: clients time out."""
        fault = _Fault("stall", times, path)
        self._stalls.append(fault.released)
        self._faults.append(fault)

    def delay(self, seconds: float, *, times: int | None = None, path: str | None = None) -> None:
        """Add real latency to the next `times` requests (benchmarks and demos; tests should prefer
        `stall`)."""
        self._faults.append(_Fault("delay", times, path, seconds=seconds))

    def release(self) -> None:
        """End every stall: held requests go on to their normal reply, later ones are not held."""
        self._faults = [fault for fault in self._faults if fault.kind != "stall"]
        for event in self._stalls:
            event.set()
        self._stalls.clear()

    def recover(self) -> None:
        """Remove every fault and release stalled requests."""
        self.release()
        self._faults.clear()

    # -- inspecting what arrived -----------------------------------------------------------------------------
    def requests_to(self, method: str | None = None, path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, filtered by verb and exact path."""
        return [
            r
            for r in self.requests
            if (method is None or r.method == method.upper()) and (path is None or r.path == path)
        ]

    async def wait_for_requests(self, count: int, *, timeout_s: float = 5.0) -> None:
        """Wait until at least `count` requests have arrived (raises TimeoutError after `timeout_s`)."""
        async with asyncio.timeout(timeout_s), self._arrived:
            await self._arrived.wait_for(lambda: len(self.requests) >= count)

    # -- worker_auth users -----------------------------------------------------------------------------------
    def add_user(
        self,
        email: str,
        password: str,
        *,
        permissions: tuple[str, ...] = ("admin.access",),
        verified: bool = True,
        active: bool = True,
    ) -> FakeUser:
        """Make a user known to `authenticate_user` (emails are compared lower-cased)."""
        user = FakeUser(email.strip().lower(), password, tuple(permissions), verified, active)
        self.users[user.email] = user
        return user

    def add_platform_token(self, token: str, email: str) -> None:
        """Make `token` a valid platform access token of the user `email`."""
        self.platform_tokens[token] = email.strip().lower()

    def revoke_session(self, session_token: str) -> None:
        """End a dashboard session on the server side."""
        self.sessions.pop(session_token, None)

    # -- request handling ------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        fault = self._take_fault(recorded.path)
        if fault is not None:
            if fault.kind == "drop":
                assert request.transport is not None
                request.transport.close()
                raise asyncio.CancelledError  # no reply at all: the client sees a dropped connection
            if fault.kind == "fail":
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
            if fault.kind == "stall":
                await fault.released.wait()
            elif fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
        if self.require_auth and recorded.claims is None:
            message = f"Invalid worker token: {recorded.auth_error}"
            return web.json_response(_envelope_error(message), status=401)
        return await self._respond(recorded)

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        claims, auth_error = self._verify(request.headers.get("Authorization", ""))
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            raw_path=request.raw_path.partition("?")[0],
            query=parse_query(request.query_string),
            query_string=request.query_string,
            json=parsed,
            body=body,
            headers=dict(request.headers),
            claims=claims,
            auth_error=auth_error,
        )
        async with self._arrived:
            self.requests.append(recorded)
            self._arrived.notify_all()
        return recorded

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _verify(self, header: str) -> tuple[dict[str, Any] | None, str | None]:
        """The claims of a valid worker JWT in the Authorization header, or None and the reason it is not
        valid."""
        if not header.startswith("Bearer "):
            return None, "missing bearer token"
        try:
            claims: dict[str, Any] = jwt.decode(
                header.removeprefix("Bearer ").strip(),
                self.secret,
                algorithms=["HS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "sub"],
                },
            )
        except jwt.PyJWTError as error:
            return None, str(error) or type(error).__name__
        if claims.get("type") != "worker":
            return None, "token type is not worker"
        if float(claims["exp"]) <= self.clock.time():  # on the backend's clock, so FakeClock tests work
            return None, "Signature has expired"
        return claims, None

    async def _respond(self, recorded: RecordedRequest) -> web.StreamResponse:
        for route in self._routes:
            match = route.pattern.match(recorded.path) if route.method == recorded.method else None
            if match is None:
                continue
            with_match = replace(recorded, match_info=match.groupdict())
            result = route.respond(with_match)
            if inspect.isawaitable(result):
                result = await result
            reply = result if isinstance(result, Reply) else Reply(200, {"success": True, "data": result})
            return reply.response()
        if self.strict:
            message = f"No route for {recorded.method} {recorded.path}"
            return web.json_response(_envelope_error(message), status=404)
        return web.json_response({"success": True, "data": {}})

    # -- the built-in worker_auth endpoints ------------------------------------------------------------------
    def _add_worker_auth_routes(self) -> None:
        base = "/api/v1/worker_auth"
        self._routes += [
            _Route("POST", _compile(f"{base}/authenticate_user"), self._authenticate_user),
            _Route("POST", _compile(f"{base}/verify_platform_token"), self._verify_platform_token),
            _Route("POST", _compile(f"{base}/verify_session"), self._verify_session),
        ]

    def _login_problem(self, user: FakeUser | None) -> Reply | None:
        if user is None or not user.active:
            return Reply(401, _envelope_error("Invalid email or password"))
        if not user.verified:
            return Reply(403, _envelope_error("Email not verified"))
        if not ADMIN_PERMISSIONS.intersection(user.permissions):
            return Reply(403, _envelope_error("Insufficient permissions"))
        return None

    def _login(self, user: FakeUser | None) -> Reply | dict[str, Any]:
        problem = self._login_problem(user)
        if problem is not None:
            return problem
        assert user is not None
        return self._open_session(user)

    def _open_session(self, user: FakeUser) -> dict[str, Any]:
        token = str(uuid.uuid4())
        expires = self.clock.time() + SESSION_TTL_S
        self.sessions[token] = (user.email, expires)
        return {
            "valid": True,
            "session_token": token,
            "user_email": user.email,
            "expires_at": datetime.fromtimestamp(expires, tz=UTC).isoformat(),
            "permissions": list(user.permissions),
        }

    def _authenticate_user(self, request: RecordedRequest) -> Reply | dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        user = self.users.get(str(body.get("email", "")).strip().lower())
        if user is not None and user.password != body.get("password"):
            user = None
        return self._login(user)

    def _verify_platform_token(self, request: RecordedRequest) -> Reply | dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        email = self.platform_tokens.get(str(body.get("token", "")))
        if email is None:
            return Reply(401, _envelope_error("Invalid or expired token"))
        return self._login(self.users.get(email))

    def _verify_session(self, request: RecordedRequest) -> Reply | dict[str, Any]:
        body = request.json if isinstance(request.json, dict) else {}
        token = str(body.get("session_token", ""))
        email, expires = self.sessions.get(token, ("", 0.0))
        user = self.users.get(email)
        if user is None or expires <= self.clock.time() or self._login_problem(user) is not None:
            self.sessions.pop(token, None)
            return Reply(401, _envelope_error("Invalid or expired session"))
        return {
            "valid": True,
            "user_email": user.email,
            "permissions": list(user.permissions),
            "expires_at": datetime.fromtimestamp(expires, tz=UTC).isoformat(),
        }
