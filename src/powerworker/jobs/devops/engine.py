"""A small client of the Docker Engine API, for the Docker and Swarm jobs.

The server hands out each host's connection info (`{host, port, tls_enabled, client_cert, client_key, ca_cert,
ca_cert_path, tls_verify}`); the jobs then call the engine directly over the process's shared aiohttp session,
each host behind its own circuit breaker `docker:<host>:<port>` from the process's registry, so an unreachable
host fails fast for a minute instead of costing every run its timeouts.

Paths are unversioned (`/nodes`, `/containers/json`): the original's `/v1.41` base was dropped by its HTTP
library, so unversioned endpoints are what it called. Every failure reaches the jobs as an `ApiError` with
`service="docker:<host>:<port>"`: a non-2xx reply keeps its status, a timeout is 408, a refused connection or
TLS failure 503, an open breaker 503. A connection info the client cannot use is a `ValueError`.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from powerworker.api.responses import error_for_transport, parse_body
from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.support import as_map, dig, unwrap
from powerworker.resilience.breaker import Breaker

__all__ = ["Connection", "DockerEngine", "filters", "open_engine"]


@dataclass(frozen=True)
class Connection:
    """Where and how to reach one Docker engine."""

    host: str
    port: int
    tls_enabled: bool = False
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    ca_cert_path: str | None = None
    tls_verify: bool = True

    @classmethod
    def from_reply(cls, info: Mapping[str, Any]) -> Connection:
        """The connection described by the server's `data.connection`.

        Raises:
            ValueError: the host or port is missing or not usable.
        """
        host = info.get("host")
        if not host:
            raise ValueError("the connection info has no host")
        try:
            port = int(info.get("port") or (2376 if info.get("tls_enabled") else 2375))
        except (TypeError, ValueError):
            raise ValueError(f"the connection info's port {info.get('port')!r} is not a number") from None
        return cls(
            host=str(host),
            port=port,
            tls_enabled=bool(info.get("tls_enabled")),
            client_cert=info.get("client_cert") or None,
            client_key=info.get("client_key") or None,
            ca_cert=info.get("ca_cert") or None,
            ca_cert_path=info.get("ca_cert_path") or None,
            tls_verify=info.get("tls_verify") is not False,
        )

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls_enabled else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def name(self) -> str:
        """The breaker and service name of this engine."""
        return f"docker:{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS settings (None without TLS): the CA to trust, the client certificate, verification.

        Raises:
            ValueError: a PEM string or file cannot be loaded.
        """
        if not self.tls_enabled:
            return None
        try:
            context = ssl.create_default_context(cafile=self.ca_cert_path, cadata=self.ca_cert)
            if not self.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if self.client_cert and self.client_key:
                _load_client_pair(context, self.client_cert, self.client_key)
        except (ssl.SSLError, OSError) as error:
            raise ValueError(f"unusable TLS material for {self.name}: {error}") from error
        return context


def _load_client_pair(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """Load a PEM certificate and key (the ssl module reads them only from files, so briefly write them)."""
    with tempfile.TemporaryDirectory(prefix="powerworker-tls-") as folder:
        cert_file, key_file = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="ascii") as handle:
                handle.write(text)
        context.load_cert_chain(cert_file, key_file)


def filters(**values: list[str]) -> dict[str, str]:
    """Docker's `filters` query parameter (JSON); keyword underscores stand for dashes (`desired_state`)."""
    return {"filters": json.dumps({key.replace("_", "-"): value for key, value in values.items()})}


class DockerEngine:
    """GETs against one engine, each through the engine's breaker.

    Args:
        session: the process's shared session (not closed here).
        connection: the engine.
        breaker: the engine's breaker; its `call_timeout_s` caps each call's wall time.
        read_timeout_s / connect_timeout_s: the original's read and open timeouts.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        connection: Connection,
        breaker: Breaker,
        *,
        read_timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self.session = session
        self.connection = connection
        self.breaker = breaker
        self._ssl: ssl.SSLContext | bool = connection.ssl_context() or True
        self._timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout_s, sock_read=read_timeout_s)

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """The parsed reply of GET `path` (JSON, or text such as `/_ping`'s `OK`).

        Raises:
            ApiError: non-2xx (its status), timeout (408), connection or TLS failure (503), open breaker.
        """
        return await self.breaker.call(self._get, path, params)

    async def ping(self) -> bool:
        """Whether `/_ping` answers 2xx (any failure is False)."""
        try:
            await self.get("/_ping")
        except ApiError:
            return False
        return True

    async def _get(self, path: str, params: Mapping[str, str] | None) -> Any:
        service = self.connection.name
        try:
            async with self.session.get(
                self.connection.base_url + path,
                params=params,
                ssl=self._ssl,
                timeout=self._timeout,
                headers={"Accept": "application/json"},
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise error_for_transport(error, service) from error
        body = parse_body(content, response.headers.get("Content-Type"))
        if not 200 <= response.status < 300:
            message = f"Docker API {path} answered {response.status}"
            raise ApiError(message, status=response.status, body=body, service=service)
        return body


async def open_engine(
    ctx: JobContext, connection_path: str, *, read_timeout_s: float, connect_timeout_s: float
) -> DockerEngine:
    """The engine whose connection info the server gives at `connection_path` (`data.connection`).

    Raises:
        ApiError: the server call failed.
        ValueError: the connection info is not usable.
    """
    info = as_map(dig(unwrap(await ctx.api.get(connection_path)), "connection"))
    connection = Connection.from_reply(info)
    clients = ctx.runtime.api
    return DockerEngine(
        clients.session,
        connection,
        clients.breakers.get(connection.name),
        read_timeout_s=read_timeout_s,
        connect_timeout_s=connect_timeout_s,
    )
