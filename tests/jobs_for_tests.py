"""Jobs registered only for the test suite (names under `Test::`)."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import Retry
from pydantic import BaseModel, Field

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job

ORDER_KEY = "test:order"


@job("Test::RecordJob", queue="maintenance")
async def record(ctx: JobContext, label: str) -> str:
    """Appends its label to a Redis list, so tests can see the order jobs started in."""
    await ctx.redis.rpush(ORDER_KEY, label)
    return label


@job("Test::ApiFailJob", queue="default")
async def api_fail(ctx: JobContext, status: int) -> None:
    raise ApiError("backend said no", status=status, body={"error": "no"})


@job("Test::BoomJob", queue="default", retries=2)
async def boom(ctx: JobContext, message: str = "boom") -> None:
    raise RuntimeError(message)


@job("Test::NoRetryJob", retries=False)
async def no_retry(ctx: JobContext) -> None:
    raise RuntimeError("no retry for me")


@job("Test::NoDeadJob", retries=0, dead=False)
async def no_dead(ctx: JobContext) -> None:
    raise RuntimeError("discard me")


class EmailArgs(BaseModel):
    email_id: str = Field(min_length=1)
    recipients: list[str]
    priority: int = 0


@job("Test::ModelJob", queue="email", args_model=EmailArgs)
async def model_job(ctx: JobContext, args: EmailArgs) -> dict[str, Any]:
    return {"email_id": args.email_id, "count": len(args.recipients), "priority": args.priority}


@job("Test::TypedJob")
async def typed(ctx: JobContext, count: int, label: str = "x") -> str:
    return label * count


@job("Test::RetryRequestJob", retries=2)
async def retry_request(ctx: JobContext) -> None:
    raise Retry(defer=5)


@job("Test::HangJob", timeout_s=0.02, retries=1)
async def hang(ctx: JobContext) -> None:
    await asyncio.Event().wait()


@job("Test::FlakyJob", retries=3)
async def flaky(ctx: JobContext, succeed_on_try: int) -> int:
    if ctx.job_try < succeed_on_try:
        raise ConnectionError(f"flaky on try {ctx.job_try}")
    return ctx.job_try


@job("Test::MetricsJob")
async def metrics(ctx: JobContext) -> bool:
    await ctx.increment_counter("emails_sent", {"provider": "smtp"})
    await ctx.track_performance_metric("render_ms", 12.5)
    await ctx.track_cleanup_metrics({"deleted": 3})
    first = await ctx.claim("unit-of-work")
    second = await ctx.claim("unit-of-work")
    await ctx.mark_processed("other", ttl_s=60)
    return first and not second and await ctx.already_processed("other")


@job("Test::EmailLike", queue="email")
async def email_like(ctx: JobContext, email_id: str, extra: Any = None) -> str:
    """First argument is an id, like the original's e-mail jobs."""
    return email_id


__all__ = ["ORDER_KEY"]


@job("Test::TickJob", runaway_check=False)
async def tick(ctx: JobContext, schedule: str) -> None:
    """Records each run of a scheduled tick: its job id (which names the tick) and its try."""
    await ctx.redis.rpush(f"test:ticks:{schedule}", f"{ctx.job_id}|{ctx.job_try}")


@job("Test::BackendCallJob", queue="default", retries=10)
async def backend_call(ctx: JobContext, n: int) -> Any:
    """One POST to the backend per try (POSTs are never re-sent inside a try)."""
    return await ctx.api.post_data("/api/v1/test/ping", {"n": n})
