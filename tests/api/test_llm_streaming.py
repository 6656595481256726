"""Streamed completions: SSE (OpenAI, Anthropic) and NDJSON (Ollama) from local servers, as async iterators."""

from __future__ import annotations

import pytest

from powerworker.api import ApiClients
from powerworker.api.llm import StreamChunk
from powerworker.errors import ApiError
from powerworker.testing.fake_backend import FakeBackend
from tests.api.conftest import serve_agent
from tests.api.llm_servers import FakeProvider, ndjson, sse

MESSAGES = [{"role": "user", "content": "Count to three"}]


async def collect(clients: ApiClients, **options: object) -> list[StreamChunk]:
    return [chunk async for chunk in clients.llm.stream(agent_id="agent-1", messages=MESSAGES, **options)]  # type: ignore[arg-type]


def kinds(chunks: list[StreamChunk]) -> list[str]:
    return [c.type for c in chunks]


async def test_openai_sse_stream(clients: ApiClients, backend: FakeBackend, provider: FakeProvider) -> None:
    """Content deltas, a tool call whose arguments arrive in pieces, usage in the last event, then [DONE]."""
    serve_agent(backend, provider, "openai")

    def delta(**d: object) -> dict[str, object]:
        return {"choices": [{"index": 0, "delta": d, "finish_reason": None}]}

    provider.stream(
        sse(
            [
                (None, delta(role="assistant", content="one, ")),
                (None, delta(content="two, ")),
                (
                    None,
                    delta(
                        tool_calls=[
                            {"index": 0, "id": "c1", "function": {"name": "count", "arguments": '{"n"'}}
                        ]
                    ),
                ),
                (None, delta(tool_calls=[{"index": 0, "function": {"arguments": ": 3}"}}])),
                (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
                (
                    None,
                    {
                        "choices": [],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                    },
                ),
                (None, "[DONE]"),
            ]
        ),
        "text/event-stream",
    )
    chunks = await collect(clients)
    assert provider.seen[-1].json["stream"] is True
    assert provider.seen[-1].json["stream_options"] == {"include_usage": True}
    assert kinds(chunks) == [
        "stream_start",
        "content_delta",
        "content_delta",
        "tool_call_start",
        "tool_call_delta",
        "tool_call_delta",
        "tool_call_end",
        "stream_end",
    ]
    assert [c.content for c in chunks if c.type == "content_delta"] == ["one, ", "two, "]
    assert chunks[3].tool_call_name == "count"
    end = chunks[-1]
    assert end.usage == {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 0, "total_tokens": 15}
    assert end.result is not None
    assert end.result["content"] == "one, two, "
    assert end.result["tool_calls"] == [{"id": "c1", "name": "count", "arguments": {"n": 3}}]
    assert end.result["finish_reason"] == "tool_calls"
    assert end.result["cost"] == 0.00025
    assert len({c.stream_id for c in chunks}) == 1


async def test_anthropic_sse_stream(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """Named events: thinking and text deltas, a tool_use block with partial JSON, usage from start and delta."""
    serve_agent(backend, provider, "anthropic")
    provider.stream(
        sse(
            [
                (
                    "message_start",
                    {"type": "message_start", "message": {"usage": {"input_tokens": 20, "output_tokens": 1}}},
                ),
                ("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
                (
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "thinking_delta", "thinking": "easy"}},
                ),
                ("content_block_stop", {"index": 0}),
                ("ping", {"type": "ping"}),
                ("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
                ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "1 2 "}}),
                ("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "3"}}),
                ("content_block_stop", {"index": 1}),
                (
                    "content_block_start",
                    {"index": 2, "content_block": {"type": "tool_use", "id": "tu1", "name": "log"}},
                ),
                (
                    "content_block_delta",
                    {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"done":'}},
                ),
                (
                    "content_block_delta",
                    {"index": 2, "delta": {"type": "input_json_delta", "partial_json": " true}"}},
                ),
                ("content_block_stop", {"index": 2}),
                ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
                ("message_stop", {"type": "message_stop"}),
            ]
        ),
        "text/event-stream",
    )
    chunks = await collect(clients)
    assert provider.seen[-1].json["stream"] is True
    assert kinds(chunks) == [
        "stream_start",
        "thinking_delta",
        "content_delta",
        "content_delta",
        "tool_call_start",
        "tool_call_delta",
        "tool_call_delta",
        "tool_call_end",
        "stream_end",
    ]
    result = chunks[-1].result
    assert result is not None
    assert (result["content"], result["thinking_content"], result["finish_reason"]) == (
        "1 2 3",
        "easy",
        "tool_calls",
    )
    assert result["tool_calls"] == [{"id": "tu1", "name": "log", "arguments": {"done": True}}]
    assert result["usage"] == {
        "prompt_tokens": 20,
        "completion_tokens": 9,
        "cached_tokens": 0,
        "total_tokens": 29,
    }


async def test_ollama_ndjson_stream(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """One JSON object per line; the final `done` line carries the token counts."""
    serve_agent(backend, provider, "ollama")
    provider.stream(
        ndjson(
            [
                {"message": {"role": "assistant", "content": "1 "}, "done": False},
                {"message": {"role": "assistant", "content": "2 "}, "done": False},
                {"message": {"role": "assistant", "content": "3"}, "done": False},
                {
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": "stop",
                    "prompt_eval_count": 7,
                    "eval_count": 3,
                },
            ]
        ),
        "application/x-ndjson",
    )
    chunks = await collect(clients, max_tokens=50)
    assert provider.seen[-1].json["stream"] is True
    assert provider.seen[-1].json["options"] == {"num_predict": 50}
    assert kinds(chunks) == ["stream_start", "content_delta", "content_delta", "content_delta", "stream_end"]
    result = chunks[-1].result
    assert result is not None
    assert (result["content"], result["finish_reason"], result["usage"]["total_tokens"]) == (
        "1 2 3",
        "stop",
        10,
    )


async def test_unparsable_lines_are_skipped(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A broken event is logged and skipped; comments are ignored; the rest of the stream still counts."""
    serve_agent(backend, provider, "openai")
    provider.stream(
        ": keep-alive\n\ndata: {not json\n\n"
        + sse(
            [
                (None, {"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}),
                (None, "[DONE]"),
            ]
        ),
        "text/event-stream",
    )
    chunks = await collect(clients)
    assert chunks[-1].result is not None and chunks[-1].result["content"] == "ok"


async def test_error_status_raises(clients: ApiClients, backend: FakeBackend, provider: FakeProvider) -> None:
    """A stream refused with an HTTP error raises ApiError with the provider's message and status."""
    serve_agent(backend, provider, "anthropic")
    provider.reply(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, status=529
    )
    with pytest.raises(ApiError) as caught:
        await collect(clients)
    assert (caught.value.status, caught.value.message) == (529, "Overloaded (HTTP 529)")
    assert caught.value.service == "ai_provider:my-anthropic"
    assert clients.breakers.get("ai_provider:my-anthropic").failures == 1


async def test_error_event_mid_stream_raises(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """An `error` event after some text raises ApiError carrying the provider's message."""
    serve_agent(backend, provider, "anthropic")
    provider.stream(
        sse(
            [
                ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "partial"}}),
                ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            ]
        ),
        "text/event-stream",
    )
    seen: list[str] = []

    async def consume() -> None:
        async for chunk in clients.llm.stream(agent_id="agent-1", messages=MESSAGES):
            seen.append(chunk.type)

    with pytest.raises(ApiError, match="Overloaded"):
        await consume()
    assert seen == ["stream_start", "content_delta"]


async def test_stopping_early_closes_the_stream(
    clients: ApiClients, backend: FakeBackend, provider: FakeProvider
) -> None:
    """A consumer that stops after the first delta closes the stream cleanly, and the client stays usable."""
    serve_agent(backend, provider, "ollama")
    lines = [{"message": {"content": f"{n} "}, "done": False} for n in range(50)]
    provider.stream(ndjson([*lines, {"message": {"content": ""}, "done": True}]), "application/x-ndjson")
    stream = clients.llm.stream(agent_id="agent-1", messages=MESSAGES)
    async for chunk in stream:
        if chunk.type == "content_delta":
            break
    await stream.aclose()
    chunks = await collect(clients)
    assert chunks[-1].result is not None and chunks[-1].result["content"].startswith("0 1 2")
