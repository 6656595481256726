"""The agentic tool loop: the model runs locally, tool definitions and dispatch go through the server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from powerworker.api import ApiClients
from powerworker.testing.fake_backend import FakeBackend, RecordedRequest, Reply
from tests.api.conftest import serve_agent
from tests.api.llm_servers import FakeProvider, anthropic_reply, openai_reply

TOOLS = [{"name": "lookup", "description": "Look a thing up", "parameters": {"type": "object"}}]
MESSAGES = [{"role": "user", "content": "What is X?"}]


def serve_tools(backend: FakeBackend, *, enabled: bool = True, fail: bool = False) -> None:
    backend.route(
        "POST", "/api/v1/internal/ai/llm/tool_definitions", data={"tools": TOOLS, "tools_enabled": enabled}
    )

    def dispatch(request: RecordedRequest) -> Any:
        if fail:
            return Reply(200, {"success": False, "error": "tool exploded"})
        call = request.json["tool_call"]
        return {"result": {"answer": f"{call['arguments']['q']}=42"}}

    backend.route("POST", "/api/v1/internal/ai/llm/dispatch_tool", handler=dispatch)


async def test_tool_round_then_answer(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """One tool round: the call is dispatched through the server and its result goes back to the model."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend)
    provider.reply(openai_reply(None, tool_calls=[("c1", "lookup", {"q": "X"})], finish="tool_calls"))
    provider.reply(openai_reply("X is 42.", usage=(300, 30, 0)))
    result = await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)

    dispatched = backend.requests_to("POST", "/api/v1/internal/ai/llm/dispatch_tool")[0].json
    assert dispatched == {
        "agent_id": "agent-1",
        "tool_call": {"id": "c1", "name": "lookup", "arguments": {"q": "X"}},
    }
    second = provider.seen[1].json["messages"]
    assert second[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "X"}'}}
        ],
    }
    assert second[2] == {"role": "tool", "tool_call_id": "c1", "content": json.dumps({"answer": "X=42"})}
    assert result == {
        "content": "X is 42.",
        "usage": {"prompt_tokens": 400, "completion_tokens": 50, "cached_tokens": 0, "total_tokens": 450},
        "tool_calls_log": [{"iteration": 1, "tool_name": "lookup", "tool_call_id": "c1", "success": True}],
        "finish_reason": "stop",
        "cost": 0.0055,  # 400/1000*0.01 + 50/1000*0.03
    }
    assert MESSAGES == [{"role": "user", "content": "What is X?"}]  # the caller's list is left alone


async def test_tool_loop_in_anthropic_format(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """With Anthropic the tool result goes back as a user `tool_result` block after a `tool_use` turn."""
    serve_agent(backend, provider, "anthropic")
    serve_tools(backend)
    provider.reply(
        anthropic_reply("Let me look.", tool_uses=[("tu1", "lookup", {"q": "Y"})], stop="tool_use")
    )
    provider.reply(anthropic_reply("Y is 42."))
    result = await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)
    assert result["content"] == "Y is 42."
    messages = provider.seen[1].json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "tu1", "name": "lookup", "input": {"q": "Y"}},
        ],
    }
    assert messages[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": json.dumps({"answer": "Y=42"})}],
    }


async def test_failed_dispatch_becomes_an_error_tool_message(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A tool the server fails to run is reported to the model as `{"error": ...}` and logged unsuccessful."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend, fail=True)
    provider.reply(openai_reply(None, tool_calls=[("c1", "lookup", {"q": "X"})], finish="tool_calls"))
    provider.reply(openai_reply("Sorry."))
    result = await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)
    assert provider.seen[1].json["messages"][2]["content"] == json.dumps(
        {"error": "LLM server error (dispatch_tool): tool exploded"}
    )
    assert result["tool_calls_log"] == [
        {
            "iteration": 1,
            "tool_name": "lookup",
            "tool_call_id": "c1",
            "success": False,
            "error": "LLM server error (dispatch_tool): tool exploded",
        }
    ]


@pytest.mark.parametrize("max_iterations", [1, 3, 10])
async def test_iterations_are_bounded(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider, max_iterations: int
) -> None:
    """A model that always asks for tools is called `max_iterations` times, then the loop stops."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend)
    provider.reply(openai_reply("again", tool_calls=[("c", "lookup", {"q": "Z"})], finish="tool_calls"))
    result = await clients.llm.execute_tool_loop(
        agent_id="agent-1", messages=MESSAGES, max_iterations=max_iterations
    )
    assert len(provider.seen) == max_iterations
    assert (result["finish_reason"], result["content"]) == ("max_iterations", "again")
    assert len(result["tool_calls_log"]) == max_iterations


async def test_default_limit_is_ten(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Without a limit the loop stops after ten provider calls."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend)
    provider.reply(openai_reply(None, tool_calls=[("c", "lookup", {"q": "Z"})], finish="tool_calls"))
    await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)
    assert len(provider.seen) == 10


async def test_tools_disabled_means_one_plain_completion(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """With tools disabled the loop makes one completion without tools."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend, enabled=False)
    provider.reply(openai_reply("plain"))
    result = await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)
    assert result["content"] == "plain"
    assert "tools" not in provider.seen[0].json
    assert len(provider.seen) == 1


async def test_provider_failure_ends_the_loop(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A provider error ends the loop at once with finish_reason `error` and the message."""
    serve_agent(backend, provider, "openai")
    serve_tools(backend)
    provider.reply({"error": {"message": "invalid key"}}, status=401)
    result = await clients.llm.execute_tool_loop(agent_id="agent-1", messages=MESSAGES)
    assert (result["finish_reason"], result.get("error")) == ("error", "invalid key (HTTP 401)")
    assert len(provider.seen) == 1


async def test_server_side_calls(clients: ApiClients, backend: FakeBackend) -> None:
    """Reasoning runs and execution contexts are server calls whose `data` is returned."""
    backend.route("POST", "/api/v1/internal/ai/llm/execute_with_reasoning", data={"content": "reasoned"})
    backend.route(
        "POST", "/api/v1/internal/ai/execution_contexts", data={"system_prompt": "sp", "model": "m"}
    )
    reasoned = await clients.llm.execute_with_reasoning(
        agent_id="a", messages=MESSAGES, reasoning_mode="star"
    )
    assert reasoned == {"content": "reasoned"}
    assert backend.requests[-1].json["reasoning_mode"] == "star"
    context = await clients.llm.fetch_execution_context("a", input="hello")
    assert context == {"system_prompt": "sp", "model": "m"}
    assert backend.requests[-1].json == {
        "agent_id": "a",
        "input": "hello",
        "context": None,
        "memory_token_budget": 4000,
    }
