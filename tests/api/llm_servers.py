"""Local HTTP servers that speak the providers' wire formats (OpenAI, Anthropic, Ollama), for the LLM tests.

A `FakeProvider` answers each POST with the next scripted reply: a JSON object, an error status, or a stream
whose text is written in small pieces so that events straddle chunk boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Seen:
    """One request the provider received."""

    path: str
    headers: dict[str, str]
    json: Any


@dataclass
class Scripted:
    """One reply: JSON (`body`) with a status, or a stream of `text` with a content type."""

    body: Any = None
    status: int = 200
    text: str | None = None
    content_type: str = "application/json"


@dataclass
class FakeProvider:
    """An AI provider on 127.0.0.1 replying from a script (the last reply repeats when the script runs out)."""

    replies: list[Scripted] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    piece_bytes: int = 7
    url: str = ""
    _runner: web.AppRunner | None = None

    def reply(self, body: Any, status: int = 200) -> None:
        self.replies.append(Scripted(body=body, status=status))

    def stream(self, text: str, content_type: str) -> None:
        self.replies.append(Scripted(text=text, content_type=content_type))

    async def __aenter__(self) -> FakeProvider:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(Seen(request.path, dict(request.headers), await request.json()))
        scripted = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if scripted.text is None:
            return web.json_response(scripted.body, status=scripted.status)
        response = web.StreamResponse(headers={"Content-Type": scripted.content_type})
        await response.prepare(request)
        data = scripted.text.encode()
        for start in range(0, len(data), self.piece_bytes):
            await response.write(data[start : start + self.piece_bytes])
        await response.write_eof()
        return response


def sse(events: Iterable[tuple[str | None, Any]]) -> str:
    """Server-sent events text: `event:` lines when named, JSON `data:` (or a raw string such as [DONE])."""
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n")
    return "".join(out)


def ndjson(lines: Iterable[Any]) -> str:
    """Newline-delimited JSON text."""
    return "".join(json.dumps(line) + "\n" for line in lines)


def openai_reply(
    content: str | None,
    *,
    tool_calls: list[tuple[str, str, dict[str, Any]]] | None = None,
    finish: str = "stop",
    usage: tuple[int, int, int] = (100, 20, 0),
) -> dict[str, Any]:
    """A chat.completion object; tool calls are (id, name, arguments)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, n, a in tool_calls
        ]
    prompt, completion, cached = usage
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def anthropic_reply(
    text: str | None,
    *,
    tool_uses: list[tuple[str, str, dict[str, Any]]] | None = None,
    stop: str = "end_turn",
    thinking: str | None = None,
) -> dict[str, Any]:
    """A Messages API reply; tool uses are (id, name, input)."""
    blocks: list[dict[str, Any]] = []
    if thinking:
        blocks.append({"type": "thinking", "thinking": thinking, "signature": "sig"})
    if text:
        blocks.append({"type": "text", "text": text})
    blocks += [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in tool_uses or []]
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": blocks,
        "stop_reason": stop,
        "usage": {"input_tokens": 50, "cache_read_input_tokens": 30, "output_tokens": 10},
    }


def ollama_reply(
    content: str, *, tool_calls: list[tuple[str, dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """An /api/chat reply; tool calls are (name, arguments) and carry no id."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [{"function": {"name": n, "arguments": a}} for n, a in tool_calls]
    return {
        "model": "llama-test",
        "message": message,
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 12,
        "eval_count": 8,
    }
