"""When a failed job runs again: the original's intended backoff, and in-process API retries.

Retry `count` is 1 for the first retry. The original meant `[30, 60, 180]` seconds for API errors and 300 after;
Sidekiq's zero-based count made it apply 180/30/60 in practice. powerworker applies the intent.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from powerworker.clock import Clock, system_clock
from powerworker.errors import ApiError, PermanentJobError

__all__ = ["API_BACKOFF_S", "is_permanent", "retry_delay_s", "with_api_retry"]

T = TypeVar("T")
log = structlog.get_logger(__name__)

#: Delay before API-error retries 1, 2 and 3; later retries wait API_BACKOFF_AFTER_S.
API_BACKOFF_S = (30, 60, 180)
API_BACKOFF_AFTER_S = 300


def retry_delay_s(
    count: int, error: BaseException, randint: Callable[[int, int], int] = random.randint
) -> float:
    """Seconds to wait before retry number `count` (1-based) of a job that failed with `error`.

    API errors: 30, 60, 180, then 300 s. Other errors: count^4 + 15 + rand(0..29) * (count + 1) s.
    """
    if isinstance(error, ApiError):
        return API_BACKOFF_S[count - 1] if 1 <= count <= len(API_BACKOFF_S) else API_BACKOFF_AFTER_S
    return count**4 + 15 + randint(0, 29) * (count + 1)


def is_permanent(error: BaseException) -> bool:
    """A failure no retry can cure: invalid input, unknown jobs, and 4xx other than 408/429."""
    if isinstance(error, PermanentJobError):
        return True
    return isinstance(error, ApiError) and error.permanent


async def with_api_retry(
    call: Callable[[], Awaitable[T]], *, max_attempts: int = 3, clock: Clock = system_clock
) -> T:
    """Run `call`, retrying in process on retryable API errors (408, 429, 5xx) after 2, 4, 8 ... s.

    Any other error, or the last failure, is raised as it is. `max_attempts=1` means no retry.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ApiError as exc:
            if attempt >= max_attempts or not exc.retryable:
                log.error("api.retry.gave_up", attempts=attempt, status=exc.status, error=exc.message)
                raise
            delay = 2.0**attempt
            log.warning(
                "api.retry",
                attempt=attempt,
                max_attempts=max_attempts,
                status=exc.status,
                error=exc.message,
                retry_in_s=delay,
            )
            await clock.sleep(delay)
            attempt += 1
