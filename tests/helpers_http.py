"""aioresponses made to work on aiohttp 3.14 (aioresponses issue #289: `missing 'stream_writer'`).

aiohttp 3.14 made `stream_writer` a required keyword of `ClientResponse`; aioresponses 0.7.9 does not pass it.
`mocked_http()` is an `aioresponses` whose responses are built with a subclass that supplies a stub writer (aiohttp
only reads its `output_size`). Use it for narrow error-mapping units only; clients are tested against real local
HTTP servers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import ClientResponse
from aioresponses import aioresponses

__all__ = ["CompatClientResponse", "mocked_http"]


class _StubStreamWriter:
    """Stands in for the request's stream writer: nothing was written."""

    output_size = 0


class CompatClientResponse(ClientResponse):
    """A `ClientResponse` that aioresponses 0.7.9 can build on aiohttp 3.14."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _StubStreamWriter())
        super().__init__(method, url, **kwargs)


class mocked_http(aioresponses):
    """`aioresponses` with `CompatClientResponse` as the default response class (named like aioresponses)."""

    def add(self, url: Any, method: str = "GET", **kwargs: Any) -> None:
        kwargs.setdefault("response_class", CompatClientResponse)
        super().add(url, method, **kwargs)
