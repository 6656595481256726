"""The one clock seam: time and sleep go through a `Clock` so tests advance time instead of waiting.

`SystemClock` is the real one. `FakeClock` (in `powerworker.testing`) moves only when told to.
Wall time (`time()`) is for timestamps stored in Redis; monotonic time (`monotonic()`) is for measuring
intervals in the process (breaker windows, token expiry).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "system_clock"]


class Clock(Protocol):
    """Where powerworker reads the time and sleeps."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for `seconds`."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


system_clock = SystemClock()
