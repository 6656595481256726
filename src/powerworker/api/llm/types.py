"""What goes in and out of LLM calls: messages, tool calls, usage, results and stream chunks.

Messages are plain dicts in the OpenAI shape (`role`, `content`, and for tool use `tool_calls` on assistant
messages and `tool_call_id` on `role: "tool"` messages); each provider format converts them. A tool call is
`{"id", "name", "arguments"}` with the arguments already parsed from JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Required, TypedDict

__all__ = [
    "CompletionOptions",
    "CompletionResult",
    "LlmResponse",
    "Message",
    "Pricing",
    "ProviderConfig",
    "StreamChunk",
    "ToolCall",
    "ToolLogEntry",
    "ToolLoopResult",
    "Usage",
    "empty_usage",
]

Message = dict[str, Any]


class ProviderConfig(TypedDict, total=False):
    """Which provider serves an agent, as the server's `provider_config` endpoint describes it."""

    provider_type: Required[str]
    provider_credential_id: str | None
    provider_base_url: str | None
    provider_name: str | None
    model: str | None


class ToolCall(TypedDict):
    """A tool the model asked to run."""

    id: str
    name: str
    arguments: Any


class Usage(TypedDict):
    """Token counts; `prompt_tokens` includes `cached_tokens`."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int


def empty_usage() -> Usage:
    """Zero usage."""
    return {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "total_tokens": 0}


class CompletionOptions(TypedDict, total=False):
    """Options of a completion; each format uses those its provider understands."""

    max_tokens: int
    temperature: float
    system_prompt: str
    top_p: float
    stop: list[str]
    presence_penalty: float
    frequency_penalty: float
    tool_choice: str | dict[str, Any]
    thinking_budget: int
    cache_system_prompt: bool
    keep_alive: str | int


class Pricing(TypedDict):
    """USD per 1,000 tokens, from the server's pricing lookup."""

    input_per_1k: float
    output_per_1k: float
    cached_input_per_1k: float


@dataclass
class LlmResponse:
    """One provider reply, normalised. A failed call has `finish_reason == "error"` and `error` set."""

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=empty_usage)
    thinking_content: str | None = None
    error: str | None = None
    status: int | None = None


class CompletionResult(TypedDict, total=False):
    """What `complete*` return (absent keys were None): the original's result dict."""

    content: str
    usage: Usage
    finish_reason: str
    model: str
    tool_calls: list[ToolCall]
    cost: float
    thinking_content: str
    error: str
    parsed: Any


class ToolLogEntry(TypedDict, total=False):
    """One dispatched tool call of a tool loop."""

    iteration: int
    tool_name: str
    tool_call_id: str
    success: bool
    error: str


class ToolLoopResult(TypedDict, total=False):
    """What `execute_tool_loop` returns."""

    content: str | None
    usage: Usage
    tool_calls_log: list[ToolLogEntry]
    finish_reason: str | None
    cost: float
    error: str


ChunkType = Literal[
    "stream_start",
    "content_delta",
    "thinking_delta",
    "tool_call_start",
    "tool_call_delta",
    "tool_call_end",
    "stream_end",
]


@dataclass(frozen=True)
class StreamChunk:
    """One event of a streamed completion; the last, `stream_end`, carries the usage and the whole reply."""

    type: ChunkType
    stream_id: str
    content: str | None = None
    tool_call_id: str | None = None
    tool_call_name: str | None = None
    tool_call_args_delta: str | None = None
    usage: Usage | None = None
    response: LlmResponse | None = None
    result: CompletionResult | None = None
