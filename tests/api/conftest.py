"""Fixtures of the API tests: a fake Powernode backend, a session, and the clients pointed at the backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from powerworker.api import ApiClients, build_clients
from powerworker.api import base as base_module
from powerworker.api.llm import client as llm_client_module
from powerworker.api.llm import provider as provider_module
from powerworker.api.llm import streaming as streaming_module
from powerworker.resilience import breaker as breaker_module
from powerworker.settings import Settings
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend
from tests.helpers_logs import fresh_loggers


@pytest.fixture(autouse=True)
def _capturable_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let capture_logs see every event whatever logging setup earlier tests left."""
    modules = (base_module, breaker_module, llm_client_module, provider_module, streaming_module)
    yield from fresh_loggers(monkeypatch, *modules)


@pytest.fixture
async def backend(settings: Settings, clock: FakeClock) -> AsyncIterator[FakeBackend]:
    """A fake Powernode server that accepts the test worker's JWTs, on the test's clock."""
    async with FakeBackend.for_settings(settings, clock=clock) as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One client session, closed after the test."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def api_settings(settings: Settings, backend: FakeBackend) -> Settings:
    """The test settings pointed at the fake backend."""
    return settings.model_copy(update={"backend_api_url": backend.url})


@pytest.fixture
async def clients(
    session: aiohttp.ClientSession, api_settings: Settings, clock: FakeClock
) -> AsyncIterator[ApiClients]:
    """Every client of a worker process, over one session, on the fake clock."""
    bundle = build_clients(session, api_settings, clock=clock)
    yield bundle
    await bundle.close()


# -- LLM --------------------------------------------------------------------------------------------------------
from tests.api.llm_servers import FakeProvider  # noqa: E402

PRICING = {"input_per_1k": 0.01, "output_per_1k": 0.03, "cached_input_per_1k": 0.005}


@pytest.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    """A local server speaking a provider's wire format."""
    async with FakeProvider() as server:
        yield server


def serve_agent(backend: FakeBackend, provider: FakeProvider, provider_type: str, model: str = "m-1") -> None:
    """Make the backend describe agent `agent-1` as served by `provider`, with a credential and pricing."""
    backend.route(
        "POST",
        "/api/v1/internal/ai/provider_config",
        data={
            "provider_type": provider_type,
            "provider_credential_id": "cred-1",
            "provider_base_url": provider.url,
            "provider_name": f"my-{provider_type}",
            "model": model,
        },
    )
    backend.route(
        "POST", "/api/v1/ai/credentials/cred-1/decrypt", data={"credentials": {"api_key": "sk-test"}}
    )
    backend.route("GET", "/api/v1/ai/autonomy/pricing/lookup", data=PRICING)
