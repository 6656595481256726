"""The retry ladder, permanent-error classification and in-process API retries."""

from __future__ import annotations

import pytest

from powerworker.errors import ApiError, CircuitOpenError, InvalidArguments, UnknownJob
from powerworker.resilience.retry import is_permanent, retry_delay_s, with_api_retry
from powerworker.testing import FakeClock


@pytest.mark.parametrize(("count", "expected"), [(1, 30), (2, 60), (3, 180), (4, 300), (9, 300)])
def test_api_error_ladder(count: int, expected: int) -> None:
    """API errors wait 30, 60, 180 s, then 300 s (the original's intent, not its off-by-one)."""
    assert retry_delay_s(count, ApiError("x", 503)) == expected


@pytest.mark.parametrize(
    ("count", "rand", "expected"), [(1, 0, 16), (1, 29, 74), (2, 0, 31), (2, 29, 118), (3, 10, 136)]
)
def test_generic_ladder(count: int, rand: int, expected: int) -> None:
    """Other errors wait count^4 + 15 + rand(0..29) * (count + 1) s."""
    assert retry_delay_s(count, RuntimeError(), randint=lambda lo, hi: rand) == expected


def test_generic_ladder_uses_the_documented_random_range() -> None:
    """The random part is drawn from 0..29 inclusive."""
    seen: list[tuple[int, int]] = []

    def spy(lo: int, hi: int) -> int:
        seen.append((lo, hi))
        return lo

    retry_delay_s(2, ValueError(), randint=spy)
    assert seen == [(0, 29)]


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (ApiError("bad", 400), True),
        (ApiError("auth", 401), True),
        (ApiError("gone", 404), True),
        (ApiError("invalid", 422), True),
        (ApiError("slow", 408), False),
        (ApiError("busy", 429), False),
        (ApiError("down", 503), False),
        (ApiError("unknown", None), False),
        (CircuitOpenError("b", None), False),
        (InvalidArguments("x"), True),
        (UnknownJob("X"), True),
        (RuntimeError("x"), False),
    ],
)
def test_permanent_classification(error: BaseException, permanent: bool) -> None:
    """4xx other than 408/429 and invalid input are permanent; the rest may be retried."""
    assert is_permanent(error) is permanent


async def test_with_api_retry_retries_retryable_errors(clock: FakeClock) -> None:
    """Retryable API errors are retried after 2 s and 4 s, then the call succeeds."""
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ApiError("down", 503)
        return "ok"

    assert await with_api_retry(call, clock=clock) == "ok"
    assert clock.sleeps == [2.0, 4.0]


@pytest.mark.parametrize("status", [400, 404, 422, None])
async def test_with_api_retry_does_not_retry_others(clock: FakeClock, status: int | None) -> None:
    """Client errors and errors without a status are raised at once."""
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise ApiError("no", status)

    with pytest.raises(ApiError):
        await with_api_retry(call, clock=clock)
    assert calls == 1
    assert clock.sleeps == []


async def test_with_api_retry_gives_up_after_max_attempts(clock: FakeClock) -> None:
    """After max_attempts the last error surfaces."""

    async def call() -> None:
        raise ApiError("down", 502)

    with pytest.raises(ApiError, match="down"):
        await with_api_retry(call, max_attempts=2, clock=clock)
    assert clock.sleeps == [2.0]
