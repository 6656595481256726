"""Sessions signed out here: the backend has no logout call, so a signed-out session is remembered in Redis until
it would have expired anyway, and no copy of its cookie opens the dashboard again, in any web process."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from powerworker import keys

__all__ = ["REVOKED_PREFIX", "Revocations"]

#: A signed-out session: key per SHA-256 of the backend session token, EX the session's life. The dashboard
#: writes it at logout and reads it on every page.
REVOKED_PREFIX = keys.WEB_REVOKED_PREFIX


class Revocations:
    """Remembers signed-out sessions for `ttl_s` seconds."""

    def __init__(self, redis: Redis, *, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    @staticmethod
    def key(session_token: str) -> str:
        return REVOKED_PREFIX + hashlib.sha256(session_token.encode()).hexdigest()[:40]

    async def revoke(self, session_token: str) -> None:
        await self._redis.set(self.key(session_token), b"1", ex=self._ttl_s)

    async def revoked(self, session_token: str) -> bool:
        return bool(await self._redis.exists(self.key(session_token)))
