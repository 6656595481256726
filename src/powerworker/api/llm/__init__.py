"""LLM calls: direct to providers (OpenAI-compatible, Anthropic, Ollama), tools through the server."""

from powerworker.api.llm.client import TOOL_LOOP_MAX_ITERATIONS, LlmProxyClient, calculate_cost
from powerworker.api.llm.provider import ProviderClient, ProviderTarget
from powerworker.api.llm.types import (
    CompletionOptions,
    CompletionResult,
    LlmResponse,
    ProviderConfig,
    StreamChunk,
    ToolCall,
    ToolLoopResult,
    Usage,
)

__all__ = [
    "TOOL_LOOP_MAX_ITERATIONS",
    "CompletionOptions",
    "CompletionResult",
    "LlmProxyClient",
    "LlmResponse",
    "ProviderClient",
    "ProviderConfig",
    "ProviderTarget",
    "StreamChunk",
    "ToolCall",
    "ToolLoopResult",
    "Usage",
    "calculate_cost",
]
