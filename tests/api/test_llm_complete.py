"""LLM completions straight to a provider in each wire format, with config and credentials from the server."""

from __future__ import annotations

import pytest

from powerworker.api import ApiClients
from powerworker.api.llm import ProviderConfig
from powerworker.errors import ApiError
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend
from tests.api.conftest import serve_agent
from tests.api.llm_servers import FakeProvider, anthropic_reply, ollama_reply, openai_reply

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
WEATHER = {"name": "weather", "description": "Weather in a city", "parameters": {"type": "object"}}


async def test_openai_format_request_and_result(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """OpenAI-compatible: bearer key, chat/completions, system message first, defaults, normalised result."""
    serve_agent(backend, provider, "groq")
    provider.reply(openai_reply("Hello!", usage=(1000, 200, 400)))
    result = await clients.llm.complete(agent_id="agent-1", messages=MESSAGES, system_prompt="Use English.")
    seen = provider.seen[-1]
    assert seen.path == "/chat/completions"
    assert seen.headers["Authorization"] == "Bearer sk-test"
    assert seen.headers["User-Agent"] == "Powernode-AI/2.0"
    assert seen.json == {
        "model": "m-1",
        "messages": [
            {"role": "system", "content": "Be brief.\nUse English."},
            {"role": "user", "content": "Hi"},
        ],
        "max_tokens": 4096,
        "temperature": 0.7,
    }
    # cost: (1000-400)/1000*0.01 + 400/1000*0.005 + 200/1000*0.03 = 0.006 + 0.002 + 0.006
    assert result == {
        "content": "Hello!",
        "usage": {
            "prompt_tokens": 1000,
            "completion_tokens": 200,
            "cached_tokens": 400,
            "total_tokens": 1200,
        },
        "finish_reason": "stop",
        "model": "gpt-test",
        "cost": 0.014,
    }


async def test_anthropic_format_request_and_result(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Anthropic: x-api-key and version headers, /messages, top-level system, thinking and usage mapped."""
    serve_agent(backend, provider, "anthropic")
    provider.reply(anthropic_reply("Hello!", thinking="hmm"))
    result = await clients.llm.complete(agent_id="agent-1", messages=MESSAGES, temperature=0.2)
    seen = provider.seen[-1]
    assert seen.path == "/messages"
    assert (seen.headers["x-api-key"], seen.headers["anthropic-version"]) == ("sk-test", "2023-06-01")
    assert "Authorization" not in seen.headers
    assert seen.json == {
        "model": "m-1",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4096,
        "system": "Be brief.",
        "temperature": 0.2,
    }
    assert result["content"] == "Hello!"
    assert result["thinking_content"] == "hmm"
    assert result["finish_reason"] == "stop"
    assert result["usage"] == {
        "prompt_tokens": 80,
        "completion_tokens": 10,
        "cached_tokens": 30,
        "total_tokens": 90,
    }


async def test_ollama_format_request_and_result(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Ollama: /api/chat, options for temperature and max tokens, no stream, token counts as usage."""
    serve_agent(backend, provider, "ollama")
    provider.reply(ollama_reply("Hello!"))
    result = await clients.llm.complete(agent_id="agent-1", messages=MESSAGES, max_tokens=64, temperature=0.1)
    seen = provider.seen[-1]
    assert seen.path == "/api/chat"
    assert seen.json == {
        "model": "m-1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"temperature": 0.1, "num_predict": 64},
    }
    assert (result["content"], result["finish_reason"], result["usage"]["total_tokens"]) == (
        "Hello!",
        "stop",
        20,
    )


async def test_ollama_without_credentials_sends_no_auth(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """An inline Ollama config with no credential needs no server call and sends no Authorization."""
    provider.reply(ollama_reply("local"))
    config: ProviderConfig = {
        "provider_type": "ollama",
        "provider_base_url": provider.url + "/api",
        "model": "llama",
    }
    result = await clients.llm.complete(provider_config=config, messages=MESSAGES)
    assert result["content"] == "local"
    assert provider.seen[-1].path == "/api/chat"
    assert "Authorization" not in provider.seen[-1].headers
    assert backend.requests_to("POST") == []


@pytest.mark.parametrize(
    ("provider_type", "reply", "expected_tools"),
    [
        (
            "openai",
            openai_reply(None, tool_calls=[("call_1", "weather", {"city": "Oslo"})], finish="tool_calls"),
            [{"type": "function", "function": {**WEATHER, "strict": False}}],
        ),
        (
            "anthropic",
            anthropic_reply(None, tool_uses=[("call_1", "weather", {"city": "Oslo"})], stop="tool_use"),
            [{"name": "weather", "description": "Weather in a city", "input_schema": {"type": "object"}}],
        ),
        (
            "ollama",
            ollama_reply("", tool_calls=[("weather", {"city": "Oslo"})]),
            [{"type": "function", "function": {**WEATHER, "strict": False}}],
        ),
    ],
)
async def test_complete_with_tools_in_each_format(
    clients: ApiClients,
    backend: FakeBackend,
    provider: FakeProvider,
    provider_type: str,
    reply: dict[str, object],
    expected_tools: list[dict[str, object]],
) -> None:
    """Tools are sent in the provider's shape and tool calls come back as {id, name, parsed arguments}."""
    serve_agent(backend, provider, provider_type)
    provider.reply(reply)
    result = await clients.llm.complete_with_tools(agent_id="agent-1", messages=MESSAGES, tools=[WEATHER])
    assert provider.seen[-1].json["tools"] == expected_tools
    assert result["finish_reason"] == "tool_calls"
    [call] = result["tool_calls"]
    assert (call["name"], call["arguments"]) == ("weather", {"city": "Oslo"})
    assert call["id"] == "call_1" or provider_type == "ollama"


SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


@pytest.mark.parametrize(
    ("provider_type", "reply", "key", "expected"),
    [
        (
            "openai",
            openai_reply('{"answer": "42"}'),
            "response_format",
            {"type": "json_schema", "json_schema": {"name": "response", "schema": SCHEMA, "strict": True}},
        ),
        (
            "anthropic",
            anthropic_reply('{"answer": "42"}'),
            "output_config",
            {"format": {"type": "json_schema", "schema": SCHEMA}},
        ),
        ("ollama", ollama_reply('{"answer": "42"}'), "format", SCHEMA),
    ],
)
async def test_complete_structured_in_each_format(
    clients: ApiClients,
    backend: FakeBackend,
    provider: FakeProvider,
    provider_type: str,
    reply: dict[str, object],
    key: str,
    expected: object,
) -> None:
    """The JSON schema goes where each provider expects it; the parsed JSON comes back in `parsed`."""
    serve_agent(backend, provider, provider_type)
    provider.reply(reply)
    result = await clients.llm.complete_structured(agent_id="agent-1", messages=MESSAGES, schema=SCHEMA)
    assert provider.seen[-1].json[key] == expected
    assert result["parsed"] == {"answer": "42"}


async def test_config_and_credentials_are_cached(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider, clock: FakeClock
) -> None:
    """Provider config is fetched once per 60 s and credentials once per 5 min, even for concurrent calls."""
    serve_agent(backend, provider, "openai")
    provider.reply(openai_reply("x"))

    def fetches() -> tuple[int, int]:
        return (
            len(backend.requests_to("POST", "/api/v1/internal/ai/provider_config")),
            len(backend.requests_to("POST", "/api/v1/ai/credentials/cred-1/decrypt")),
        )

    for _ in range(3):
        await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert fetches() == (1, 1)
    clock.advance(61)
    await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert fetches() == (2, 1)
    clock.advance(240)
    await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert fetches() == (3, 2)
    assert len(backend.requests_to("GET", "/api/v1/ai/autonomy/pricing/lookup")) == 1


async def test_credentials_in_data_envelope_are_accepted(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Decrypted credentials may come as `credentials`, `data.credentials` or `data` itself."""
    serve_agent(backend, provider, "openai")
    backend.route("POST", "/api/v1/ai/credentials/cred-1/decrypt", data={"api_key": "sk-data"})
    provider.reply(openai_reply("x"))
    await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert provider.seen[-1].headers["Authorization"] == "Bearer sk-data"


async def test_provider_error_is_an_error_result(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A provider's error reply comes back as finish_reason `error` with its message, not an exception."""
    serve_agent(backend, provider, "openai")
    provider.reply({"error": {"message": "model overloaded", "type": "server_error"}}, status=500)
    result = await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert result["finish_reason"] == "error"
    assert result["error"] == "model overloaded (HTTP 500)"
    assert result["cost"] == 0.0


async def test_provider_breaker_opens_after_five_failures(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Five 5xx open `ai_provider:<name>`; then calls fail without reaching the provider; 4xx never count."""
    serve_agent(backend, provider, "openai")
    provider.reply({"error": {"message": "bad request"}}, status=400)
    provider.reply({"error": {"message": "down"}}, status=503)
    for _ in range(6):
        await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    breaker = clients.breakers.get("ai_provider:my-openai")
    assert breaker.state_name == "open"
    assert len(provider.seen) == 6
    result = await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert len(provider.seen) == 6
    assert result["finish_reason"] == "error"
    assert result["error"].startswith("Service temporarily unavailable")
    assert clients.backend.breaker.state_name == "closed"


async def test_missing_api_key_is_reported(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A credential without an api_key fails before any provider call."""
    serve_agent(backend, provider, "openai")
    backend.route("POST", "/api/v1/ai/credentials/cred-1/decrypt", data={"credentials": {"user": "x"}})
    with pytest.raises(ApiError, match="No API key found for credential cred-1"):
        await clients.llm.complete(agent_id="agent-1", messages=MESSAGES)
    assert provider.seen == []
