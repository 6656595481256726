"""Who may use the dashboard: logins and session checks through the backend, and the permission decorator.

The backend decides everything (spec §6): a login with a platform token or e-mail and password opens a 24 h
session there, and every page re-checks that session, so a user who loses `admin.access` is out on their next
page. A positive check is reused for at most `session_cache_s` (30 s at most) to spare the backend.

Failures fall in two kinds, and they must never be confused:

- **refused** (`LoginRefused`, or `verify` returning None): the backend answered and said no (a 4xx, or a
  success envelope without `valid: true`); the visitor is shown the login page.
- **unavailable** (`AuthUnavailable`): the backend could not answer (connection error, timeout, 5xx, open
  breaker); the visitor is shown "authentication system unavailable", and is never let in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from aiohttp import web

from powerworker.api.envelope import is_success
from powerworker.api.web_auth import WebAuthApiClient
from powerworker.clock import Clock, system_clock
from powerworker.errors import ApiError

__all__ = [
    "ADMIN",
    "METRICS",
    "PUBLIC",
    "Access",
    "AuthUnavailable",
    "Authenticator",
    "Login",
    "LoginRefused",
    "User",
    "access_of",
    "requires",
]

log = structlog.get_logger(__name__)

#: The permissions that open the dashboard (either one suffices), as the backend grants them.
ADMIN_PERMISSIONS = frozenset({"admin.access", "system.admin"})
CACHE_ENTRIES = 1024


@dataclass(frozen=True)
class Access:
    """What a handler requires: nothing (`public`), a signed-in user holding one of `any_of`, or, for
    `bearer_ok`, alternatively the metrics bearer token."""

    public: bool = False
    any_of: frozenset[str] = ADMIN_PERMISSIONS
    bearer_ok: bool = False


PUBLIC = Access(public=True)
ADMIN = Access()
METRICS = Access(bearer_ok=True)

_ACCESS_ATTR = "__dashboard_access__"
H = TypeVar("H", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


def requires(access: Access) -> Callable[[H], H]:
    """Declare what a handler requires; the auth middleware enforces it.

    A handler without the decorator requires `ADMIN`, so a forgotten decorator locks a page, never opens it.
    """

    def mark(handler: H) -> H:
        setattr(handler, _ACCESS_ATTR, access)
        return handler

    return mark


def access_of(handler: Any) -> Access:
    """The access a handler declared (`ADMIN` when it declared none)."""
    access = getattr(handler, _ACCESS_ATTR, None)
    return access if isinstance(access, Access) else ADMIN


@dataclass(frozen=True)
class User:
    """A signed-in user, as the backend last confirmed."""

    email: str
    permissions: frozenset[str]

    def holds_any(self, permissions: Collection[str]) -> bool:
        return not self.permissions.isdisjoint(permissions)


@dataclass(frozen=True)
class Login:
    """A session the backend opened."""

    session_token: str
    email: str


class LoginRefused(Exception):
    """The backend refused a login; `message` is safe to show."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AuthUnavailable(Exception):
    """The backend could not be asked (down, timing out, breaker open)."""


def _is_refusal(error: ApiError) -> bool:
    return error.status is not None and 400 <= error.status < 500 and error.status not in (408, 429)


class Authenticator:
    """Logs users in and checks their sessions through the backend, caching positive checks briefly.

    Args:
        client: the login client (`WebAuthApiClient`).
        cache_s: how long a positive check is reused (0 to disable).
        clock: the cache's clock (monotonic time).
    """

    def __init__(self, client: WebAuthApiClient, *, cache_s: float, clock: Clock = system_clock) -> None:
        self._client = client
        self._cache_s = cache_s
        self._clock = clock
        self._cache: dict[str, tuple[float, User]] = {}

    async def password_login(self, email: str, password: str) -> Login:
        """Log in with e-mail and password.

        Raises:
            LoginRefused: wrong credentials, or the user may not use the dashboard (the reason is not told).
            AuthUnavailable: the backend could not answer.
        """
        refusal = "Invalid email or password"  # the server's reason (permissions, unverified) is not told
        reply = await self._call(self._client.authenticate_user(email, password), refusal)
        return self._login_from(reply, refusal)

    async def token_login(self, token: str) -> Login:
        """Log in with a platform access token.

        Raises:
            LoginRefused: the token is invalid, expired, or its user may not use the dashboard.
            AuthUnavailable: the backend could not answer.
        """
        refusal = "Invalid or expired platform token"
        reply = await self._call(self._client.verify_platform_token(token), refusal)
        return self._login_from(reply, refusal)

    async def verify(self, session_token: str) -> User | None:
        """The session's user, or None if the backend says the session is no longer valid.

        Raises:
            AuthUnavailable: the backend could not answer (and no recent positive check is cached).
        """
        now = self._clock.monotonic()
        cached = self._cache.get(session_token)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            reply = await self._call(self._client.verify_session(session_token), "Session expired")
        except LoginRefused:
            self.forget(session_token)
            return None
        data = _data(reply)
        if not (is_success(reply) and data.get("valid") is True):
            self.forget(session_token)
            return None
        user = User(str(data.get("user_email", "")), frozenset(map(str, data.get("permissions") or ())))
        if self._cache_s > 0:
            if len(self._cache) >= CACHE_ENTRIES:
                self._evict(now)
            self._cache[session_token] = (now + self._cache_s, user)
        return user

    def forget(self, session_token: str) -> None:
        """Drop a cached check (at logout, or when the backend said no)."""
        self._cache.pop(session_token, None)

    def _evict(self, now: float) -> None:
        for token, (until, _) in list(self._cache.items()):
            if until <= now:
                del self._cache[token]
        while len(self._cache) >= CACHE_ENTRIES:
            self._cache.pop(next(iter(self._cache)))

    async def _call(self, pending: Awaitable[Any], refusal: str) -> Any:
        try:
            return await pending
        except ApiError as error:
            if _is_refusal(error):
                raise LoginRefused(refusal) from error
            log.warning("web_auth.unavailable", status=error.status, error=error.message)
            raise AuthUnavailable(error.message) from error

    @staticmethod
    def _login_from(reply: Any, refusal: str) -> Login:
        data = _data(reply)
        token = data.get("session_token")
        if not (is_success(reply) and data.get("valid") is True and isinstance(token, str) and token):
            raise LoginRefused(refusal)
        return Login(token, str(data.get("user_email", "")))


def _data(reply: Any) -> Mapping[str, Any]:
    data = reply.get("data") if isinstance(reply, Mapping) else None
    return data if isinstance(data, Mapping) else {}
