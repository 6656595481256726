"""Login rate limiting in Redis: fixed windows per client address and per account, shared by every web process.

Each attempt is counted before the backend is asked, in one Lua call, so concurrent guesses cannot slip past
the limit. A successful login clears its account's counter; the address counter runs out with its window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from powerworker import keys

__all__ = ["LOGIN_ACCOUNT_PREFIX", "LOGIN_IP_PREFIX", "LoginLimiter", "Verdict"]

#: Failed-or-pending login attempts per client address: counter, EX window. Written and read by the dashboard.
LOGIN_IP_PREFIX = keys.WEB_LOGIN_IP_PREFIX
#: The same per account (SHA-256 of the lower-cased e-mail, so no address is stored in clear).
LOGIN_ACCOUNT_PREFIX = keys.WEB_LOGIN_ACCOUNT_PREFIX

# KEYS: counters.  ARGV: window s, then one limit per key.  Returns {blocked 0/1, seconds until retry}.
_HIT = """
local blocked, wait = 0, 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, ARGV[1]) end
  if count > tonumber(ARGV[i + 1]) then
    blocked = 1
    local ttl = redis.call('TTL', key)
    if ttl > wait then wait = ttl end
  end
end
return {blocked, wait}
"""


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go on; if not, how long until it may."""

    allowed: bool
    retry_after_s: int = 0


class LoginLimiter:
    """Counts login attempts per address and per account.

    Args:
        redis: where the counters live.
        account_limit: attempts per account per window.
        ip_limit: attempts per client address per window.
        window_s: the window's length.
    """

    def __init__(self, redis: Redis, *, account_limit: int, ip_limit: int, window_s: float) -> None:
        self._redis = redis
        self._account_limit = account_limit
        self._ip_limit = ip_limit
        self._window_s = max(int(window_s), 1)
        self._hit = redis.register_script(_HIT)

    @staticmethod
    def account_key(email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return LOGIN_ACCOUNT_PREFIX + digest

    async def attempt(self, ip: str, email: str | None = None) -> Verdict:
        """Count one attempt from `ip` (and on `email`'s account); refused once either is over its limit."""
        counters = [LOGIN_IP_PREFIX + ip]
        limits = [self._ip_limit]
        if email:
            counters.append(self.account_key(email))
            limits.append(self._account_limit)
        blocked, wait = await self._hit(keys=counters, args=[self._window_s, *limits])
        return Verdict(not int(blocked), max(int(wait), 1) if int(blocked) else 0)

    async def succeeded(self, email: str) -> None:
        """Forget the account's attempts after a successful login."""
        await self._redis.delete(self.account_key(email))
