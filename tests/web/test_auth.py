"""Signing in and out of the dashboard through the fake backend: token, password, refusals, outages, expiry."""

from __future__ import annotations

import pytest

from powerworker.web.app import ROUTES
from powerworker.web.auth import ADMIN, PUBLIC, access_of, requires
from tests.web.conftest import ADMIN_EMAIL, PLATFORM_TOKEN, Dashboard, DashboardFactory, csrf_of

PROTECTED_GETS = [
    "/",
    "/jobs",
    "/jobs/some-id",
    "/dead",
    "/schedule",
    "/runaway",
    "/breakers",
    "/job-metrics",
]


@pytest.mark.parametrize("path", PROTECTED_GETS)
async def test_every_page_asks_for_a_login(dashboard: Dashboard, path: str) -> None:
    """An anonymous visitor gets the 401 sign-in page, never the page's content."""
    body = await dashboard.text(path, status=401)
    assert "Sign in to the worker dashboard" in body
    assert f'name="next" value="{path}"' in body
    assert dashboard.backend.requests_to("POST") == []


async def test_every_route_declares_or_defaults_to_admin() -> None:
    """Only health, login, logout, the legacy redirect and /metrics are open; the rest need an admin."""
    open_routes = sorted(
        route.path for route in ROUTES if hasattr(route, "handler") and access_of(route.handler).public
    )
    assert open_routes == ["/health", "/login", "/login", "/logout", "/sidekiq", "/sidekiq/{tail:.*}"]

    async def undecorated() -> None: ...

    assert access_of(undecorated) is ADMIN
    assert access_of(requires(PUBLIC)(undecorated)) is PUBLIC


async def test_password_login_starts_a_new_session(dashboard: Dashboard) -> None:
    """E-mail and password open a session: a new cookie and CSRF token, then the page asked for."""
    login_page = await dashboard.text("/login")
    anonymous_cookie, anonymous_csrf = dashboard.session_cookie(), csrf_of(login_page)
    response = await dashboard.post(
        "/login",
        {"email": " Admin@Example.com ", "password": "correct horse battery staple", "next": "/dead"},
    )
    assert (response.status, response.headers["Location"]) == (303, "/dead")
    assert dashboard.session_cookie() not in (None, anonymous_cookie)
    body = await dashboard.text("/dead")
    assert ADMIN_EMAIL in body and csrf_of(body) != anonymous_csrf
    login_call = dashboard.backend.requests_to("POST", "/api/v1/worker_auth/authenticate_user")[0]
    assert login_call.json == {"email": "Admin@Example.com", "password": "correct horse battery staple"}


async def test_session_cookie_flags(dashboard: Dashboard) -> None:
    """The session cookie is HttpOnly, SameSite=Strict and lives 24 h (Secure only outside development)."""
    response = await dashboard.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("powerworker_session=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=86400" in cookie
    assert "Secure" not in cookie


async def test_secure_cookies_use_the_host_prefix(make_dashboard: DashboardFactory) -> None:
    """Outside development the cookie is `__Host-` prefixed and Secure, and pages send HSTS."""
    dashboard = await make_dashboard(secure_cookies=True)
    response = await dashboard.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-powerworker_session=") and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(
    ("email", "password"),
    [(ADMIN_EMAIL, "wrong"), ("nobody@example.com", "x"), ("viewer@example.com", "viewer-password")],
)
async def test_refused_password_logins_say_the_same(dashboard: Dashboard, email: str, password: str) -> None:
    """A wrong password, an unknown user and a user without admin rights all read "Invalid email or password"."""
    await dashboard.text("/login")
    response = await dashboard.post("/login", {"email": email, "password": password})
    body = await response.text()
    assert response.status == 401
    assert "Invalid email or password" in body and "Insufficient permissions" not in body
    assert (await dashboard.get("/")).status == 401


async def test_missing_credentials(dashboard: Dashboard) -> None:
    """A form without a token and without both e-mail and password is refused before the backend is asked."""
    await dashboard.text("/login")
    response = await dashboard.post("/login", {"email": ADMIN_EMAIL, "password": ""})
    assert response.status == 400
    assert "Email and password are required" in await response.text()
    assert dashboard.backend.requests_to("POST") == []


async def test_token_link_signs_in_and_drops_the_token(dashboard: Dashboard) -> None:
    """A `?token=` link signs in and moves on, by itself, to the same page without the token."""
    response = await dashboard.get(f"/dead?page=2&token={PLATFORM_TOKEN}")
    body = await response.text()
    assert response.status == 200
    assert '<meta http-equiv="refresh" content="0;url=/dead">' in body
    assert PLATFORM_TOKEN not in body
    assert (await dashboard.get("/dead")).status == 200
    call = dashboard.backend.requests_to("POST", "/api/v1/worker_auth/verify_platform_token")[0]
    assert call.json == {"token": PLATFORM_TOKEN}


async def test_token_link_to_the_login_page_goes_to_next(dashboard: Dashboard) -> None:
    """`/login?token=...&next=/schedule` signs in and moves on to the schedule."""
    body = await dashboard.text(f"/login?token={PLATFORM_TOKEN}&next=/schedule")
    assert 'content="0;url=/schedule"' in body


async def test_legacy_sidekiq_link_keeps_the_token(dashboard: Dashboard) -> None:
    """The platform's old `/sidekiq?token=` link is sent on to the new address with its query."""
    response = await dashboard.get(f"/sidekiq/?token={PLATFORM_TOKEN}")
    assert (response.status, response.headers["Location"]) == (303, f"/?token={PLATFORM_TOKEN}")
    response = await dashboard.get("/sidekiq/dead")
    assert response.headers["Location"] == "/dead"


async def test_pasted_token_signs_in(dashboard: Dashboard) -> None:
    """The token form signs in too, and goes to `next`."""
    await dashboard.text("/login")
    response = await dashboard.post("/login", {"platform_token": PLATFORM_TOKEN, "next": "/schedule"})
    assert (response.status, response.headers["Location"]) == (303, "/schedule")
    assert (await dashboard.get("/schedule")).status == 200


async def test_bad_token_is_refused(dashboard: Dashboard) -> None:
    """An unknown token shows "Invalid or expired platform token" and lets nobody in."""
    response = await dashboard.get("/?token=forged")
    assert response.status == 401
    assert "Invalid or expired platform token" in await response.text()
    assert (await dashboard.get("/")).status == 401


async def test_next_never_leaves_the_site(dashboard: Dashboard) -> None:
    """`next` pointing elsewhere (`//evil`, a scheme, a backslash) falls back to the overview."""
    await dashboard.text("/login")
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = await dashboard.post(
            "/login", {"email": ADMIN_EMAIL, "password": "correct horse battery staple", "next": target}
        )
        assert response.headers["Location"] == "/"
        await dashboard.text("/")  # the new session's CSRF token


async def test_backend_down_at_login(dashboard: Dashboard) -> None:
    """With the backend down, a login shows "Authentication system unavailable" (503) and opens nothing."""
    await dashboard.text("/login")
    dashboard.backend.fail(503)
    response = await dashboard.post(
        "/login", {"email": ADMIN_EMAIL, "password": "correct horse battery staple"}
    )
    assert response.status == 503
    assert "Authentication system unavailable" in await response.text()
    response = await dashboard.get(f"/?token={PLATFORM_TOKEN}")
    assert response.status == 503
    dashboard.backend.recover()
    assert (await dashboard.get("/")).status == 401


async def test_backend_down_on_a_page(signed_in: Dashboard) -> None:
    """A signed-in user whose session cannot be re-checked sees the unavailable page, not the content."""
    signed_in.clock.advance(11)  # past the session cache
    signed_in.backend.drop_connections()
    response = await signed_in.get("/dead")
    body = await response.text()
    assert response.status == 503
    assert "Authentication system unavailable" in body and "Dead jobs" not in body
    signed_in.backend.recover()
    assert (await signed_in.get("/dead")).status == 200


async def test_checks_are_cached_briefly(signed_in: Dashboard) -> None:
    """Pages within the cache period cost no backend call; the next page after it re-checks the session."""
    verify = "/api/v1/worker_auth/verify_session"
    before = len(signed_in.backend.requests_to("POST", verify))
    for _ in range(3):
        assert (await signed_in.get("/")).status == 200
    assert len(signed_in.backend.requests_to("POST", verify)) == before
    signed_in.clock.advance(10)
    assert (await signed_in.get("/")).status == 200
    assert len(signed_in.backend.requests_to("POST", verify)) == before + 1


async def test_no_cache_checks_every_page(make_dashboard: DashboardFactory) -> None:
    """With a cache of 0 s every page asks the backend."""
    dashboard = await make_dashboard(session_cache_s=0)
    await dashboard.login()
    verify = "/api/v1/worker_auth/verify_session"
    before = len(dashboard.backend.requests_to("POST", verify))
    await dashboard.get("/")
    await dashboard.get("/")
    assert len(dashboard.backend.requests_to("POST", verify)) == before + 2


async def test_session_ended_by_the_backend(signed_in: Dashboard) -> None:
    """When the backend ends the session, the next check leads to the sign-in page saying so."""
    signed_in.backend.sessions.clear()
    signed_in.clock.advance(11)
    body = await signed_in.text("/schedule", status=401)
    assert "Your session has ended" in body
    verify = "/api/v1/worker_auth/verify_session"
    asked = len(signed_in.backend.requests_to("POST", verify))
    await signed_in.text("/schedule", status=401)  # the ended session was replaced: not asked about again
    assert len(signed_in.backend.requests_to("POST", verify)) == asked


async def test_lost_permission_ends_the_session(signed_in: Dashboard) -> None:
    """A user who loses admin rights is out at the next check."""
    signed_in.backend.users[ADMIN_EMAIL].permissions = ("billing.read",)
    signed_in.clock.advance(11)
    assert (await signed_in.get("/")).status == 401


async def test_session_expires_after_a_day(signed_in: Dashboard) -> None:
    """A session cookie older than 24 h counts for nothing, whatever the backend says."""
    verify = "/api/v1/worker_auth/verify_session"
    before = len(signed_in.backend.requests_to("POST", verify))
    signed_in.clock.advance(86_400 + 1)
    body = await signed_in.text("/", status=401)
    assert "Your session has ended" not in body  # no session at all: a plain sign-in page
    assert len(signed_in.backend.requests_to("POST", verify)) == before  # the backend was not even asked


async def test_forged_cookie_counts_for_nothing(dashboard: Dashboard) -> None:
    """A cookie that was not issued by this dashboard is ignored."""
    dashboard.client.session.cookie_jar.update_cookies({"powerworker_session": "gAAAAAforged"})
    assert (await dashboard.get("/")).status == 401


async def test_logout(signed_in: Dashboard) -> None:
    """Signing out clears the cookie; the next page asks for a login again."""
    response = await signed_in.post("/logout")
    assert (response.status, response.headers["Location"]) == (303, "/login?done=signed_out")
    assert signed_in.session_cookie() in (None, "")
    body = await signed_in.text("/login?done=signed_out")
    assert "You have signed out." in body
    assert (await signed_in.get("/")).status == 401


async def test_a_signed_out_cookie_stays_out(signed_in: Dashboard) -> None:
    """A copy of the cookie kept from before signing out opens nothing, even within the check cache."""
    kept = signed_in.session_cookie()
    await signed_in.post("/logout")
    signed_in.client.session.cookie_jar.update_cookies({"powerworker_session": kept or ""})
    assert (await signed_in.get("/")).status == 401


async def test_logout_works_while_the_backend_is_down(signed_in: Dashboard) -> None:
    """Signing out needs no backend."""
    signed_in.backend.fail(503)
    response = await signed_in.post("/logout")
    assert response.status == 303


async def test_logout_needs_the_csrf_token(signed_in: Dashboard) -> None:
    """A cross-site form cannot sign the user out."""
    response = await signed_in.post("/logout", csrf="wrong")
    assert response.status == 403
    assert (await signed_in.get("/")).status == 200


async def test_password_attempts_are_limited_per_account(dashboard: Dashboard) -> None:
    """After 3 attempts on one account, even the right password waits (429 with Retry-After)."""
    await dashboard.text("/login")
    for _ in range(3):
        response = await dashboard.post("/login", {"email": ADMIN_EMAIL, "password": "guess"})
        assert response.status == 401
    response = await dashboard.post(
        "/login", {"email": ADMIN_EMAIL, "password": "correct horse battery staple"}
    )
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 800
    assert "Too many sign-in attempts. Try again in 15 minutes." in await response.text()
    other = await dashboard.post("/login", {"email": "viewer@example.com", "password": "viewer-password"})
    assert other.status == 401  # another account is not blocked (refused for lacking rights)


async def test_attempts_are_limited_per_address(dashboard: Dashboard) -> None:
    """After 8 attempts from one address, on any accounts or tokens, it waits."""
    await dashboard.text("/login")
    for i in range(8):
        response = await dashboard.post("/login", {"email": f"user{i}@example.com", "password": "guess"})
        assert response.status == 401
    response = await dashboard.post("/login", {"platform_token": PLATFORM_TOKEN})
    assert response.status == 429
    assert (await dashboard.get(f"/?token={PLATFORM_TOKEN}")).status == 429


async def test_a_success_clears_the_account_counter(dashboard: Dashboard) -> None:
    """Two failures then a success leave the account with its full allowance."""
    await dashboard.text("/login")
    for password in ("x", "y"):
        assert (await dashboard.post("/login", {"email": ADMIN_EMAIL, "password": password})).status == 401
    assert (await dashboard.login()).status == 303
    assert (await dashboard.post("/logout")).status == 303
    for password in ("x", "y"):
        await dashboard.text("/login")
        assert (await dashboard.post("/login", {"email": ADMIN_EMAIL, "password": password})).status == 401
