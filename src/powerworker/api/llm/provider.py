"""Direct HTTP calls to AI providers, each through the breaker `ai_provider:<provider name>`.

A completion that fails (HTTP error, timeout, refused connection, open breaker) does not raise: it returns an
`LlmResponse` with `finish_reason == "error"` and the reason in `error`, as the original client did, so that a
tool loop or the inbound `/api/v1/llm/*` endpoints can report it. Streams raise `ApiError` instead, since an
iterator has no result to carry the error in. Timeouts: 120 s (OpenAI, Anthropic) or 300 s (Ollama) per call;
streams 30 s to connect and 300 s between reads. Provider calls are POSTs and are never retried automatically.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from powerworker.api.base import json_dumps
from powerworker.api.llm.formats import ProviderFormat, error_message, format_for
from powerworker.api.llm.streaming import decode_stream
from powerworker.api.llm.types import CompletionOptions, LlmResponse, Message, StreamChunk
from powerworker.api.responses import error_for_transport, parse_body
from powerworker.errors import ApiError
from powerworker.resilience.breaker import AI_PROVIDER_PREFIX, Breaker, BreakerRegistry

__all__ = ["ProviderClient", "ProviderTarget"]

log = structlog.get_logger(__name__)

STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=30, sock_read=300)


@dataclass(frozen=True)
class ProviderTarget:
    """Where and as whom to call a provider."""

    provider_type: str
    name: str
    base_url: str
    api_key: str | None

    @classmethod
    def of(
        cls, provider_type: str, api_key: str | None, base_url: str | None = None, name: str | None = None
    ) -> ProviderTarget:
        """A target with the format's default base URL when none is configured."""
        fmt = format_for(provider_type)
        return cls(provider_type.lower(), (name or provider_type).lower(), fmt.base_url(base_url), api_key)

    @property
    def format(self) -> ProviderFormat:
        return format_for(self.provider_type)

    @property
    def service(self) -> str:
        """The breaker and error service name, `ai_provider:<name>`."""
        return f"{AI_PROVIDER_PREFIX}{self.name}"


class ProviderClient:
    """Calls providers over the process's shared session."""

    def __init__(self, session: aiohttp.ClientSession, breakers: BreakerRegistry) -> None:
        self.session = session
        self.breakers = breakers

    def breaker(self, target: ProviderTarget) -> Breaker:
        """The breaker guarding calls to `target`."""
        return self.breakers.get(target.service)

    async def complete(
        self,
        target: ProviderTarget,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        schema: Mapping[str, Any] | None = None,
    ) -> LlmResponse:
        """One completion; failures come back as an `LlmResponse` with `finish_reason == "error"`."""
        fmt = target.format
        body = fmt.body(messages, model, opts, tools=tools, schema=schema)
        try:
            payload = await self.breaker(target).call(self._post, target, body)
        except (ApiError, TimeoutError) as error:
            failure = error if isinstance(error, ApiError) else error_for_transport(error, target.service)
            log.warning(
                "llm_call_failed",
                provider=target.name,
                model=model,
                status=failure.status,
                error=str(failure),
            )
            return LlmResponse(
                finish_reason="error", model=model, error=failure.message, status=failure.status
            )
        return fmt.parse(payload, model)

    async def stream(
        self,
        target: ProviderTarget,
        messages: Sequence[Message],
        model: str,
        opts: CompletionOptions,
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> AsyncGenerator[StreamChunk, None]:
        """A streamed completion (SSE or NDJSON by format); the breaker guards opening the stream.

        Raises:
            ApiError: the stream could not be opened, broke off, or the provider sent an error event.
        """
        fmt = target.format
        body = fmt.body(messages, model, opts, tools=tools, stream=True)
        try:
            response = await self.breaker(target).call(self._open_stream, target, body)
        except TimeoutError as error:
            raise error_for_transport(error, target.service) from error
        try:
            chunks = decode_stream(fmt.name, response.content.iter_any(), str(uuid.uuid4()), model)
            async with aclosing(chunks):
                async for chunk in chunks:
                    yield chunk
        except (aiohttp.ClientError, TimeoutError) as error:
            raise error_for_transport(error, target.service) from error
        finally:
            if response.content.at_eof():
                response.release()  # back to the pool
            else:
                response.close()  # stopped early: the rest of the body is not worth reading

    async def _post(self, target: ProviderTarget, body: dict[str, Any]) -> Any:
        fmt = target.format
        timeout = aiohttp.ClientTimeout(total=fmt.timeout_s, connect=30)
        try:
            async with self.session.post(
                fmt.url(target.base_url),
                data=json_dumps(body).encode(),
                headers=fmt.headers(target.api_key),
                timeout=timeout,
            ) as response:
                raw, status = await response.read(), response.status
                payload = parse_body(raw, response.headers.get("Content-Type"))
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise error_for_transport(error, target.service) from error
        if not 200 <= status < 300:
            raise ApiError(
                error_message(status, payload), status=status, body=payload, service=target.service
            )
        if not isinstance(payload, dict):
            raise ApiError(
                "Provider reply is not a JSON object", status=status, body=payload, service=target.service
            )
        return payload

    async def _open_stream(self, target: ProviderTarget, body: dict[str, Any]) -> aiohttp.ClientResponse:
        fmt = target.format
        headers = {**fmt.headers(target.api_key), "Accept": "text/event-stream, application/x-ndjson"}
        try:
            response = await self.session.post(
                fmt.url(target.base_url),
                data=json_dumps(body).encode(),
                headers=headers,
                timeout=STREAM_TIMEOUT,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise error_for_transport(error, target.service) from error
        if not 200 <= response.status < 300:
            async with response:
                payload = parse_body(await response.read(), response.headers.get("Content-Type"))
            raise ApiError(
                error_message(response.status, payload),
                status=response.status,
                body=payload,
                service=target.service,
            )
        return response
