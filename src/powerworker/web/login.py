"""Signing in and out (spec §6): a platform access token (a `?token=` link or the form) or e-mail and password.

Every login attempt is rate-limited per client address and per account before the backend is asked. A
successful login always starts a new session (new id, new CSRF token). A sign-in link answers with a small
page that moves on by itself: the cookie is SameSite=Strict, and a browser arriving from the platform's own
site would not send it on a redirect that is part of that cross-site navigation.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from redis.exceptions import RedisError

from powerworker.web.auth import PUBLIC, AuthUnavailable, Login, LoginRefused, requires
from powerworker.web.render import notice_url, render, safe_next, see_other
from powerworker.web.session import Session
from powerworker.web.state import DEPS, NEW_SESSION, SERVICES, SESSION

__all__ = ["login_form", "login_page", "login_submit", "logout", "token_link", "unavailable_page"]

log = structlog.get_logger(__name__)


def _ensure_session(request: web.Request) -> Session:
    """The visitor's session, creating an anonymous one (for its CSRF token) if there is none."""
    session = request.get(NEW_SESSION) or request.get(SESSION)
    if session is None:
        session = Session.new(request.app[DEPS].clock.time())
        request[NEW_SESSION] = session
    return session


def login_page(
    request: web.Request,
    *,
    next_path: str = "/",
    error: str | None = None,
    status: int = 401,
    email: str = "",
) -> web.Response:
    """The sign-in page (401 unless told otherwise), with a CSRF token for its forms."""
    _ensure_session(request)
    return render(
        request,
        "login.html",
        {"next_path": safe_next(next_path), "error": error, "email": email},
        status=status,
    )


def unavailable_page(request: web.Request) -> web.Response:
    """503: the backend could not be asked; nobody gets in."""
    _ensure_session(request)
    return render(
        request,
        "message.html",
        {
            "title": "Authentication system unavailable",
            "message": "The Powernode platform cannot confirm sign-ins right now, so the dashboard stays "
            "closed. Please try again in a minute.",
            "kind": "error",
            "retry_path": safe_next(request.path_qs if request.method == "GET" else "/"),
        },
        status=503,
    )


def _too_many(request: web.Request, retry_after_s: int, next_path: str) -> web.Response:
    minutes = max(1, (retry_after_s + 59) // 60)
    response = login_page(
        request,
        next_path=next_path,
        error=f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
        status=429,
    )
    response.headers["Retry-After"] = str(retry_after_s)
    return response


def _signed_in(request: web.Request, login: Login) -> Session:
    session = Session.new(request.app[DEPS].clock.time(), token=login.session_token, email=login.email)
    request[NEW_SESSION] = session  # a new session at every login: nothing planted earlier survives
    log.info("web.login", user=login.email)
    return session


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def token_link(request: web.Request) -> web.Response:
    """Sign in with the `?token=` of a platform link, then move on to the same page without the token."""
    target = safe_next(request.path if request.path != "/login" else request.query.get("next", "/"))
    services = request.app[SERVICES]
    verdict = await services.limiter.attempt(_client(request))
    if not verdict.allowed:
        return _too_many(request, verdict.retry_after_s, target)
    try:
        login = await services.auth.token_login(request.query["token"])
    except LoginRefused as refused:
        return login_page(request, next_path=target, error=refused.message)
    except AuthUnavailable:
        return unavailable_page(request)
    _signed_in(request, login)
    return render(request, "signed_in.html", {"target": target})


@requires(PUBLIC)
async def login_form(request: web.Request) -> web.Response:
    """GET /login: the sign-in page (or a sign-in with `?token=`)."""
    if request.query.get("token"):
        return await token_link(request)
    session = request.get(SESSION)
    if session is not None and session.signed_in:
        return see_other(safe_next(request.query.get("next")))  # the page re-checks the session
    return login_page(request, next_path=request.query.get("next", "/"), status=200)


@requires(PUBLIC)
async def login_submit(request: web.Request) -> web.Response:
    """POST /login: a pasted platform token, or e-mail and password (CSRF and origin already checked)."""
    form = await request.post()
    next_path = safe_next(str(form.get("next", "/")))
    token = str(form.get("platform_token", "")).strip()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    if not token and not (email and password):
        return login_page(request, next_path=next_path, error="Email and password are required", status=400)
    services = request.app[SERVICES]
    verdict = await services.limiter.attempt(_client(request), None if token else email)
    if not verdict.allowed:
        log.warning("web.login_rate_limited", client=_client(request))
        return _too_many(request, verdict.retry_after_s, next_path)
    try:
        if token:
            login = await services.auth.token_login(token)
        else:
            login = await services.auth.password_login(email, password)
    except LoginRefused as refused:
        log.info("web.login_refused", method="token" if token else "password")
        return login_page(request, next_path=next_path, error=refused.message, email=email)
    except AuthUnavailable:
        return unavailable_page(request)
    if not token:
        await services.limiter.succeeded(email)
    _signed_in(request, login)
    return see_other(next_path)


@requires(PUBLIC)
async def logout(request: web.Request) -> web.Response:
    """POST /logout: end the session in every web process (works while the backend is down, too)."""
    session = request.get(SESSION)
    services = request.app[SERVICES]
    if session is not None and session.token:
        services.auth.forget(session.token)
        try:
            await services.revocations.revoke(session.token)
        except (RedisError, OSError) as error:  # the cookie goes all the same
            log.warning("web.logout_not_remembered", error=repr(error))
        log.info("web.logout", user=session.email)
    response = see_other(notice_url("/login", "signed_out"))
    services.codec.clear(response)
    return response
