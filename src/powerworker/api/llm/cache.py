"""A small time-to-live cache whose concurrent misses for one key share a single load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from powerworker.clock import Clock, system_clock

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Values kept `ttl_s` seconds on the monotonic clock; a failed load is not cached."""

    def __init__(self, ttl_s: float, clock: Clock = system_clock) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._locks: dict[K, asyncio.Lock] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value of `key`, loading it with `load()` when absent or expired."""
        hit = self._fresh(key)
        if hit is not None:
            return hit[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            hit = self._fresh(key)  # a concurrent caller may have loaded it while we waited
            if hit is not None:
                return hit[1]
            value = await load()
            self._values[key] = (self._clock.monotonic() + self.ttl_s, value)
            return value

    def clear(self, key: K | None = None) -> None:
        """Forget one key, or everything."""
        if key is None:
            self._values.clear()
        else:
            self._values.pop(key, None)

    def _fresh(self, key: K) -> tuple[float, V] | None:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self._clock.monotonic():
            return hit
        return None
