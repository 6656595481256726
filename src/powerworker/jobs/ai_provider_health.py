"""AI provider health: test every active provider, grade it, store the report, alert and broadcast.

Every step swallows its own errors, so the job never fails: a provider whose test fails is `unhealthy`, and a
failed store, alert or broadcast is logged. The report is the job's result.

Routes. The original called relative `admin/...` paths that resolved to `/admin/...` and always 404ed (so it
never saw a provider). Here the provider list is GET /api/v1/ai/providers and each test is
POST /api/v1/ai/providers/:id/test_connection, the routes the inventory names. The metrics store
(POST /api/v1/internal/ai/provider_health_metrics) and the alerts (POST /api/v1/admin/system_alerts, the
absolute form of the original's path) have no route on the server yet; their errors are logged as documented.
"""

from __future__ import annotations

from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, now_iso, unwrap

__all__ = ["grade", "overall_status", "provider_health_check"]

PROVIDERS = "/api/v1/ai/providers"
METRICS = "/api/v1/internal/ai/provider_health_metrics"
ALERTS = "/api/v1/admin/system_alerts"
BROADCAST = "/api/v1/ai/autonomy/broadcast"
RESPONSE_TIME_WARNING_MS = 5_000
RESPONSE_TIME_CRITICAL_MS = 10_000
CONSECUTIVE_FAILURE_THRESHOLD = 3
_RANK = {"healthy": 0, "degraded": 1, "unhealthy": 2}


def grade(result: dict[str, Any], response_time_ms: int) -> tuple[str, list[str]]:
    """A provider's status (healthy, degraded, unhealthy) and the issues behind it, from its test result."""
    findings: list[tuple[str, str]] = []
    if not (result.get("healthy") or result.get("success")):
        findings.append(("unhealthy", str(result.get("error") or "Provider returned unhealthy status")))
    if response_time_ms >= RESPONSE_TIME_CRITICAL_MS:
        findings.append(("unhealthy", f"Critical response time: {response_time_ms}ms"))
    elif response_time_ms >= RESPONSE_TIME_WARNING_MS:
        findings.append(("degraded", f"Slow response time: {response_time_ms}ms"))
    error_rate = float(result.get("error_rate") or 0)
    if error_rate > 10:
        findings.append(("unhealthy", f"High error rate: {error_rate:g}%"))
    elif error_rate > 5:
        findings.append(("degraded", f"Elevated error rate: {error_rate:g}%"))
    failures = int(result.get("consecutive_failures") or 0)
    if failures >= CONSECUTIVE_FAILURE_THRESHOLD:
        findings.append(("unhealthy", f"{failures} consecutive failures"))
    status = max((s for s, _ in findings), key=_RANK.__getitem__, default="healthy")
    return status, [issue for _, issue in findings]


def overall_status(summary: dict[str, int]) -> str:
    """critical when half the active providers are unhealthy; degraded, warning or healthy below that."""
    active = summary["total"] - summary["disabled"]
    if active <= 0:
        return "healthy"
    unhealthy, degraded = summary["unhealthy"] / active, summary["degraded"] / active
    if unhealthy >= 0.5:
        return "critical"
    if unhealthy > 0 or degraded >= 0.5:
        return "degraded"
    return "warning" if degraded > 0 else "healthy"


@job("AiProviderHealthCheckJob", queue="ai_workflow_health", retries=None)
async def provider_health_check(ctx: JobContext) -> dict[str, Any]:
    """Check every provider and return the health report."""
    summary = dict.fromkeys(("total", "healthy", "degraded", "unhealthy", "disabled"), 0)
    report: dict[str, Any] = {
        "timestamp": now_iso(ctx),
        "overall_status": "healthy",
        "providers": {},
        "summary": summary,
    }
    providers = await _providers(ctx)
    summary["total"] = len(providers)
    for provider in providers:
        name = str(provider.get("name") or provider.get("provider_type"))
        health = await _check(ctx, provider)
        report["providers"][name] = health
        summary[health["status"]] += 1
    report["overall_status"] = overall_status(summary)
    await _quietly(
        ctx,
        "store",
        METRICS,
        {k: report[k] for k in ("timestamp", "overall_status", "summary", "providers")},
        3,
    )
    await _alert(ctx, report)
    await _quietly(ctx, "broadcast", BROADCAST, {"broadcast_type": "provider_health", "data": report}, 1)
    ctx.log.info("provider_health.completed", overall_status=report["overall_status"], **summary)
    await ctx.track_performance_metric(
        "ai_providers_unhealthy", summary["unhealthy"], {"overall": report["overall_status"]}
    )
    return report


async def _providers(ctx: JobContext) -> list[dict[str, Any]]:
    try:
        data = unwrap(await ctx.with_api_retry(lambda: ctx.api.get(PROVIDERS, {"include_disabled": True})))
    except ApiError as error:
        ctx.log.error("provider_health.list_failed", status=error.status, error=error.message)
        return []
    return [as_map(p) for p in (data if isinstance(data, list) else as_list(as_map(data).get("providers")))]


async def _check(ctx: JobContext, provider: dict[str, Any]) -> dict[str, Any]:
    base = {"id": provider.get("id"), "checked_at": now_iso(ctx)}
    if provider.get("status") == "disabled" or provider.get("is_active") is False:
        return {**base, "status": "disabled", "message": "Provider is disabled"}
    started = ctx.clock.monotonic()
    try:
        reply = await ctx.api.post(
            f"{PROVIDERS}/{provider.get('id')}/test_connection", {"timeout": 15, "test_type": "basic"}
        )
        result = as_map(unwrap(reply))
    except ApiError as error:
        ctx.log.warning("provider_health.test_failed", provider_id=provider.get("id"), error=error.message)
        return {**base, "status": "unhealthy", "error": error.message, "response_time_ms": None}
    elapsed_ms = round((ctx.clock.monotonic() - started) * 1000)
    status, issues = grade(result, elapsed_ms)
    return {
        **base,
        "status": status,
        "healthy": bool(result.get("healthy") or result.get("success")),
        "response_time_ms": elapsed_ms,
        "error_rate": result.get("error_rate") or 0,
        "consecutive_failures": result.get("consecutive_failures") or 0,
        "issues": issues,
        "capabilities": result.get("capabilities") or [],
        **{k: result.get(k) for k in ("rate_limit_remaining", "quota_remaining", "last_successful_call")},
    }


async def _alert(ctx: JobContext, report: dict[str, Any]) -> None:
    unhealthy = {name: h for name, h in report["providers"].items() if h["status"] == "unhealthy"}
    for name, health in unhealthy.items():
        alert = {
            "alert_type": "ai_provider_health",
            "severity": "warning",
            "category": "provider_monitoring",
            "title": f"AI Provider Unhealthy: {name}",
            "message": ", ".join(health.get("issues") or []) or "Provider health check failed",
            "metadata": {
                "provider_id": health["id"],
                "provider_name": name,
                "response_time_ms": health.get("response_time_ms"),
                "error": health.get("error"),
            },
        }
        await _quietly(ctx, "alert", ALERTS, alert, 3)
    if report["overall_status"] == "critical":
        summary = report["summary"]
        alert = {
            "alert_type": "ai_provider_health",
            "severity": "critical",
            "category": "provider_monitoring",
            "title": "Critical: Multiple AI Providers Unhealthy",
            "message": f"{summary['unhealthy']} out of {summary['total']} providers are unhealthy",
            "metadata": {"summary": summary, "unhealthy_providers": list(unhealthy)},
        }
        await _quietly(ctx, "alert", ALERTS, alert, 3)


async def _quietly(ctx: JobContext, what: str, path: str, body: dict[str, Any], attempts: int) -> None:
    """POST with `attempts` in-process tries; a failure is logged, never raised."""
    try:
        await ctx.with_api_retry(lambda: ctx.api.post(path, body), max_attempts=attempts)
    except ApiError as error:
        ctx.log.warning(f"provider_health.{what}_failed", path=path, status=error.status, error=error.message)
