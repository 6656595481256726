"""A clock that moves only when told to, for tests of time-driven behaviour."""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """A `Clock` whose time advances only through `advance()` or `sleep()`.

    `sleep()` does not wait: it advances the clock by the requested amount and yields once to the event
    loop, so code that backs off or polls runs at full speed in tests while seeing the time it expects.
    Every requested sleep is recorded in `sleeps`.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 1_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by `seconds`."""
        self._wall += seconds
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)
