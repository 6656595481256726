"""The dashboard's three middlewares, outermost first.

1. `security_headers`: a strict Content-Security-Policy (no inline script or style), no framing, no referrer,
   no caching of pages, on every response including errors.
2. `csrf_protect`: reads the session cookie; every state-changing request must come from this site (its
   `Origin`, else its `Referer`, names this host) and carry the session's CSRF token.
3. `authenticate`: enforces what the matched handler declared with `requires` (a page without a declaration
   needs a signed-in admin), re-checking the session with the backend through the `Authenticator`; writes
   the cookie of a session created while handling the request.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from powerworker.web import login
from powerworker.web.auth import Access, AuthUnavailable, access_of
from powerworker.web.render import render
from powerworker.web.session import Session
from powerworker.web.state import DEPS, NEW_SESSION, SERVICES, SESSION, USER

__all__ = ["CSP", "authenticate", "csrf_protect", "security_headers"]

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"


def _is_static(request: web.Request) -> bool:
    return isinstance(request.match_info.route.resource, web.StaticResource)


def _add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    # Never a Referer to another site (a `?token=` sign-in link cannot leak); not `no-referrer`, with which
    # browsers send `Origin: null` on form posts and the origin check could not tell a real one.
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    if request.app[DEPS].config.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if _is_static(request):
        headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        headers["Cache-Control"] = "no-store"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response, errors included."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        _add_security_headers(request, error)
        raise
    _add_security_headers(request, response)
    return response


def _same_origin(request: web.Request) -> bool:
    """Whether the request's `Origin` (or, lacking one, its `Referer`) is this host."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


@web.middleware
async def csrf_protect(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Load the session; refuse state-changing requests from elsewhere or without the session's CSRF token."""
    session = request.app[SERVICES].codec.read(request)
    if session is not None:
        request[SESSION] = session
    if request.method in UNSAFE_METHODS and not _is_static(request):
        if not _same_origin(request):
            return _refused(request, "This request did not come from the dashboard itself and was refused.")
        form = await request.post()
        sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
        if session is None or not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf):
            return _refused(request, "This form has expired. Reload the page and try again.")
    return await handler(request)


def _refused(request: web.Request, message: str) -> web.Response:
    return render(
        request, "message.html", {"title": "Request refused", "message": message, "kind": "error"}, status=403
    )


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let the request through only as far as the matched handler's `requires` allows."""
    match = request.match_info
    if isinstance(match.http_exception, web.HTTPNotFound):
        title, message = "Page not found", "There is no page at this address."
        return render(
            request, "message.html", {"title": title, "message": message, "kind": "info"}, status=404
        )
    if match.http_exception is not None or _is_static(request):
        return await handler(request)
    access = access_of(match.handler)
    try:
        response = await handler(request) if access.public else await _guarded(request, handler, access)
    except web.HTTPException as error:
        _write_new_session(request, error)
        raise
    except (RedisError, OSError) as error:
        log.warning("web.redis_unavailable", path=request.path, error=repr(error))
        response = render(
            request,
            "message.html",
            {"title": "Redis unavailable", "message": "The queue's Redis is not answering.", "kind": "error"},
            status=503,
        )
    _write_new_session(request, response)
    return response


def _write_new_session(request: web.Request, response: web.StreamResponse) -> None:
    new = request.get(NEW_SESSION)
    if new is not None:
        request.app[SERVICES].codec.write(response, new)


def _bearer_ok(request: web.Request) -> bool:
    expected = request.app[DEPS].config.metrics_token
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), expected.encode())


async def _guarded(request: web.Request, handler: Handler, access: Access) -> web.StreamResponse:
    if access.bearer_ok and _bearer_ok(request):
        return await handler(request)
    if request.method == "GET" and request.query.get("token"):
        return await login.token_link(request)  # a platform sign-in link to any page
    session = request.get(SESSION)
    if session is None or session.token is None:
        if access.bearer_ok:
            return web.Response(
                status=401, text="authentication required\n", headers={"WWW-Authenticate": "Bearer"}
            )
        return login.login_page(request, next_path=_next_of(request))
    services = request.app[SERVICES]
    try:
        user = (
            None
            if await services.revocations.revoked(session.token)
            else await services.auth.verify(session.token)
        )
    except AuthUnavailable:
        return login.unavailable_page(request)
    if user is None:
        request[NEW_SESSION] = Session.new(request.app[DEPS].clock.time())  # the ended one is not asked again
        return login.login_page(
            request, next_path=_next_of(request), error="Your session has ended. Please sign in again."
        )
    if not user.holds_any(access.any_of):
        return render(
            request,
            "message.html",
            {"title": "Not allowed", "message": "Your account may not use this page.", "kind": "error"},
            status=403,
        )
    request[USER] = user
    return await handler(request)


def _next_of(request: web.Request) -> str:
    return request.path_qs if request.method == "GET" else "/"
