"""A Redis lock that one holder at a time may take, across processes and hosts.

    async with DistributedLock(redis, "billing:scheduler:2026-11-27", ttl_s=3600, wait_s=0) as lock:
        ...   # raises LockNotAcquired if another holder has it

Key `lock:<name>`, value a random token. Acquire is `SET NX PX`; with `wait_s > 0` it is retried every
`retry_interval_s` until the deadline (on the Clock). Release deletes the key only if it still holds our token
(a Lua compare-and-delete), so a holder whose lease ran out never deletes its successor's lock. While the
holder runs, a background task renews the lease every third of the TTL with a compare-and-pexpire script; the
original had no renewal, so a holder running past its TTL silently lost the lock. If renewal finds the lock
gone or taken, `lock.lost` becomes true and an error is logged: the holder should stop what it does under the
lock.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from types import TracebackType

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from powerworker.clock import Clock, system_clock
from powerworker.errors import LockError, LockNotAcquired

__all__ = ["DistributedLock", "held", "lock_key", "ttl"]

log = structlog.get_logger(__name__)

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


def lock_key(name: str) -> str:
    """`lock:<name>` (the original's key): written by the holder, read by waiters, `held` and `ttl`."""
    return f"lock:{name}"


class DistributedLock:
    """An async context manager holding `lock:<name>` for the length of a block.

    Args:
        redis: the client to lock with.
        name: what is locked (the key is `lock:<name>`).
        ttl_s: lease length; the lock frees itself this long after its holder dies.
        wait_s: how long to keep trying when the lock is taken (0: one attempt).
        retry_interval_s: pause between attempts while waiting.
        renew: renew the lease while the block runs.
        renew_every_s: pause between renewals (default a third of the TTL).
        clock: where waiting and renewal pauses are measured and slept.
    """

    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        ttl_s: float = 300,
        wait_s: float = 0,
        retry_interval_s: float = 0.5,
        renew: bool = True,
        renew_every_s: float | None = None,
        clock: Clock = system_clock,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.redis = redis
        self.name = name
        self.key = lock_key(name)
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.retry_interval_s = retry_interval_s
        self.renew_every_s = renew_every_s if renew_every_s is not None else ttl_s / 3
        self.renew = renew
        self.clock = clock
        self.token = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(8)}"
        self.renewals = 0
        self._acquired = False
        self._lost = False
        self._renewer: asyncio.Task[None] | None = None

    @property
    def acquired(self) -> bool:
        """Whether this lock object holds the lock (as far as it knows)."""
        return self._acquired and not self._lost

    @property
    def lost(self) -> bool:
        """True once a renewal found the lock expired or held by someone else."""
        return self._lost

    # -- taking and giving back ------------------------------------------------------------------------------
    async def acquire(self) -> bool:
        """Try to take the lock, waiting up to `wait_s`; True if taken.

        Raises:
            LockError: Redis failed.
        """
        deadline = self.clock.monotonic() + self.wait_s
        while True:
            try:
                taken = await self.redis.set(self.key, self.token, nx=True, px=self._ttl_ms)
            except (RedisError, OSError) as error:
                raise LockError(f"could not acquire {self.key}: {error}") from error
            if taken:
                self._acquired, self._lost = True, False
                log.info("lock_acquired", key=self.key, ttl_s=self.ttl_s)
                if self.renew:
                    self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())
                return True
            if self.clock.monotonic() + self.retry_interval_s > deadline:
                log.warning("lock_not_acquired", key=self.key, waited_s=self.wait_s)
                return False
            await self.clock.sleep(self.retry_interval_s)

    async def release(self) -> bool:
        """Give the lock back if we still hold it; True if our key was deleted. Redis errors are logged."""
        await self._stop_renewing()
        if not self._acquired:
            return False
        self._acquired = False
        try:
            deleted = await self.redis.eval(_RELEASE, 1, self.key, self.token)  # type: ignore[misc]
        except (RedisError, OSError) as error:
            log.error("lock_release_failed", key=self.key, error=repr(error))
            return False
        if deleted:
            log.info("lock_released", key=self.key)
        else:
            log.warning("lock_already_released", key=self.key, detail="expired or taken before release")
        return bool(deleted)

    async def extend(self) -> bool:
        """Reset the lease to `ttl_s` if we still hold the lock; False (and `lost`) if we do not."""
        try:
            renewed = await self.redis.eval(_RENEW, 1, self.key, self.token, str(self._ttl_ms))  # type: ignore[misc]
        except (RedisError, OSError) as error:
            log.warning("lock_renew_failed", key=self.key, error=repr(error))
            return True  # not known to be lost; the next renewal tries again before the lease ends
        if not renewed:
            self._lost = True
            log.error("lock_lost", key=self.key, detail="lease expired or lock taken by another holder")
            return False
        self.renewals += 1
        return True

    async def __aenter__(self) -> DistributedLock:
        if not await self.acquire():
            raise LockNotAcquired(self.key)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.release()

    # -- lease renewal ---------------------------------------------------------------------------------------
    @property
    def _ttl_ms(self) -> int:
        return max(int(self.ttl_s * 1000), 1)

    async def _renew_forever(self) -> None:
        while True:
            await self.clock.sleep(self.renew_every_s)
            if not await self.extend():
                return

    async def _stop_renewing(self) -> None:
        task, self._renewer = self._renewer, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():  # we are being cancelled, not just the renewer
                raise


async def held(redis: Redis, name: str) -> bool:
    """Whether someone holds the lock `name` (Redis errors count as not held, as in the original)."""
    try:
        return bool(await redis.exists(lock_key(name)))
    except (RedisError, OSError):
        return False


async def ttl(redis: Redis, name: str) -> float | None:
    """Seconds left on the lock `name`, or None when it is not held (or has no expiry)."""
    try:
        remaining_ms = await redis.pttl(lock_key(name))
    except (RedisError, OSError):
        return None
    return remaining_ms / 1000 if remaining_ms > 0 else None
