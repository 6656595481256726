"""Every error powerworker raises, under one root.

    PowerworkerError
    ├── ConfigurationError          settings missing or invalid at start-up
    ├── JobError                    raised while running a job
    │   ├── PermanentJobError       never retried: goes straight to the dead set
    │   │   ├── InvalidArguments    arguments do not fit the job's signature or model
    │   │   ├── UnknownJob          no job is registered under the payload's name
    │   │   ├── MalformedPayload    the payload in Redis is not a valid job
    │   │   └── WorkerLost          the job's worker died on every try
    │   ├── JobDisabled             the runaway detector disabled the job key
    │   └── JobTimeout              the job ran past its timeout
    ├── ApiError                    an HTTP call failed (status, message, body, service)
    │   └── CircuitOpenError        a circuit breaker refused the call (status 503)
    └── LockError                   a distributed lock could not be acquired or renewed
        └── LockNotAcquired

`ApiError` is the one type jobs see for every failed HTTP call; its `status` decides the retry policy
(see `powerworker.resilience.retry`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "ApiError",
    "CircuitOpenError",
    "ConfigurationError",
    "InvalidArguments",
    "JobDisabled",
    "JobError",
    "JobTimeout",
    "LockError",
    "LockNotAcquired",
    "MalformedPayload",
    "PermanentJobError",
    "PowerworkerError",
    "UnknownJob",
    "WorkerLost",
]

#: HTTP statuses that a later try may cure: timeouts, throttling and server errors.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class PowerworkerError(Exception):
    """Root of every error raised by powerworker."""


class ConfigurationError(PowerworkerError):
    """A setting is missing or invalid; `variable` names the environment variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


class JobError(PowerworkerError):
    """Raised while running a job."""


class PermanentJobError(JobError):
    """A failure no retry can cure; the job goes to the dead set at once."""


class InvalidArguments(PermanentJobError):
    """The job's arguments do not fit its signature or argument model."""


class UnknownJob(PermanentJobError):
    """No job is registered under the name found in the payload."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no job is registered under the name {name!r}")


class MalformedPayload(PermanentJobError):
    """The payload stored in Redis is not a valid job."""


class WorkerLost(PermanentJobError):
    """The job's worker died (killed, out of memory) on every try it had."""


class JobDisabled(JobError):
    """The runaway-loop detector disabled this job key; it is deferred, not failed."""

    def __init__(self, job_key: str, reason: str, retry_in_s: float) -> None:
        self.job_key = job_key
        self.reason = reason
        self.retry_in_s = retry_in_s
        super().__init__(f"Job execution disabled: {reason} ({job_key}, retry in {retry_in_s:.0f}s)")


class JobTimeout(JobError):
    """The job ran past its timeout."""


class ApiError(PowerworkerError):
    """An HTTP call failed.

    Args:
        message: what went wrong, from the server's reply where it said.
        status: the HTTP status; 408 for timeouts, 503 for connection failures and open breakers,
            None where no status applies.
        body: the parsed reply body, if any.
        service: which client or target made the call (`backend_api`, `web_auth`, `ai_provider:openai`).
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        body: Any = None,
        service: str = "backend_api",
    ) -> None:
        self.message = message
        self.status = status
        self.body = body
        self.service = service
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """Whether a later try may succeed (timeouts, 429 and 5xx)."""
        return self.status in RETRYABLE_STATUSES

    @property
    def permanent(self) -> bool:
        """A 4xx other than 408/429: the request itself is wrong and no retry will cure it."""
        return self.status is not None and 400 <= self.status < 500 and not self.retryable

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status}, service={self.service!r})"


class CircuitOpenError(ApiError):
    """A circuit breaker refused the call without sending it."""

    def __init__(self, name: str, reopen_at: datetime | None, service: str | None = None) -> None:
        self.name = name
        self.reopen_at = reopen_at
        when = reopen_at.isoformat() if reopen_at else "unknown"
        super().__init__(
            f"Service temporarily unavailable: circuit {name} is open until {when}",
            status=503,
            service=service or name,
        )


class LockError(PowerworkerError):
    """A distributed lock could not be acquired or renewed because Redis failed."""


class LockNotAcquired(LockError):
    """Another holder has the lock and the wait deadline passed."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"lock {key!r} is held by another holder")
