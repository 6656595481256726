"""One pooled session per process, configured from the settings and shared by every client."""

from __future__ import annotations

from powerworker.api import build_clients, create_session, open_clients
from powerworker.settings import Settings
from powerworker.testing import FakeClock


async def test_session_follows_the_settings(settings: Settings) -> None:
    """Pool size, per-host limit, keep-alive and timeouts come from the settings."""
    tuned = settings.model_copy(
        update={
            "http_pool_size": 17,
            "http_pool_per_host": 5,
            "http_keepalive_s": 12.0,
            "api_timeout_s": 33.0,
            "http_connect_timeout_s": 4.0,
        }
    )
    session = create_session(tuned)
    try:
        connector = session.connector
        assert connector is not None
        assert (connector.limit, connector.limit_per_host, connector.force_close) == (17, 5, False)
        assert session.timeout.total == 33.0
        assert session.timeout.connect == 4.0
    finally:
        await session.close()


async def test_keepalive_zero_turns_reuse_off(settings: Settings) -> None:
    """A keep-alive of 0 closes each connection after its request."""
    session = create_session(settings.model_copy(update={"http_keepalive_s": 0.0}))
    try:
        assert session.connector is not None and session.connector.force_close
    finally:
        await session.close()


async def test_every_client_shares_the_one_session(settings: Settings, clock: FakeClock) -> None:
    """Backend, web-auth and LLM clients all use the session they were given, and one JWT signer."""
    session = create_session(settings)
    try:
        clients = build_clients(session, settings, clock=clock)
        assert clients.backend.session is session
        assert clients.web_auth.session is session
        assert clients.llm.providers.session is session
        assert clients.backend.auth is clients.web_auth.auth is clients.auth
        assert clients.backend.breaker.name == "backend_api"
        assert clients.web_auth.breaker.name == "web_auth"
        await clients.close()
    finally:
        await session.close()


async def test_open_clients_closes_its_session(settings: Settings) -> None:
    """The context-manager form closes the session it opened."""
    async with open_clients(settings) as clients:
        session = clients.session
        assert not session.closed
    assert session.closed
