"""Integration health: test each active integration instance, record its health, auto-pause repeat failures.

With no argument the job pages through every active instance (50 a page); with an `instance_id` it checks that
one instance and returns its result. Each check: read the instance (skipped unless active), run its connection
test, write `health_metrics`, and when unhealthy count the consecutive failure; at three in a row the instance
is deactivated and the counter `integration_auto_paused` incremented.

The original read every reply through symbol keys, so its all-instances run stopped after the first page
request; this implements the intent with string keys. These are the server's user-facing
`/api/v1/devops/integration_instances` routes, which accept the worker token. A failure of the page request
propagates (retries 3, then discarded: `dead=False`); a failing instance is logged and the run goes on.
"""

from __future__ import annotations

from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, dig, now_iso, unwrap

__all__ = ["AUTO_PAUSE_AFTER", "integration_health_check"]

INSTANCES = "/api/v1/devops/integration_instances"
PER_PAGE = 50
#: Consecutive failed checks after which an instance is deactivated.
AUTO_PAUSE_AFTER = 3


@job("Integrations::IntegrationHealthCheckJob", queue="integrations", retries=3, dead=False)
async def integration_health_check(ctx: JobContext, instance_id: str | None = None) -> dict[str, Any] | None:
    """Check one instance (returns its result, or None if skipped), or every active instance (returns counts)."""
    if instance_id is not None:
        return await _check_safely(ctx, instance_id)
    counts = {"checked": 0, "healthy": 0, "unhealthy": 0}
    page, pages = 1, 1
    while page <= pages:
        body = await ctx.api.get(INSTANCES, {"status": "active", "page": page, "per_page": PER_PAGE})
        data = as_map(unwrap(body))
        pagination = as_map(data.get("pagination") or dig(body, "meta.pagination"))
        pages = int(pagination.get("total_pages") or 1)
        for instance in map(as_map, as_list(data.get("instances"))):
            result = await _check_safely(ctx, str(instance.get("id")))
            if result is not None:
                counts["checked"] += 1
                counts["healthy" if result["healthy"] else "unhealthy"] += 1
        page += 1
    ctx.log.info("integration.health_completed", pages=pages, **counts)
    for name, value in counts.items():
        await ctx.track_performance_metric(f"integration_health_{name}", value)
    return counts


async def _check_safely(ctx: JobContext, instance_id: str) -> dict[str, Any] | None:
    try:
        return await _check(ctx, instance_id)
    except ApiError as error:
        ctx.log.error(
            "integration.check_failed", instance_id=instance_id, status=error.status, error=error.message
        )
        return None


async def _check(ctx: JobContext, instance_id: str) -> dict[str, Any] | None:
    path = f"{INSTANCES}/{instance_id}"
    instance = as_map(dig(unwrap(await ctx.api.get(path)), "instance"))
    if instance.get("status") != "active":
        ctx.log.info("integration.skipped", instance_id=instance_id, status=instance.get("status"))
        return None
    try:
        test = as_map(dig(unwrap(await ctx.api.post(f"{path}/test")), "result"))
    except ApiError as error:
        test = {"success": False, "error": error.message}
    healthy = test.get("success") is True
    result: dict[str, Any] = {
        "instance_id": instance_id,
        "integration_type": dig(instance, "integration_template.integration_type"),
        "healthy": healthy,
        "message": test.get("message"),
        "error": test.get("error"),
        "response_time_ms": test.get("response_time_ms"),
    }
    metrics = {
        "last_health_check": now_iso(ctx),
        "health_status": "healthy" if healthy else "unhealthy",
        "last_error": result["error"],
        "response_time_ms": result["response_time_ms"],
    }
    try:
        await ctx.api.patch(path, {"instance": {"health_metrics": metrics}})
    except ApiError as error:
        ctx.log.warning("integration.health_update_failed", instance_id=instance_id, error=error.message)
    if not healthy:
        result.update(await _count_failure(ctx, instance_id))
    ctx.log.info("integration.checked", **{k: v for k, v in result.items() if k != "message"})
    return result


async def _count_failure(ctx: JobContext, instance_id: str) -> dict[str, Any]:
    """Add one consecutive failure to the instance's health metrics; deactivate it at the threshold."""
    path = f"{INSTANCES}/{instance_id}"
    metrics = as_map(dig(unwrap(await ctx.api.get(path)), "instance.health_metrics"))
    failures = int(metrics.get("consecutive_failures") or 0) + 1
    metrics.update(consecutive_failures=failures, last_failure_at=now_iso(ctx))
    await ctx.api.patch(path, {"instance": {"health_metrics": metrics}})
    paused = failures >= AUTO_PAUSE_AFTER
    if paused:
        await ctx.api.post(f"{path}/deactivate")
        await ctx.increment_counter("integration_auto_paused", {"instance_id": instance_id})
        ctx.log.warning("integration.auto_paused", instance_id=instance_id, consecutive_failures=failures)
    return {"consecutive_failures": failures, "auto_paused": paused}
