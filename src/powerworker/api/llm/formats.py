"""The three wire formats of direct provider calls: OpenAI-compatible, Anthropic and Ollama.

`format_for(provider_type)`: `anthropic` and `ollama` have their own; every other type (openai, groq, mistral,
azure, grok, cohere, deepseek, ...) speaks OpenAI chat completions. Each format builds the request (URL,
headers, body) and normalises the reply into an `LlmResponse`; finish reasons are normalised to the OpenAI
words (`stop`, `length`, `tool_calls`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from powerworker.api.llm.types import CompletionOptions, LlmResponse, Message, ToolCall, Usage

__all__ = [
    "AnthropicFormat",
    "OllamaFormat",
    "OpenAIFormat",
    "ProviderFormat",
    "error_message",
    "format_for",
    "parse_json",
]

USER_AGENT = "Powernode-AI/2.0"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096


def parse_json(value: Any) -> Any:
    """Tool arguments arrive as a JSON string in some formats; anything unparsable stays as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _split_system(messages: Sequence[Message], opts: CompletionOptions) -> tuple[str, list[Message]]:
    """The system prompt (system messages, then `system_prompt`) and the other messages."""
    parts = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    parts.append(opts.get("system_prompt") or "")
    return "\n".join(p for p in parts if p), [m for m in messages if m.get("role") != "system"]


def _tool_spec(tool: Mapping[str, Any]) -> dict[str, Any]:
    """`{name, description, parameters}` of a tool in generic, OpenAI or Anthropic (`input_schema`) form."""
    spec = tool.get("function") if isinstance(tool.get("function"), Mapping) else tool
    assert isinstance(spec, Mapping)
    return {
        "name": spec.get("name"),
        "description": spec.get("description"),
        "parameters": spec.get("parameters")
        or spec.get("input_schema")
        or {"type": "object", "properties": {}},
        "strict": spec.get("strict"),
    }


def _schema_of(schema: Mapping[str, Any]) -> tuple[str, Any]:
    """A structured-output schema may come bare or as `{name, schema}`."""
    if isinstance(schema.get("schema"), Mapping):
        return str(schema.get("name") or "response"), schema["schema"]
    return "response", dict(schema)


def error_message(status: int, payload: Any) -> str:
    """`<provider's message> (HTTP <status>)` from an error reply of any of the three formats."""
    message: Any = payload
    if isinstance(payload, Mapping):
        error = payload.get("error")
        message = error.get("message") or json.dumps(error) if isinstance(error, Mapping) else error
        message = message or payload.get("message") or "Unknown error"
    return f"{message} (HTTP {status})"


def _usage(prompt: int, completion: int, cached: int = 0, total: int | None = None) -> Usage:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "total_tokens": total if total is not None else prompt + completion,
    }


class ProviderFormat:
    """One wire format. Subclasses fill in the parts that differ."""

    name: ClassVar[str]
    default_base_url: ClassVar[str]
    timeout_s: ClassVar[float] = 120.0

    def base_url(self, configured: str | None) -> str:
        return (configured or self.default_base_url).rstrip("/")

    def url(self, base_url: str) -> str:
        raise NotImplementedError

    def headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        return headers

    def body(
        self,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        schema: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def parse(self, payload: Any, model: str) -> LlmResponse:
        raise NotImplementedError


class OpenAIFormat(ProviderFormat):
    """OpenAI chat completions, spoken by most providers."""

    name = "openai"
    default_base_url = "https://api.openai.com/v1"

    def url(self, base_url: str) -> str:
        return f"{base_url}/chat/completions"

    def body(
        self,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        schema: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        system, others = _split_system(messages, opts)
        wire = [{"role": "system", "content": system}] if system else []
        wire += [self._message(m) for m in others]
        body: dict[str, Any] = {
            "model": model,
            "messages": wire,
            "max_tokens": opts.get("max_tokens", DEFAULT_MAX_TOKENS),
            "temperature": opts.get("temperature", 0.7),
        }
        for key in ("top_p", "stop", "presence_penalty", "frequency_penalty"):
            if key in opts:
                body[key] = opts[key]
        if tools:
            body["tools"] = [self._tool(t) for t in tools]
            body["tool_choice"] = opts.get("tool_choice", "auto")
        if schema is not None:
            name, inner = _schema_of(schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": inner, "strict": True},
            }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    @staticmethod
    def _tool(tool: Mapping[str, Any]) -> dict[str, Any]:
        spec = _tool_spec(tool)
        function = {k: spec[k] for k in ("name", "description", "parameters") if spec[k] is not None}
        function["strict"] = bool(spec["strict"])
        return {"type": "function", "function": function}

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": message.get("role"), "content": message.get("content")}
        if message.get("role") == "tool":
            wire["tool_call_id"] = message.get("tool_call_id")
        if message.get("tool_calls"):
            wire["tool_calls"] = [OpenAIFormat._tool_call(tc) for tc in message["tool_calls"]]
        return wire

    @staticmethod
    def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
        if call.get("type") == "function":
            return dict(call)
        arguments = call.get("arguments") or {}
        return {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": call.get("name"),
                "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
            },
        }

    def parse(self, payload: Any, model: str) -> LlmResponse:
        choice = (payload.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls: list[ToolCall] = [
            {
                "id": tc.get("id") or str(uuid.uuid4()),
                "name": (tc.get("function") or {}).get("name", ""),
                "arguments": parse_json((tc.get("function") or {}).get("arguments")),
            }
            for tc in message.get("tool_calls") or []
        ]
        return LlmResponse(
            content=message.get("content"),
            tool_calls=calls,
            finish_reason=choice.get("finish_reason"),
            model=payload.get("model") or model,
            usage=self.usage(payload.get("usage")),
            thinking_content=message.get("reasoning_content") or None,
        )

    @staticmethod
    def usage(raw: Any) -> Usage:
        raw = raw or {}
        prompt, completion = int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0)
        cached = int((raw.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        return _usage(prompt, completion, cached, int(raw.get("total_tokens") or prompt + completion))


class AnthropicFormat(ProviderFormat):
    """Anthropic Messages API."""

    name = "anthropic"
    default_base_url = "https://api.anthropic.com/v1"
    STOP_REASONS: ClassVar[dict[str, str]] = {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "tool_use": "tool_calls",
        "max_tokens": "length",
    }

    def url(self, base_url: str) -> str:
        return f"{base_url}/messages"

    @classmethod
    def finish_reason(cls, stop_reason: str | None) -> str | None:
        """Anthropic's stop reason in the OpenAI words."""
        return cls.STOP_REASONS.get(stop_reason, stop_reason) if stop_reason else None

    def headers(self, api_key: str | None) -> dict[str, str]:
        # Anthropic authenticates with x-api-key, not a bearer token.
        return {**super().headers(None), "x-api-key": api_key or "", "anthropic-version": ANTHROPIC_VERSION}

    def body(
        self,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        schema: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        system, others = _split_system(messages, opts)
        body: dict[str, Any] = {
            "model": model,
            "messages": self._messages(others),
            "max_tokens": opts.get("max_tokens", DEFAULT_MAX_TOKENS),
        }
        if system:
            cached = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
            body["system"] = cached if opts.get("cache_system_prompt") else system
        for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("stop", "stop_sequences")):
            if ours in opts:
                body[theirs] = opts[ours]  # type: ignore[literal-required]
        if "thinking_budget" in opts:
            body["thinking"] = {"type": "enabled", "budget_tokens": opts["thinking_budget"]}
        if tools:
            specs = [_tool_spec(t) for t in tools]
            body["tools"] = [
                {"name": s["name"], "description": s["description"], "input_schema": s["parameters"]}
                for s in specs
            ]
            body["tool_choice"] = self._tool_choice(opts.get("tool_choice", "auto"))
        if schema is not None:
            body["output_config"] = {"format": {"type": "json_schema", "schema": _schema_of(schema)[1]}}
        if stream:
            body["stream"] = True
        return body

    @staticmethod
    def _tool_choice(choice: str | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(choice, Mapping):
            return dict(choice)
        named = {"auto": "auto", "none": "none", "required": "any", "any": "any"}
        return {"type": named[choice]} if choice in named else {"type": "tool", "name": choice}

    @staticmethod
    def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
        """Tool results become user `tool_result` blocks (consecutive ones merged into one turn)."""
        wire: list[dict[str, Any]] = []
        for message in messages:
            role, content = message.get("role"), message.get("content")
            if role == "tool":
                text = content if isinstance(content, str) else json.dumps(content)
                block = {"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": text}
                last = wire[-1] if wire else None
                if last and last["role"] == "user" and isinstance(last["content"], list):
                    last["content"].append(block)
                else:
                    wire.append({"role": "user", "content": [block]})
            elif role == "assistant" and message.get("tool_calls"):
                blocks: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
                for call in message["tool_calls"]:
                    function = call.get("function") or {}
                    arguments = call.get("arguments", function.get("arguments")) or {}
                    blocks.append(
                        {
                            "type": "tool_use",
                            "id": call.get("id"),
                            "name": call.get("name") or function.get("name"),
                            "input": parse_json(arguments),
                        }
                    )
                wire.append({"role": "assistant", "content": blocks})
            else:
                wire.append({"role": role, "content": content})
        return wire

    def parse(self, payload: Any, model: str) -> LlmResponse:
        blocks = payload.get("content") or []
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        thinking = "".join(b.get("thinking", "") for b in blocks if b.get("type") == "thinking")
        calls: list[ToolCall] = [
            {"id": b.get("id"), "name": b.get("name"), "arguments": b.get("input") or {}}
            for b in blocks
            if b.get("type") == "tool_use"
        ]
        return LlmResponse(
            content=text or None,
            tool_calls=calls,
            finish_reason=self.finish_reason(payload.get("stop_reason")),
            model=payload.get("model") or model,
            usage=self.usage(payload.get("usage")),
            thinking_content=thinking or None,
        )

    @staticmethod
    def usage(raw: Any, completion: int | None = None) -> Usage:
        """Anthropic's `input_tokens` exclude cache reads and writes; our `prompt_tokens` include them."""
        raw = raw or {}
        cached = int(raw.get("cache_read_input_tokens") or 0)
        prompt = int(raw.get("input_tokens") or 0) + cached + int(raw.get("cache_creation_input_tokens") or 0)
        out = int(raw.get("output_tokens") or 0) if completion is None else completion
        return _usage(prompt, out, cached)


class OllamaFormat(ProviderFormat):
    """Ollama's `/api/chat` (bearer token only when a key exists)."""

    name = "ollama"
    default_base_url = "http://localhost:11434"
    timeout_s = 300.0

    def url(self, base_url: str) -> str:
        return f"{base_url}/chat" if base_url.endswith("/api") else f"{base_url}/api/chat"

    def body(
        self,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        schema: Mapping[str, Any] | None = None,
        stream: bool = False,
    ) -> dict[str, Any]:
        system, others = _split_system(messages, opts)
        wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
        wire += [self._message(m) for m in others]
        body: dict[str, Any] = {"model": model, "messages": wire, "stream": stream}
        options: dict[str, Any] = {k: opts[k] for k in ("temperature", "top_p", "stop") if k in opts}
        if "max_tokens" in opts:
            options["num_predict"] = opts["max_tokens"]
        if options:
            body["options"] = options
        if "keep_alive" in opts:
            body["keep_alive"] = opts["keep_alive"]
        if tools:
            body["tools"] = [OpenAIFormat._tool(t) for t in tools]
        if schema is not None:
            body["format"] = _schema_of(schema)[1]
        return body

    @staticmethod
    def _message(message: Message) -> dict[str, Any]:
        content = message.get("content")
        if message.get("role") == "tool":
            return {"role": "tool", "content": content if isinstance(content, str) else json.dumps(content)}
        wire: dict[str, Any] = {"role": message.get("role"), "content": content or ""}
        if message.get("tool_calls"):
            wire["tool_calls"] = [
                {"function": {"name": c.get("name"), "arguments": parse_json(c.get("arguments")) or {}}}
                for c in message["tool_calls"]
            ]
        return wire

    @staticmethod
    def tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
        """Ollama gives tool calls no ids; each gets a fresh one."""
        return [
            {
                "id": str(uuid.uuid4()),
                "name": (tc.get("function") or {}).get("name", ""),
                "arguments": parse_json((tc.get("function") or {}).get("arguments")) or {},
            }
            for tc in message.get("tool_calls") or []
        ]

    def parse(self, payload: Any, model: str) -> LlmResponse:
        message = payload.get("message") or {}
        calls = self.tool_calls(message)
        return LlmResponse(
            content=message.get("content"),
            tool_calls=calls,
            finish_reason=self.finish_reason(payload, bool(calls)),
            model=payload.get("model") or model,
            usage=self.usage(payload),
            thinking_content=message.get("thinking") or None,
        )

    @staticmethod
    def finish_reason(payload: Mapping[str, Any], has_calls: bool) -> str:
        if has_calls:
            return "tool_calls"
        return str(payload.get("done_reason") or ("stop" if payload.get("done") else "length"))

    @staticmethod
    def usage(payload: Mapping[str, Any]) -> Usage:
        return _usage(int(payload.get("prompt_eval_count") or 0), int(payload.get("eval_count") or 0))


_FORMATS: dict[str, ProviderFormat] = {"anthropic": AnthropicFormat(), "ollama": OllamaFormat()}
_OPENAI = OpenAIFormat()


def format_for(provider_type: str) -> ProviderFormat:
    """The wire format of a provider type (OpenAI-compatible unless `anthropic` or `ollama`)."""
    return _FORMATS.get(provider_type.lower(), _OPENAI)
