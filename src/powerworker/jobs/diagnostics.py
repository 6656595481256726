"""Diagnostic jobs for probing a live worker (`powerworker ping` enqueues `Diagnostics::EchoJob`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from powerworker.context import JobContext
from powerworker.errors import PermanentJobError
from powerworker.jobs.base import job

__all__ = ["echo", "fail", "noop", "sleep"]


@job("Diagnostics::NoopJob", queue="default")
async def noop(ctx: JobContext) -> None:
    """Does nothing: measures the runner itself."""


@job("Diagnostics::EchoJob", queue="critical", retries=0)
async def echo(ctx: JobContext, value: Any = None) -> Any:
    """Returns its argument: the end-to-end liveness probe."""
    return value


@job("Diagnostics::SleepJob", queue="default")
async def sleep(ctx: JobContext, seconds: Annotated[float, Field(ge=0, le=3600)]) -> float:
    """Sleeps (on the worker's clock) and returns the seconds slept."""
    await ctx.clock.sleep(seconds)
    return seconds


class DiagnosticFailure(Exception):
    """Raised by `Diagnostics::FailJob`."""


class PermanentDiagnosticFailure(PermanentJobError):
    """Raised by `Diagnostics::FailJob` with `permanent=True`."""


@job("Diagnostics::FailJob", queue="default")
async def fail(ctx: JobContext, message: str = "diagnostic failure", permanent: bool = False) -> None:
    """Always raises: a retryable error, or a permanent one that goes straight to the dead set."""
    if permanent:
        raise PermanentDiagnosticFailure(message)
    raise DiagnosticFailure(message)
