"""AI maintenance jobs with more than one call: memory-pool cleanup, shared-knowledge maintenance, the
self-healing monitor and the observation pipeline. (The one-call AI jobs are rows of `jobs.scheduled`.)"""

from __future__ import annotations

from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, count_of, dig, unwrap

__all__ = [
    "SELF_HEALING_CHECKS",
    "memory_pool_cleanup",
    "observation_pipeline",
    "self_healing_monitor",
    "shared_knowledge_maintenance",
]

INTERNAL_AI = "/api/v1/internal/ai"
MEMORY_POOLS = f"{INTERNAL_AI}/memory_pools"


@job("AiMemoryPoolCleanupJob", queue="ai_orchestration", retries=1)
async def memory_pool_cleanup(ctx: JobContext, *_ignored: Any) -> dict[str, int]:
    """Delete expired memory pools and report how many and how many bytes; every failure is only logged."""
    try:
        pools = [as_map(p) for p in as_list(unwrap(await ctx.api.get(f"{MEMORY_POOLS}/expired")))]
    except ApiError as error:
        ctx.log.warning("memory_pools.list_failed", status=error.status, error=error.message)
        pools = []
    cleaned = freed = 0
    for pool in pools:
        try:
            unwrap(await ctx.api.delete(f"{MEMORY_POOLS}/{pool.get('id')}"))
        except ApiError as error:
            ctx.log.warning("memory_pools.delete_failed", pool_id=pool.get("id"), error=error.message)
            continue
        cleaned += 1
        freed += count_of(pool.get("data_size_bytes"))
    summary = {"pools_cleaned": cleaned, "bytes_freed": freed}
    try:
        await ctx.api.post(f"{MEMORY_POOLS}/cleanup_results", summary)
    except ApiError as error:
        ctx.log.warning("memory_pools.report_failed", error=error.message)
    ctx.log.info("memory_pools.cleaned", expired=len(pools), **summary)
    await ctx.track_cleanup_metrics({"memory_pools": cleaned, "memory_pool_bytes": freed})
    return summary


@job("AiSharedKnowledgeMaintenanceJob", queue="ai_orchestration", retries=1)
async def shared_knowledge_maintenance(ctx: JobContext, *_ignored: Any) -> dict[str, Any]:
    """Run the shared-knowledge maintenance, then log the knowledge base's size and quality (best effort).

    The original wrapped the query in a `params` key (`params[per_page]=1`); this sends `per_page=1`.
    """
    await ctx.with_api_retry(lambda: ctx.api.post("/api/v1/ai/memory/shared_maintenance"), max_attempts=2)
    summary: dict[str, Any] = {"success": True, "total_entries": None, "avg_quality_score": None}
    try:
        body = await ctx.with_api_retry(
            lambda: ctx.api.get("/api/v1/ai/memory/shared_knowledge", {"per_page": 1}), max_attempts=2
        )
        stats = as_map(dig(unwrap(body), "stats") or dig(body, "stats"))
    except ApiError as error:
        ctx.log.warning("shared_knowledge.stats_failed", status=error.status, error=error.message)
        return summary
    summary["total_entries"] = stats.get("total_entries", stats.get("total"))
    summary["avg_quality_score"] = stats.get("avg_quality_score")
    ctx.log.info(
        "shared_knowledge.maintained",
        total_entries=summary["total_entries"],
        avg_quality_score=summary["avg_quality_score"],
    )
    if isinstance(summary["total_entries"], int):
        await ctx.track_performance_metric("shared_knowledge_entries", summary["total_entries"])
    return summary


#: The self-healing checks: name -> path; each is run whatever the others do.
SELF_HEALING_CHECKS = {
    "stuck_workflows": f"{INTERNAL_AI}/self_healing/check_stuck_workflows",
    "degraded_providers": f"{INTERNAL_AI}/self_healing/check_degraded_providers",
    "orphaned_executions": f"{INTERNAL_AI}/self_healing/check_orphaned_executions",
    "anomalies": f"{INTERNAL_AI}/self_healing/check_anomalies",
}


@job("AiSelfHealingMonitorJob", queue="ai_orchestration", retries=1)
async def self_healing_monitor(ctx: JobContext, *_ignored: Any) -> dict[str, int | None]:
    """Run the four self-healing checks; each one's count of remediations, or None where it failed."""
    found: dict[str, int | None] = {}
    for name, path in SELF_HEALING_CHECKS.items():
        try:
            found[name] = count_of(dig(unwrap(await ctx.api.post(path)), "count"))
        except ApiError as error:
            ctx.log.warning("self_healing.check_failed", check=name, status=error.status, error=error.message)
            found[name] = None
    ctx.log.info("self_healing.completed", **found)
    await ctx.track_cleanup_metrics({f"self_healing_{name}": n for name, n in found.items() if n is not None})
    return found


@job("AiObservationPipelineJob", queue="ai_orchestration", retries=1)
async def observation_pipeline(ctx: JobContext, options: dict[str, Any] | None = None) -> dict[str, int]:
    """Run the observation sensors for one account (`{"account_id": ...}`) or for every account.

    In all-accounts mode a failing account is logged and skipped; the account list and single mode propagate.
    """
    account_id = (options or {}).get("account_id")
    if account_id:
        return await _observe(ctx, account_id)
    accounts = as_list(unwrap(await ctx.api.get(f"{INTERNAL_AI}/observation_pipeline/accounts")))
    totals = {"accounts": len(accounts), "failed": 0, "agents_processed": 0, "observations_created": 0}
    for account in accounts:
        try:
            counts = await _observe(ctx, account)
        except ApiError as error:
            ctx.log.warning("observation.account_failed", account_id=account, error=error.message)
            totals["failed"] += 1
            continue
        for key, value in counts.items():
            totals[key] += value
    ctx.log.info("observation.completed", **totals)
    await ctx.track_performance_metric("observations_created", totals["observations_created"])
    return totals


async def _observe(ctx: JobContext, account_id: Any) -> dict[str, int]:
    data = unwrap(await ctx.api.post(f"{INTERNAL_AI}/observation_pipeline/run", {"account_id": account_id}))
    counts = {key: count_of(dig(data, key)) for key in ("agents_processed", "observations_created")}
    ctx.log.info("observation.account_done", account_id=account_id, **counts)
    return counts
