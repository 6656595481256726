"""The worker's identity towards the Powernode server: a short-lived HS256 JWT.

Claims: `type: "worker"`, `sub: WORKER_ID`, `iat`, `exp` (`iat + 300`), `iss`, `aud`. One token is shared by
every task of the process and reused until 60 s before it expires. Signing happens in plain synchronous code
with no `await`, so on the event loop the first caller past the refresh point signs a new token and every
concurrent caller sees it: there is no re-signing per request and no refresh stampede, without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from powerworker.clock import Clock, system_clock
from powerworker.errors import ConfigurationError
from powerworker.settings import Settings

__all__ = ["ALGORITHM", "TOKEN_TTL_S", "WorkerJwt"]

ALGORITHM = "HS256"
TOKEN_TTL_S = 300
REFRESH_BEFORE_S = 60


@dataclass
class _Cached:
    token: str
    claims: dict[str, object]
    refresh_at_mono: float


class WorkerJwt:
    """Signs and caches the worker JWT.

    Args:
        secret: the HS256 secret shared with the server (`JWT_SECRET_KEY`).
        worker_id: the worker's id (`WORKER_ID`), the token's subject.
        issuer / audience: `iss` and `aud` claims the server checks.
        clock: wall time for `iat`/`exp`, monotonic time for the refresh decision.
        ttl_s: token life; refresh_before_s: how long before expiry a new token is signed.
    """

    def __init__(
        self,
        secret: str,
        worker_id: str,
        *,
        issuer: str = "powernode-platform",
        audience: str = "powernode-api",
        clock: Clock = system_clock,
        ttl_s: int = TOKEN_TTL_S,
        refresh_before_s: int = REFRESH_BEFORE_S,
    ) -> None:
        if not secret:
            raise ConfigurationError("JWT_SECRET_KEY", "is required to sign the worker token")
        if not worker_id:
            raise ConfigurationError("WORKER_ID", "is required to sign the worker token")
        self._secret = secret
        self._worker_id = worker_id
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._ttl_s = ttl_s
        self._refresh_before_s = refresh_before_s
        self._cached: _Cached | None = None
        self.signed = 0  # how many tokens were signed (observability and tests)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = system_clock) -> WorkerJwt:
        """A signer configured from the worker's settings."""
        return cls(
            settings.jwt_secret,
            settings.worker_id,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            clock=clock,
        )

    def token(self) -> str:
        """The current token, signing a new one if the cached one is within 60 s of expiry."""
        cached = self._cached
        if cached is None or self._clock.monotonic() >= cached.refresh_at_mono:
            cached = self._cached = self._sign()
        return cached.token

    @property
    def claims(self) -> dict[str, object]:
        """The claims of the current token."""
        self.token()
        assert self._cached is not None
        return dict(self._cached.claims)

    def _sign(self) -> _Cached:
        issued_at = int(self._clock.time())
        claims: dict[str, object] = {
            "type": "worker",
            "sub": self._worker_id,
            "iat": issued_at,
            "exp": issued_at + self._ttl_s,
            "iss": self._issuer,
            "aud": self._audience,
        }
        self.signed += 1
        return _Cached(
            token=jwt.encode(claims, self._secret, algorithm=ALGORITHM),
            claims=claims,
            refresh_at_mono=self._clock.monotonic() + self._ttl_s - self._refresh_before_s,
        )
