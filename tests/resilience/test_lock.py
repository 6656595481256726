"""The distributed lock on a real Redis: exclusive, token-checked release, waiting on the Clock, renewal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from powerworker.errors import LockError, LockNotAcquired
from powerworker.resilience import lock as lock_module
from powerworker.resilience.lock import DistributedLock, held, lock_key, ttl
from powerworker.testing import FakeClock
from tests.helpers_logs import fresh_loggers

NAME = "billing:scheduler:2026-11-27"


@pytest.fixture(autouse=True)
def _capturable_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let capture_logs see every event whatever logging setup earlier tests left."""
    yield from fresh_loggers(monkeypatch, lock_module)


class SignallingClock(FakeClock):
    """A FakeClock that signals each sleep, so a test can wait for a poller's first pause."""

    def __init__(self) -> None:
        super().__init__()
        self.slept = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.slept.set()
        await super().sleep(seconds)


class WatchedLock(DistributedLock):
    """A lock that signals every renewal attempt."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renew_attempted = asyncio.Event()

    async def extend(self) -> bool:
        renewed = await super().extend()
        self.renew_attempted.set()
        return renewed

    async def next_renewal(self) -> None:
        """Wait for a renewal that started after this call (or for the renewer to stop on a lost lock)."""
        for _ in range(2):  # the first may have been under way already
            if self.lost:
                return
            self.renew_attempted.clear()
            await self.renew_attempted.wait()


async def test_holds_the_key_with_a_token_and_expiry(redis: Redis, clock: FakeClock) -> None:
    """Inside the block `lock:<name>` holds our token with the TTL; after it the key is gone."""
    async with DistributedLock(redis, NAME, ttl_s=3600, clock=clock, renew=False) as lock:
        assert await redis.get(lock_key(NAME)) == lock.token.encode()
        assert 3590_000 < await redis.pttl(lock_key(NAME)) <= 3600_000
        assert await held(redis, NAME)
        remaining = await ttl(redis, NAME)
        assert remaining is not None and 3590 < remaining <= 3600
    assert not await redis.exists(lock_key(NAME))
    assert not await held(redis, NAME)
    assert await ttl(redis, NAME) is None


async def test_second_holder_is_refused(redis: Redis, clock: FakeClock) -> None:
    """While one holder has the lock, another with wait_s=0 gets LockNotAcquired at once."""
    async with DistributedLock(redis, NAME, clock=clock, renew=False):
        with pytest.raises(LockNotAcquired) as caught:
            async with DistributedLock(redis, NAME, clock=clock):
                pass
    assert caught.value.key == lock_key(NAME)
    assert clock.sleeps == []


async def test_release_never_deletes_someone_elses_lock(redis: Redis, clock: FakeClock) -> None:
    """If our lease ran out and another holder took the key, releasing leaves their lock in place."""
    with capture_logs() as logs:
        async with DistributedLock(redis, NAME, clock=clock, renew=False):
            await redis.set(lock_key(NAME), "someone-else")
    assert await redis.get(lock_key(NAME)) == b"someone-else"
    assert logs[-1]["event"] == "lock_already_released"


async def test_waiting_gives_up_at_the_deadline(redis: Redis, clock: FakeClock) -> None:
    """A waiter polls every retry interval on the clock and gives up when wait_s has passed."""
    await redis.set(lock_key(NAME), "holder")
    waiter = DistributedLock(redis, NAME, wait_s=5, retry_interval_s=0.5, clock=clock)
    with pytest.raises(LockNotAcquired):
        async with waiter:
            pass
    assert clock.sleeps == [0.5] * 10


async def test_waiter_gets_the_lock_once_it_is_released(redis: Redis) -> None:
    """A waiter with time left takes the lock as soon as the holder lets go."""
    clock = SignallingClock()
    holder = DistributedLock(redis, NAME, clock=clock, renew=False)
    assert await holder.acquire()
    waiter = DistributedLock(redis, NAME, wait_s=1_000_000, retry_interval_s=1, clock=clock, renew=False)
    task = asyncio.create_task(waiter.acquire())
    await clock.slept.wait()  # the waiter found the lock taken and paused
    await holder.release()
    assert await task
    assert await redis.get(lock_key(NAME)) == waiter.token.encode()
    await waiter.release()


async def test_lease_is_renewed_while_the_holder_runs(redis: Redis, clock: FakeClock) -> None:
    """The renewal task pushes the expiry back to the full TTL while the block runs."""
    async with WatchedLock(redis, NAME, ttl_s=30, clock=clock) as lock:
        await redis.pexpire(lock_key(NAME), 200)  # as if the lease were about to run out
        await lock.next_renewal()
        assert await redis.pttl(lock_key(NAME)) > 20_000
        assert lock.renewals >= 1
        assert not lock.lost
    assert not await redis.exists(lock_key(NAME))


async def test_lost_lock_is_detected_by_renewal(redis: Redis, clock: FakeClock) -> None:
    """When another holder has taken the key, renewal marks the lock lost, logs it and stops."""
    with capture_logs() as logs:
        async with WatchedLock(redis, NAME, ttl_s=30, clock=clock) as lock:
            await redis.set(lock_key(NAME), "thief")
            await lock.next_renewal()
            assert lock.lost
            assert not lock.acquired
            assert not await lock.extend()
    assert await redis.get(lock_key(NAME)) == b"thief"
    assert "lock_lost" in [e["event"] for e in logs]


async def test_explicit_extend_resets_the_lease(redis: Redis, clock: FakeClock) -> None:
    """`extend()` resets the expiry to the full TTL while we hold the lock."""
    lock = DistributedLock(redis, NAME, ttl_s=60, clock=clock, renew=False)
    assert await lock.acquire()
    await redis.pexpire(lock_key(NAME), 1000)
    assert await lock.extend()
    assert await redis.pttl(lock_key(NAME)) > 59_000
    assert await lock.release()
    assert not await lock.release()


async def test_redis_failure_is_a_lock_error(clock: FakeClock) -> None:
    """An unreachable Redis raises LockError on acquire; the helpers answer 'not held'."""
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    try:
        with pytest.raises(LockError):
            await DistributedLock(unreachable, NAME, clock=clock).acquire()
        assert not await held(unreachable, NAME)
        assert await ttl(unreachable, NAME) is None
    finally:
        await unreachable.aclose()


def test_ttl_must_be_positive(redis: Redis) -> None:
    """A lock without a lease is refused at construction."""
    with pytest.raises(ValueError, match="ttl_s"):
        DistributedLock(redis, NAME, ttl_s=0)
