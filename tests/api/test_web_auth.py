"""The dashboard's login client against the fake backend's worker_auth endpoints."""

from __future__ import annotations

import pytest

from powerworker.api import ApiClients
from powerworker.errors import ApiError
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend


async def test_password_login_opens_a_session(clients: ApiClients, backend: FakeBackend) -> None:
    """A known admin logs in with email (any case) and password and gets a 24 h session token."""
    backend.add_user("Admin@Example.com", "s3cret", permissions=("admin.access",))
    reply = await clients.web_auth.authenticate_user(" admin@example.com ", "s3cret")
    data = reply["data"]
    assert reply["success"] is True
    assert (data["valid"], data["user_email"], data["permissions"]) == (
        True,
        "admin@example.com",
        ["admin.access"],
    )
    assert data["expires_at"] == "2023-11-15T22:13:20+00:00"
    request = backend.requests[-1]
    assert request.headers["User-Agent"] == "PowernodeWorker-WebAuth/1.0"
    assert request.claims is not None and request.claims["type"] == "worker"


@pytest.mark.parametrize(
    ("password", "permissions", "verified", "status", "message"),
    [
        ("wrong", ("admin.access",), True, 401, "Service authentication failed"),
        ("pw", ("billing.read",), True, 403, "Service access forbidden"),
        ("pw", ("system.admin",), False, 403, "Service access forbidden"),
    ],
)
async def test_refused_logins_raise(
    clients: ApiClients,
    backend: FakeBackend,
    password: str,
    permissions: tuple[str, ...],
    verified: bool,
    status: int,
    message: str,
) -> None:
    """Wrong password, missing permission or unverified email are refused with the server's reason in the body."""
    backend.add_user("u@example.com", "pw", permissions=permissions, verified=verified)
    with pytest.raises(ApiError) as caught:
        await clients.web_auth.authenticate_user("u@example.com", password)
    assert (caught.value.status, caught.value.message, caught.value.service) == (status, message, "web_auth")
    assert caught.value.body["success"] is False


async def test_platform_token_login(clients: ApiClients, backend: FakeBackend) -> None:
    """A registered platform token logs its user in; an unknown one is a 401."""
    backend.add_user("ops@example.com", "pw", permissions=("system.admin",))
    backend.add_platform_token("platform-jwt", "ops@example.com")
    reply = await clients.web_auth.verify_platform_token("platform-jwt")
    assert reply["data"]["user_email"] == "ops@example.com"
    with pytest.raises(ApiError) as caught:
        await clients.web_auth.verify_platform_token("forged")
    assert caught.value.status == 401


async def test_sessions_are_verified_until_revoked_or_expired(
    clients: ApiClients, backend: FakeBackend, clock: FakeClock
) -> None:
    """A session verifies while it lives; revoked, expired (24 h) or after losing permission it does not."""
    user = backend.add_user("a@example.com", "pw")
    token = (await clients.web_auth.authenticate_user("a@example.com", "pw"))["data"]["session_token"]
    assert (await clients.web_auth.verify_session(token))["data"]["valid"] is True

    backend.revoke_session(token)
    with pytest.raises(ApiError):
        await clients.web_auth.verify_session(token)

    token = (await clients.web_auth.authenticate_user("a@example.com", "pw"))["data"]["session_token"]
    user.permissions = ("reports.read",)
    with pytest.raises(ApiError):
        await clients.web_auth.verify_session(token)

    user.permissions = ("admin.access",)
    token = (await clients.web_auth.authenticate_user("a@example.com", "pw"))["data"]["session_token"]
    clock.advance(86_400)
    with pytest.raises(ApiError) as caught:
        await clients.web_auth.verify_session(token)
    assert caught.value.status == 401
