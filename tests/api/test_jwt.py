"""The worker JWT: claims, reuse until 60 s before expiry, one token for concurrent tasks."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from powerworker.api import ApiClients, WorkerJwt
from powerworker.errors import ConfigurationError
from powerworker.settings import Settings
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


def test_claims_are_those_the_server_checks(clock: FakeClock) -> None:
    """The token is HS256 with type worker, the worker id as subject, iat, exp +300 s, iss and aud."""
    signer = WorkerJwt(SECRET, "worker-42", issuer="iss-x", audience="aud-y", clock=clock)
    token = signer.token()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], audience="aud-y", issuer="iss-x", options={"verify_exp": False}
    )
    now = int(clock.time())
    assert claims == {
        "type": "worker",
        "sub": "worker-42",
        "iat": now,
        "exp": now + 300,
        "iss": "iss-x",
        "aud": "aud-y",
    }


def test_token_is_reused_until_sixty_seconds_before_expiry(clock: FakeClock) -> None:
    """The same token is returned for 240 s, then a new one is signed."""
    signer = WorkerJwt(SECRET, "w", clock=clock)
    first = signer.token()
    clock.advance(239.9)
    assert signer.token() == first
    clock.advance(0.1)
    second = signer.token()
    assert second != first
    assert signer.signed == 2
    assert signer.claims["iat"] == int(clock.time())


async def test_concurrent_tasks_share_one_token(clock: FakeClock) -> None:
    """Fifty tasks asking at once, also right at the refresh point, cause one signature each time."""
    signer = WorkerJwt(SECRET, "w", clock=clock)

    async def ask() -> str:
        await asyncio.sleep(0)
        return signer.token()

    assert len(set(await asyncio.gather(*(ask() for _ in range(50))))) == 1
    clock.advance(240)
    assert len(set(await asyncio.gather(*(ask() for _ in range(50))))) == 1
    assert signer.signed == 2


async def test_concurrent_requests_carry_one_token(clients: ApiClients, backend: FakeBackend) -> None:
    """Twenty concurrent requests through the client all carry the same, single signed token."""
    await asyncio.gather(*(clients.backend.health_check() for _ in range(20)))
    tokens = {r.headers["Authorization"] for r in backend.requests}
    assert len(tokens) == 1
    assert clients.auth.signed == 1


@pytest.mark.parametrize(
    ("secret", "worker_id", "variable"), [("", "w", "JWT_SECRET_KEY"), (SECRET, "", "WORKER_ID")]
)
def test_missing_identity_is_a_configuration_error(secret: str, worker_id: str, variable: str) -> None:
    """Without a secret or a worker id no token can be signed, and the error names the variable."""
    with pytest.raises(ConfigurationError) as caught:
        WorkerJwt(secret, worker_id)
    assert caught.value.variable == variable


def test_from_settings_uses_the_configured_identity(settings: Settings, clock: FakeClock) -> None:
    """Issuer, audience, subject and secret come from the settings."""
    token = WorkerJwt.from_settings(settings, clock).token()
    claims = jwt.decode(
        token,
        settings.jwt_secret,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"verify_exp": False},
    )
    assert claims["sub"] == settings.worker_id
