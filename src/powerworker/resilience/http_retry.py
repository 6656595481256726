"""In-request retries of HTTP calls: which requests may be sent again, and how long to wait first.

Only idempotent verbs are retried (GET, HEAD, OPTIONS, PUT, DELETE): sending them twice leaves the server as
sending them once. POST and PATCH are never re-sent automatically; the original worker re-sent them on 5xx and
timeouts and could duplicate side effects. A retry follows a timeout (408) or a 5xx, including the 503 of a
failed connection, but never an open breaker: that refusal is immediate and retrying it would only spin.

This is the fast, in-request layer (about a second of patience); the job-level retry policy in
`powerworker.resilience.retry` decides what happens after it gives up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from powerworker.errors import ApiError, CircuitOpenError

__all__ = ["IDEMPOTENT_METHODS", "NO_RETRY", "RetryPolicy", "parse_retry_after"]

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently an idempotent request is retried.

    Args:
        max_attempts: tries in all, the first included (3 = the first try and two retries).
        base_delay_s: wait before the first retry; each later wait is `factor` times longer.
        factor: growth of the wait per retry.
        jitter: a random fraction (0..jitter) of the wait is added, so that callers do not retry in step.
        max_retry_after_s: a server's `Retry-After` is honoured up to this; asked to wait longer, we give up
            and let the job-level retry take over.
    """

    max_attempts: int = 3
    base_delay_s: float = 0.5
    factor: float = 2.0
    jitter: float = 0.5
    max_retry_after_s: float = 30.0

    def should_retry(self, method: str, error: ApiError, attempt: int) -> bool:
        """Whether try number `attempt` (1-based) of `method`, which failed with `error`, gets another try."""
        if attempt >= self.max_attempts or method.upper() not in IDEMPOTENT_METHODS:
            return False
        if isinstance(error, CircuitOpenError) or error.status is None:
            return False
        return error.status == 408 or error.status >= 500

    def delay_s(
        self, attempt: int, retry_after_s: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed try number `attempt`: 0.5-0.75 s, then 1.0-1.5 s with the defaults.

        A larger `Retry-After` from the server wins.
        """
        step = self.base_delay_s * self.factor ** (attempt - 1)
        delay = step + (rng or random).uniform(0.0, step * self.jitter)
        return max(delay, retry_after_s or 0.0)


#: For callers that must not retry at all.
NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds asked for by `Retry-After` (delta seconds or an HTTP date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now_s, 0.0)
