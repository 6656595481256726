"""A fake Docker Engine API for tests: real HTTP (or HTTPS with client certificates) on 127.0.0.1.

    async with FakeDockerEngine() as engine:
        engine.nodes.append({"ID": "n1", "Status": {"State": "ready"}, ...})
        engine.fail("/nodes", status=500)                # answer /nodes with a 500 from now on
        backend.route("GET", ".../connection", data={"connection": engine.connection()})

It answers `/_ping`, `/info`, `/containers/json`, `/images/json`, `/nodes`, `/services` and `/tasks` from the
lists and dict the test fills, applies `/tasks`'s `filters` (`service`, `desired-state`) as Docker does, and
records every request (`engine.requests`).
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["EngineRequest", "FakeDockerEngine"]


@dataclass(frozen=True)
class EngineRequest:
    """One request as the engine received it."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)


class FakeDockerEngine:
    """An in-process Docker engine (use as an async context manager).

    Args:
        ssl_context: serve HTTPS with it (set `verify_mode = CERT_REQUIRED` on it to demand client certificates).
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.info: dict[str, Any] = {"ID": "engine-1", "Name": "fake-engine", "MemTotal": 8 * 2**30}
        self.containers: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.requests: list[EngineRequest] = []
        self.failures: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def connection(self, **extra: Any) -> dict[str, Any]:
        """The connection info the server would hand out for this engine (without TLS material)."""
        return {"host": self.host, "port": self.port, "tls_enabled": self.ssl_context is not None, **extra}

    def fail(self, path: str, status: int = 500) -> None:
        """Answer every later request to `path` with `status`."""
        self.failures[path] = status

    def paths(self) -> list[str]:
        """The paths requested so far, in order."""
        return [r.path for r in self.requests]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDockerEngine:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(EngineRequest(request.method, request.path, dict(request.query)))
        status = self.failures.get(request.path)
        if status is not None:
            return web.json_response({"message": f"injected failure ({status})"}, status=status)
        if request.path == "/_ping":
            return web.Response(text="OK", content_type="text/plain")
        listing = {
            "/info": self.info,
            "/containers/json": self.containers,
            "/images/json": self.images,
            "/nodes": self.nodes,
            "/services": self.services,
        }
        if request.path in listing:
            return web.json_response(listing[request.path])
        if request.path == "/tasks":
            return web.json_response(self._tasks(json.loads(request.query.get("filters", "{}"))))
        return web.json_response({"message": f"page not found: {request.path}"}, status=404)

    def _tasks(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        services = set(filters.get("service", []))
        desired = set(filters.get("desired-state", []))
        return [
            task
            for task in self.tasks
            if (not services or task.get("ServiceID") in services)
            and (not desired or task.get("DesiredState") in desired)
        ]
