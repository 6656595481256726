"""Streamed completions: SSE (OpenAI, Anthropic) and NDJSON (Ollama) into `StreamChunk`s.

`decode_stream(format_name, body, stream_id, model)` reads a response body (an async iterator of byte chunks),
yields `stream_start`, then content, thinking and tool-call chunks as they arrive, and last a `stream_end`
chunk holding the usage and the whole normalised `LlmResponse`. Lines that are not valid JSON are logged and
skipped; an `error` event from the provider raises `ApiError`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from powerworker.api.llm.formats import AnthropicFormat, OllamaFormat, OpenAIFormat, error_message, parse_json
from powerworker.api.llm.types import LlmResponse, StreamChunk, ToolCall, Usage, empty_usage
from powerworker.errors import ApiError

__all__ = ["decode_stream", "iter_lines", "iter_ndjson", "iter_sse"]

log = structlog.get_logger(__name__)


async def iter_lines(body: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a byte stream, whatever the chunk boundaries (no line-length limit)."""
    buffer = b""
    async for chunk in body:
        buffer += chunk
        while (end := buffer.find(b"\n")) >= 0:
            line, buffer = buffer[:end], buffer[end + 1 :]
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event: its `event:` name (None if absent) and its joined `data:` lines."""

    event: str | None
    data: str


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SseEvent]:
    """Server-sent events from lines: `event:` and `data:` fields, dispatched on each blank line."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield SseEvent(event, "\n".join(data))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield SseEvent(event, "\n".join(data))


async def iter_ndjson(lines: AsyncIterator[str]) -> AsyncIterator[Any]:
    """One JSON value per non-empty line."""
    async for line in lines:
        if line.strip():
            value = _loads(line)
            if value is not None:
                yield value


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        log.warning("llm_stream_unparsable_line", line=text[:200])
        return None


@dataclass
class _State:
    """What a stream has said so far."""

    stream_id: str
    content: str = ""
    thinking: str = ""
    finish_reason: str | None = None
    usage: Usage = field(default_factory=empty_usage)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> {id, name, arguments (str)}

    def chunk(self, kind: Any, **fields: Any) -> StreamChunk:
        return StreamChunk(type=kind, stream_id=self.stream_id, **fields)

    def tool_calls(self) -> list[ToolCall]:
        return [
            {"id": c["id"], "name": c["name"], "arguments": parse_json(c["arguments"]) or {}}
            for _, c in sorted(self.calls.items())
        ]


def _openai(state: _State, payload: Any) -> Iterable[StreamChunk]:
    if payload.get("usage"):
        state.usage = OpenAIFormat.usage(payload["usage"])
    for choice in payload.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content"):
            state.content += delta["content"]
            yield state.chunk("content_delta", content=delta["content"])
        if delta.get("reasoning_content"):
            state.thinking += delta["reasoning_content"]
            yield state.chunk("thinking_delta", content=delta["reasoning_content"])
        for call in delta.get("tool_calls") or []:
            index, function = call.get("index", 0), call.get("function") or {}
            if index not in state.calls:
                state.calls[index] = {"id": call.get("id"), "name": function.get("name"), "arguments": ""}
                yield state.chunk(
                    "tool_call_start", tool_call_id=call.get("id"), tool_call_name=function.get("name")
                )
            if function.get("arguments"):
                state.calls[index]["arguments"] += function["arguments"]
                yield state.chunk(
                    "tool_call_delta",
                    tool_call_id=state.calls[index]["id"],
                    tool_call_args_delta=function["arguments"],
                )
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]


def _anthropic(state: _State, event: str | None, payload: Any) -> Iterable[StreamChunk]:
    kind = event or payload.get("type")
    if kind == "message_start":
        usage = (payload.get("message") or {}).get("usage")
        state.usage = AnthropicFormat.usage(usage, completion=state.usage["completion_tokens"])
    elif kind == "content_block_start":
        block = payload.get("content_block") or {}
        if block.get("type") == "tool_use":
            state.calls[payload.get("index", len(state.calls))] = {
                "id": block.get("id"),
                "name": block.get("name"),
                "arguments": "",
            }
            yield state.chunk(
                "tool_call_start", tool_call_id=block.get("id"), tool_call_name=block.get("name")
            )
    elif kind == "content_block_delta":
        delta, index = payload.get("delta") or {}, payload.get("index", 0)
        if delta.get("type") == "text_delta":
            state.content += delta.get("text", "")
            yield state.chunk("content_delta", content=delta.get("text", ""))
        elif delta.get("type") == "thinking_delta":
            state.thinking += delta.get("thinking", "")
            yield state.chunk("thinking_delta", content=delta.get("thinking", ""))
        elif delta.get("type") == "input_json_delta" and index in state.calls:
            state.calls[index]["arguments"] += delta.get("partial_json", "")
            yield state.chunk(
                "tool_call_delta",
                tool_call_id=state.calls[index]["id"],
                tool_call_args_delta=delta.get("partial_json"),
            )
    elif kind == "content_block_stop":
        call = state.calls.get(payload.get("index", -1))
        if call is not None:
            yield state.chunk("tool_call_end", tool_call_id=call["id"])
    elif kind == "message_delta":
        state.finish_reason = AnthropicFormat.finish_reason((payload.get("delta") or {}).get("stop_reason"))
        if payload.get("usage"):
            out = int(payload["usage"].get("output_tokens") or 0)
            state.usage = {
                **state.usage,
                "completion_tokens": out,
                "total_tokens": state.usage["prompt_tokens"] + out,
            }
    elif kind == "error":
        raise ApiError(error_message(200, payload).removesuffix(" (HTTP 200)"), status=None, body=payload)


def _ollama(state: _State, payload: Any) -> Iterable[StreamChunk]:
    message = payload.get("message") or {}
    if message.get("content"):
        state.content += message["content"]
        yield state.chunk("content_delta", content=message["content"])
    if message.get("thinking"):
        state.thinking += message["thinking"]
        yield state.chunk("thinking_delta", content=message["thinking"])
    for call in OllamaFormat.tool_calls(message):
        state.calls[len(state.calls)] = {**call, "arguments": json.dumps(call["arguments"])}
        yield state.chunk("tool_call_start", tool_call_id=call["id"], tool_call_name=call["name"])
        yield state.chunk("tool_call_end", tool_call_id=call["id"])
    if payload.get("done"):
        state.usage = OllamaFormat.usage(payload)
        state.finish_reason = OllamaFormat.finish_reason(payload, bool(state.calls))
    if payload.get("error"):
        raise ApiError(str(payload["error"]), status=None, body=payload)


async def decode_stream(
    format_name: str, body: AsyncIterator[bytes], stream_id: str, model: str
) -> AsyncGenerator[StreamChunk, None]:
    """The chunks of a streamed completion in the given wire format (see the module docstring)."""
    state = _State(stream_id)
    yield state.chunk("stream_start")
    lines = iter_lines(body)
    if format_name == "ollama":
        async for payload in iter_ndjson(lines):
            for chunk in _ollama(state, payload):
                yield chunk
    else:
        async for event in iter_sse(lines):
            if event.data == "[DONE]":
                break
            payload = _loads(event.data)
            if not isinstance(payload, dict):
                continue
            chunks = (
                _anthropic(state, event.event, payload)
                if format_name == "anthropic"
                else _openai(state, payload)
            )
            for chunk in chunks:
                yield chunk
    if format_name == "openai":  # OpenAI does not mark the end of each tool call
        for _, call in sorted(state.calls.items()):
            yield state.chunk("tool_call_end", tool_call_id=call["id"])
    response = LlmResponse(
        content=state.content or None,
        tool_calls=state.tool_calls(),
        finish_reason=state.finish_reason or ("tool_calls" if state.calls else "stop"),
        model=model,
        usage=state.usage,
        thinking_content=state.thinking or None,
    )
    yield state.chunk("stream_end", usage=state.usage, response=response)
