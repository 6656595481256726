"""The scheduled jobs that make one call to the server: one row each, registered by one loop.

Each row says what the original job did (job-inventory §1): its queue, retries and dead flag, the verb, path and
body of its one call, how many in-process attempts the call gets (`attempts=n` is the original's
`with_api_retry(max_attempts: n)`, 1 a raw call), which fields of the reply's `data` are counts, the metrics
those counts are tracked as, and whether an `ApiError` is swallowed (logged, and the job returns
`{"success": false, "error": ...}`) or propagates (the base layer retries the job with the API backoff, then
dead-sets or discards it).

Every job returns `{"success": true, <count>: n, ...}`, logs the counts (`scheduled.completed`) and tracks
each as a gauge `cleanup_<job>_<count>` (three DevOps rows keep the original's metric names and run counters).

Departures from the original, which these rows implement as intended:
- replies are read through string keys (`data.expired_count`), so the approval-expiry jobs report their counts
  instead of always taking their failure branch;
- AiProviderModelSyncJob posts to the absolute `/api/v1/ai/providers/sync_all` (the original's relative path
  was a 404) and reads its counts from `data.results`;
- Swarm::EventCleanupJob sends `action_type: "cleanup"` (Rails overwrote the original's `action` key);
- AiSkillLifecycleMaintenanceJob checks its `operation` (daily, weekly, monthly): anything else is a permanent
  `InvalidArguments` instead of a 404 on every retry;
- a 2xx reply that says `success: false` counts as an `ApiError` (status None) of the row's error handling,
  where the original only logged it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import count_of, dig, unwrap

__all__ = ["SCHEDULED_CALLS", "Operation", "ScheduledCall"]

Summary = dict[str, Any]
#: How a row's job takes arguments: none at all; anything (ignored); an optional params hash sent as the
#: body; or the skill-lifecycle `operation` that names the path's last segment.
ArgStyle = Literal["none", "any", "params", "operation"]
Operation = Literal["daily", "weekly", "monthly"]
CLEANUP_BODY: Mapping[str, Any] = {"action_type": "cleanup", "older_than_days": 30}


def counts(*paths: str) -> dict[str, str]:
    """Counts named by the last segment of their dotted path in `data`."""
    return {path.rsplit(".", 1)[-1]: path for path in paths}


@dataclass(frozen=True)
class ScheduledCall:
    """One scheduled job that makes one call.

    Attributes:
        name / queue / retries / dead: registered as the original (retries None: the worker's default, 3).
        method / path: the call; `{operation}` in the path is filled from the job's argument.
        body: the JSON body (None: no body).
        attempts: in-process attempts on retryable API errors (1: a raw call).
        counts: summary name -> dotted path of a count in the reply's `data` (`""` is `data` itself).
        gauges: summary name -> metric key, tracked as gauge `cleanup_<key>` (default: `<job>_<name>`, the job's
            name in snake case, e.g. `ai_pricing_sync_synced`).
        counter: a counter incremented after each successful run.
        swallow: an `ApiError` is logged and returned instead of raised.
        takes: how the job takes arguments (see `ArgStyle`).
    """

    name: str
    queue: str
    method: Literal["GET", "POST"]
    path: str
    retries: int | None = 1
    dead: bool = True
    body: Mapping[str, Any] | None = None
    attempts: int = 1
    counts: Mapping[str, str] = field(default_factory=dict)
    gauges: Mapping[str, str] = field(default_factory=dict)
    counter: str | None = None
    swallow: bool = False
    takes: ArgStyle = "any"

    def gauge(self, name: str) -> str:
        """The metric key the count `name` is tracked under."""
        if name in self.gauges:
            return self.gauges[name]
        job_name = self.name.removesuffix("Job").replace("::", "")
        return re.sub(r"(?<!^)(?=[A-Z])", "_", job_name).lower() + "_" + name

    async def run(self, ctx: JobContext, *, body: Mapping[str, Any] | None = None, **path: str) -> Summary:
        """Make the call and summarise the reply."""
        target = self.path.format(**path) if path else self.path
        payload = dict(body) if body else (dict(self.body) if self.body else None)

        async def call() -> Any:
            return unwrap(await ctx.api.request(self.method, target, payload))

        try:
            data = await (
                ctx.with_api_retry(call, max_attempts=self.attempts) if self.attempts > 1 else call()
            )
        except ApiError as error:
            if not self.swallow:
                raise
            ctx.log.warning("scheduled.skipped", path=target, status=error.status, error=error.message)
            return {"success": False, "error": error.message}
        found = {name: count_of(dig(data, where)) for name, where in self.counts.items()}
        ctx.log.info("scheduled.completed", path=target, **found)
        if found:
            await ctx.track_cleanup_metrics({self.gauge(name): n for name, n in found.items()})
        if self.counter:
            await ctx.increment_counter(self.counter)
        return {"success": True, **found}


_C = ScheduledCall
_AI = "ai_orchestration"
_INTERNAL_AI = "/api/v1/internal/ai"
_DEVOPS_MAINTENANCE = "/api/v1/internal/devops/maintenance"

#: Every one-call scheduled job (34 of the schedule's 49 classes), in schedule order.
SCHEDULED_CALLS: tuple[ScheduledCall, ...] = (
    _C("Devops::ApprovalExpiryJob", "default", "POST", "/api/v1/internal/devops/approval_tokens/expire_stale",
       retries=3, counts=counts("expired_count", "failed_steps_count"), swallow=True, takes="none"),
    _C("AiWorkflow::ApprovalExpiryJob", "default", "POST", "/api/v1/internal/ai_workflow_approvals/expire_stale",
       retries=3, counts=counts("expired_count", "failed_executions_count"), swallow=True, takes="none"),
    _C("Swarm::EventCleanupJob", "maintenance", "POST", "/api/v1/internal/devops/swarm/events", retries=2,
       body=CLEANUP_BODY, counts=counts("deleted_count"), swallow=True, takes="none"),
    _C("Docker::EventCleanupJob", "maintenance", "POST", "/api/v1/internal/devops/docker/events",
       body=CLEANUP_BODY, counts=counts("deleted_count"), takes="none"),
    _C("AiProviderModelSyncJob", "ai_workflow_health", "POST", "/api/v1/ai/providers/sync_all", retries=None,
       body={"force_refresh": True}, attempts=3,
       counts=counts("results.synced", "results.failed", "results.skipped"), takes="none"),
    _C("AiCompoundLearningMaintenanceJob", _AI, "POST", "/api/v1/ai/learning/compound_maintenance", attempts=2),
    _C("AiMemoryMaintenanceJob", _AI, "POST", "/api/v1/ai/learning/memory_maintenance", attempts=2),
    _C("AuthCleanupJob", "maintenance", "POST", "/api/v1/internal/maintenance/cleanup_auth_artifacts",
       retries=2, attempts=2),
    _C("ChatSessionCleanupJob", "maintenance", "POST", "/api/v1/chat/channels/cleanup_sessions", attempts=2),
    _C("AiTeamMessageCleanupJob", _AI, "POST", "/api/v1/ai/teams/cleanup_messages", attempts=2),
    _C("AiTrustDecayJob", _AI, "POST", "/api/v1/ai/autonomy/trust_scores/decay", attempts=2,
       counts={"decayed": ""}),
    _C("AiBudgetRolloverJob", _AI, "POST", "/api/v1/ai/autonomy/budgets/rollover_expired", retries=2,
       attempts=2, counts=counts("rolled_over", "failed")),
    _C("AiBudgetReconciliationJob", _AI, "GET", "/api/v1/ai/autonomy/budgets/reconcile", attempts=2,
       counts=counts("discrepancies", "checked")),
    _C("AiPricingSyncJob", _AI, "POST", "/api/v1/ai/autonomy/pricing/sync", attempts=2,
       counts=counts("synced", "failed", "errors")),
    _C("AiSkillLifecycleMaintenanceJob", _AI, "POST", "/api/v1/ai/skill_graph/maintenance/{operation}",
       attempts=2, takes="operation"),
    _C("AiKnowledgeGraphMaintenanceJob", _AI, "POST", "/api/v1/ai/learning/knowledge_graph_maintenance",
       attempts=2),
    _C("AiKnowledgeDocSyncJob", "maintenance", "POST", "/api/v1/ai/learning/knowledge_doc_sync", attempts=2),
    _C("AiTrajectoryAnalysisJob", _AI, "POST", f"{_INTERNAL_AI}/trajectory/analyze_all",
       counts=counts("accounts_processed")),
    _C("AiGoalMaintenanceJob", "maintenance", "POST", f"{_INTERNAL_AI}/goals/maintenance",
       counts=counts("goals_abandoned")),
    _C("AiObservationCleanupJob", "maintenance", "POST", f"{_INTERNAL_AI}/observations/cleanup",
       counts=counts("expired_deleted", "processed_deleted")),
    _C("AiEscalationTimeoutJob", _AI, "POST", f"{_INTERNAL_AI}/escalations/auto_escalate",
       counts=counts("escalated_count")),
    _C("AiProposalExpiryJob", "maintenance", "POST", f"{_INTERNAL_AI}/proposals/expire_overdue",
       counts=counts("expired_count")),
    _C("AiInterventionPolicyTuningJob", "maintenance", "POST",
       f"{_INTERNAL_AI}/intervention_policies/analyze_patterns", counts=counts("suggestions_count")),
    _C("Devops::ContainerInstanceReconciliationJob", "devops_default", "POST",
       f"{_DEVOPS_MAINTENANCE}/reconcile_instances", retries=2, dead=False,
       counts=counts("reconciled_count", "timed_out_count"),
       gauges={"reconciled_count": "reconciled_instances", "timed_out_count": "timed_out_instances"},
       counter="container_reconciliation_run", takes="none"),
    _C("Devops::PortAllocationCleanupJob", "devops_default", "POST", f"{_DEVOPS_MAINTENANCE}/cleanup_expired_ports",
       retries=2, dead=False, counts=counts("released_count"), gauges={"released_count": "released_ports"},
       counter="port_allocation_cleanup_run", takes="none"),
    _C("Devops::TemplateMaintenanceJob", "devops_default", "POST", f"{_DEVOPS_MAINTENANCE}/archive_stale_templates",
       dead=False, body={"stale_days": 90, "build_retention_days": 30, "builds_to_keep": 5},
       counts=counts("archived_count", "builds_cleaned"),
       gauges={"archived_count": "archived_templates", "builds_cleaned": "cleaned_builds"},
       counter="template_maintenance_run", takes="none"),
    _C("AiRalphLoopSchedulerJob", _AI, "POST", f"{_INTERNAL_AI}/ralph_loops/process_scheduled",
       counts=counts("loops_processed", "loops_skipped")),
    _C("AiStigmergicSignalDecayJob", _AI, "POST", f"{_INTERNAL_AI}/coordination/decay_signals", attempts=3,
       counts=counts("decayed"), takes="none"),
    _C("AiPressureFieldMeasurementJob", _AI, "POST", f"{_INTERNAL_AI}/coordination/measure_all_fields",
       attempts=3, counts=counts("measured"), takes="none"),
    _C("AiPressureFieldDecayJob", _AI, "POST", f"{_INTERNAL_AI}/coordination/decay_fields", attempts=3,
       counts=counts("decayed"), takes="none"),
    _C("AiSkillAutoEvolutionJob", _AI, "POST", f"{_INTERNAL_AI}/skills/auto_evolve", attempts=3,
       takes="params"),
    _C("AiSelfChallengeSchedulerJob", _AI, "POST", f"{_INTERNAL_AI}/self_challenges/schedule_daily",
       attempts=3, takes="params"),
    _C("AiGovernanceScanJob", _AI, "POST", f"{_INTERNAL_AI}/governance/scan_all", attempts=3, takes="params"),
    _C("AiCollusionDetectionJob", _AI, "POST", f"{_INTERNAL_AI}/governance/detect_collusion", attempts=3,
       takes="params"),
)  # fmt: skip


def _function(row: ScheduledCall) -> Callable[..., Awaitable[Summary]]:
    """The job function of a row, with the signature its argument style asks for (the base layer checks it)."""

    async def no_arguments(ctx: JobContext) -> Summary:
        return await row.run(ctx)

    async def any_arguments(ctx: JobContext, *args: Any, **kwargs: Any) -> Summary:
        return await row.run(ctx)

    async def params_body(ctx: JobContext, params: dict[str, Any] | None = None) -> Summary:
        return await row.run(ctx, body=params)

    async def operation_path(ctx: JobContext, operation: Operation = "daily") -> Summary:
        return await row.run(ctx, operation=operation)

    chosen: dict[ArgStyle, Callable[..., Awaitable[Summary]]] = {
        "none": no_arguments,
        "any": any_arguments,
        "params": params_body,
        "operation": operation_path,
    }
    fn = chosen[row.takes]
    fn.__name__ = fn.__qualname__ = row.name.replace("::", "_")
    return fn


for _row in SCHEDULED_CALLS:
    job(_row.name, queue=_row.queue, retries=_row.retries, dead=_row.dead)(_function(_row))
