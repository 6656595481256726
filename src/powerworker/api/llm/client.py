"""LlmProxyClient: "LLM via the worker, tools via the server" (the original's §4.5).

Completions go straight from the worker to the provider (`ProviderClient`), with the provider configuration
and the decrypted credentials fetched from the server (cached 60 s and 5 min). Tool definitions, tool
dispatch, reasoning runs and execution contexts stay on the server. Usage and cost are accounted as the
original did.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from typing import Any, Unpack

import structlog

from powerworker.api.backend import BackendApiClient
from powerworker.api.envelope import is_success
from powerworker.api.llm.cache import TtlCache
from powerworker.api.llm.provider import ProviderClient, ProviderTarget
from powerworker.api.llm.types import (
    CompletionOptions,
    CompletionResult,
    LlmResponse,
    Message,
    Pricing,
    ProviderConfig,
    StreamChunk,
    ToolCall,
    ToolLogEntry,
    ToolLoopResult,
    Usage,
    empty_usage,
)
from powerworker.api.responses import server_message
from powerworker.clock import Clock, system_clock
from powerworker.errors import ApiError

__all__ = ["TOOL_LOOP_MAX_ITERATIONS", "LlmProxyClient", "calculate_cost"]

log = structlog.get_logger(__name__)

TOOL_LOOP_MAX_ITERATIONS = 10
SERVER_TOOL_PATH = "/api/v1/internal/ai/llm"
SERVICE = "llm_proxy"
ZERO_PRICING: Pricing = {"input_per_1k": 0.0, "output_per_1k": 0.0, "cached_input_per_1k": 0.0}


def calculate_cost(usage: Usage, pricing: Pricing) -> float:
    """USD for `usage` at `pricing`: cached prompt tokens at the cached price when both are non-zero."""
    prompt, cached, completion = usage["prompt_tokens"], usage["cached_tokens"], usage["completion_tokens"]
    if pricing["cached_input_per_1k"] > 0 and cached > 0:
        non_cached = max(prompt - cached, 0)
        input_cost = (
            non_cached / 1000 * pricing["input_per_1k"] + cached / 1000 * pricing["cached_input_per_1k"]
        )
    else:
        input_cost = prompt / 1000 * pricing["input_per_1k"]
    return round(input_cost + completion / 1000 * pricing["output_per_1k"], 6)


def _add_usage(total: Usage, more: Usage) -> Usage:
    return {key: total[key] + more[key] for key in total}  # type: ignore[return-value,literal-required]


class LlmProxyClient:
    """Runs completions and tool loops for agents.

    Transport is HTTP only: the original's ActionCable WebSocket path for `tool_definitions` and
    `dispatch_tool` (with HTTP as its fallback) is not implemented; every server call here is a plain HTTP
    request.

    Args:
        backend: the client for server calls (provider config, credentials, tools, pricing).
        providers: the client for direct provider calls.
        clock: drives the caches' expiry.
    """

    def __init__(
        self,
        backend: BackendApiClient,
        providers: ProviderClient,
        *,
        clock: Clock = system_clock,
        config_ttl_s: float = 60,
        credentials_ttl_s: float = 300,
        pricing_ttl_s: float = 3600,
    ) -> None:
        self.backend = backend
        self.providers = providers
        self._configs: TtlCache[str, ProviderConfig] = TtlCache(config_ttl_s, clock)
        self._credentials: TtlCache[str, dict[str, Any]] = TtlCache(credentials_ttl_s, clock)
        self._pricing: TtlCache[str, Pricing] = TtlCache(pricing_ttl_s, clock)

    # -- completions -----------------------------------------------------------------------------------------
    async def complete(
        self,
        *,
        messages: Sequence[Message],
        agent_id: str | None = None,
        provider_config: ProviderConfig | None = None,
        model: str | None = None,
        **opts: Unpack[CompletionOptions],
    ) -> CompletionResult:
        """A completion from the agent's provider, or from an inline `provider_config` (no server call)."""
        target, model = await self._target(agent_id, provider_config, model)
        return await self._result(await self.providers.complete(target, messages, model, opts))

    async def complete_with_tools(
        self,
        *,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]],
        agent_id: str | None = None,
        provider_config: ProviderConfig | None = None,
        model: str | None = None,
        **opts: Unpack[CompletionOptions],
    ) -> CompletionResult:
        """A completion that may ask for tool calls (`tool_calls` in the result)."""
        target, model = await self._target(agent_id, provider_config, model)
        return await self._result(await self.providers.complete(target, messages, model, opts, tools=tools))

    async def complete_structured(
        self,
        *,
        messages: Sequence[Message],
        schema: Mapping[str, Any],
        agent_id: str | None = None,
        provider_config: ProviderConfig | None = None,
        model: str | None = None,
        **opts: Unpack[CompletionOptions],
    ) -> CompletionResult:
        """A completion constrained to a JSON schema; `parsed` holds the decoded JSON when it decodes."""
        target, model = await self._target(agent_id, provider_config, model)
        result = await self._result(
            await self.providers.complete(target, messages, model, opts, schema=schema)
        )
        if "content" in result:
            try:
                result["parsed"] = json.loads(result["content"])
            except ValueError:
                log.warning("llm_structured_output_not_json", model=model)
        return result

    async def stream(
        self,
        *,
        messages: Sequence[Message],
        agent_id: str | None = None,
        provider_config: ProviderConfig | None = None,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        **opts: Unpack[CompletionOptions],
    ) -> AsyncGenerator[StreamChunk, None]:
        """A streamed completion; the last chunk, `stream_end`, carries the `result` `complete` would give.

        Raises:
            ApiError: the stream failed (unlike `complete`, which reports failures in its result).
        """
        target, model = await self._target(agent_id, provider_config, model)
        # aclosing: a consumer that stops early closes the provider stream (and its connection) at once.
        async with aclosing(self.providers.stream(target, messages, model, opts, tools=tools)) as chunks:
            async for chunk in chunks:
                if chunk.type == "stream_end" and chunk.response is not None:
                    chunk = replace(chunk, result=await self._result(chunk.response))
                yield chunk

    # -- the server's side: tools, reasoning, context --------------------------------------------------------
    async def tool_definitions(self, agent_id: str) -> dict[str, Any]:
        """`{tools, tools_enabled}` for the agent."""
        data = await self._call_server("tool_definitions", agent_id=agent_id)
        return data if isinstance(data, dict) else {"tools": [], "tools_enabled": False}

    async def dispatch_tool(self, agent_id: str, tool_call: ToolCall) -> Any:
        """Run one tool call on the server; its `{result}`."""
        return await self._call_server("dispatch_tool", agent_id=agent_id, tool_call=tool_call)

    async def execute_with_reasoning(
        self,
        *,
        agent_id: str,
        messages: Sequence[Message],
        model: str | None = None,
        reasoning_mode: str | None = None,
        reflection_enabled: bool = False,
        **opts: Any,
    ) -> Any:
        """The server's reasoning loop (it calls back into the worker for completions)."""
        return await self._call_server(
            "execute_with_reasoning",
            agent_id=agent_id,
            messages=list(messages),
            model=model,
            reasoning_mode=reasoning_mode,
            reflection_enabled=reflection_enabled,
            **opts,
        )

    async def fetch_execution_context(
        self, agent_id: str, *, input: Any, context: Any = None, memory_token_budget: int = 4000
    ) -> Any:
        """`{execution_context, system_prompt, model, max_tokens, temperature}` for an agent run."""
        response = await self.backend.post(
            "/api/v1/internal/ai/execution_contexts",
            {
                "agent_id": agent_id,
                "input": input,
                "context": context,
                "memory_token_budget": memory_token_budget,
            },
        )
        return response.get("data") if is_success(response) else response

    async def execute_tool_loop(
        self,
        *,
        agent_id: str,
        messages: Sequence[Message],
        model: str | None = None,
        max_iterations: int = TOOL_LOOP_MAX_ITERATIONS,
        **opts: Unpack[CompletionOptions],
    ) -> ToolLoopResult | CompletionResult:
        """Let the model call the agent's tools (dispatched by the server) for up to `max_iterations` rounds.

        Without tools (disabled or none), this is one plain completion. Otherwise the result is
        `{content, usage, tool_calls_log, finish_reason, cost}` with usage and cost summed over the rounds;
        `finish_reason` is `max_iterations` when the rounds ran out. A provider failure ends the loop with
        `finish_reason == "error"` and `error`; a failed dispatch becomes a `{"error": ...}` tool message.
        """
        target, model = await self._target(agent_id, None, model)
        definitions = await self.tool_definitions(agent_id)
        tools = definitions.get("tools") or []
        if not (definitions.get("tools_enabled") and tools):
            return await self._result(await self.providers.complete(target, messages, model, opts))

        conversation = copy.deepcopy(list(messages))
        log_entries: list[ToolLogEntry] = []
        usage, cost = empty_usage(), 0.0
        last: LlmResponse | None = None
        for iteration in range(1, max_iterations + 1):
            last = await self.providers.complete(target, conversation, model, opts, tools=tools)
            usage = _add_usage(usage, last.usage)
            cost = round(cost + calculate_cost(last.usage, await self.pricing(model)), 6)
            if last.finish_reason == "error" or not last.tool_calls:
                result: ToolLoopResult = {
                    "content": last.content,
                    "usage": usage,
                    "tool_calls_log": log_entries,
                    "finish_reason": last.finish_reason,
                    "cost": cost,
                }
                if last.error:
                    result["error"] = last.error
                return result
            conversation.append({"role": "assistant", "content": last.content, "tool_calls": last.tool_calls})
            for call in last.tool_calls:
                conversation.append(await self._dispatch(agent_id, call, iteration, log_entries))
        return {
            "content": last.content if last else None,
            "usage": usage,
            "tool_calls_log": log_entries,
            "finish_reason": "max_iterations",
            "cost": cost,
        }

    async def _dispatch(
        self, agent_id: str, call: ToolCall, iteration: int, entries: list[ToolLogEntry]
    ) -> Message:
        """Run one tool call; the `role: tool` message that reports its result (or its error)."""
        entry: ToolLogEntry = {"iteration": iteration, "tool_name": call["name"], "tool_call_id": call["id"]}
        try:
            result = await self.dispatch_tool(agent_id, call)
        except ApiError as error:
            entries.append({**entry, "success": False, "error": error.message})
            return {
                "role": "tool",
                "tool_call_id": call["id"],
                "content": json.dumps({"error": error.message}),
            }
        entries.append({**entry, "success": True})
        if isinstance(result, Mapping):
            output = json.dumps(result.get("result") if result.get("result") is not None else result)
        else:
            output = str(result)
        return {"role": "tool", "tool_call_id": call["id"], "content": output}

    # -- configuration, credentials, pricing -----------------------------------------------------------------
    async def provider_config(self, agent_id: str) -> ProviderConfig:
        """The agent's provider configuration (cached 60 s)."""

        async def load() -> ProviderConfig:
            response = await self.backend.post("/api/v1/internal/ai/provider_config", {"agent_id": agent_id})
            if is_success(response) and isinstance(response.get("data"), dict):
                config: ProviderConfig = response["data"]
                return config
            if isinstance(response, dict) and response.get("provider_type"):
                return response  # type: ignore[return-value]
            reason = server_message(response) or "unexpected reply"
            raise ApiError(
                f"Failed to fetch provider config for agent {agent_id}: {reason}",
                body=response,
                service=SERVICE,
            )

        return await self._configs.get(agent_id, load)

    async def credentials(self, credential_id: str) -> dict[str, Any]:
        """The decrypted credentials of a provider credential (cached 5 min)."""

        async def load() -> dict[str, Any]:
            response = await self.backend.post(f"/api/v1/ai/credentials/{credential_id}/decrypt", {})
            if not isinstance(response, dict) or response.get("success") is False:
                reason = server_message(response) or "Unknown error"
                raise ApiError(
                    f"Failed to decrypt credential {credential_id}: {reason}", body=response, service=SERVICE
                )
            data = response.get("data")
            for candidate in (
                response.get("credentials"),
                data.get("credentials") if isinstance(data, dict) else None,
                data,
            ):
                if isinstance(candidate, dict) and candidate.get("api_key"):
                    return candidate
            return response

        return await self._credentials.get(credential_id, load)

    def forget_credentials(self, credential_id: str | None = None) -> None:
        """Drop cached credentials (after a rotation)."""
        self._credentials.clear(credential_id)

    async def pricing(self, model: str | None) -> Pricing:
        """USD per 1k tokens of `model` from the server (zero when unknown or the lookup fails)."""
        if not model:
            return ZERO_PRICING

        async def load() -> Pricing:
            data = await self.backend.get_data("/api/v1/ai/autonomy/pricing/lookup", {"model_id": model})
            data = data if isinstance(data, Mapping) else {}
            return {key: float(data.get(key) or 0) for key in ZERO_PRICING}  # type: ignore[return-value]

        try:
            return await self._pricing.get(model, load)
        except ApiError as error:
            log.warning("llm_pricing_lookup_failed", model=model, error=error.message)
            return ZERO_PRICING

    # -- helpers ---------------------------------------------------------------------------------------------
    async def _target(
        self, agent_id: str | None, provider_config: ProviderConfig | None, model: str | None
    ) -> tuple[ProviderTarget, str]:
        if provider_config is None:
            if not agent_id:
                raise ValueError("give either agent_id or provider_config")
            provider_config = await self.provider_config(agent_id)
        provider_type = str(provider_config["provider_type"]).lower()
        credential_id = provider_config.get("provider_credential_id")
        api_key: str | None = None
        if credential_id:
            api_key = (await self.credentials(str(credential_id))).get("api_key")
        if not api_key and provider_type != "ollama":
            raise ApiError(f"No API key found for credential {credential_id}", service=SERVICE)
        chosen = model or provider_config.get("model")
        if not chosen:
            raise ApiError("No model given and none in the provider config", service=SERVICE)
        target = ProviderTarget.of(
            provider_type,
            api_key,
            provider_config.get("provider_base_url"),
            provider_config.get("provider_name"),
        )
        return target, chosen

    async def _result(self, response: LlmResponse) -> CompletionResult:
        """The original's result dict: Nones dropped, cost added, `error` for failed calls."""
        result: CompletionResult = {"usage": response.usage, "cost": 0.0}
        if response.finish_reason != "error":
            result["cost"] = calculate_cost(response.usage, await self.pricing(response.model))
        for key in ("content", "finish_reason", "model", "thinking_content", "error"):
            value = getattr(response, key)
            if value is not None:
                result[key] = value
        if response.tool_calls:
            result["tool_calls"] = response.tool_calls
        return result

    async def _call_server(self, action: str, **payload: Any) -> Any:
        response = await self.backend.post(f"{SERVER_TOOL_PATH}/{action}", payload)
        if is_success(response):
            return response.get("data")
        if isinstance(response, Mapping):
            raise ApiError(
                f"LLM server error ({action}): {server_message(response) or 'Unknown error'}",
                body=response,
                service=SERVICE,
            )
        return response
