"""The schedule, as data: every non-trading entry of the original worker's sidekiq-scheduler configuration.

Each `ScheduleEntry` names a cron expression (UTC unless `CRON_TIMEZONE` says otherwise), the job it enqueues,
the queue it enqueues on and the job's arguments. The original's `every: 'Nm'` entries (first fire N minutes after
process start) become clock-aligned `*/N` crons, so every worker agrees on the ticks.

Expressions are validated with croniter when this module is imported. `powerworker.scheduler` turns the entries
into arq cron jobs, claims each tick exactly once across all workers, and enqueues the job.
An expression may have a sixth field for seconds (croniter's order: `min hour dom month dow sec`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from croniter import croniter

__all__ = ["SCHEDULE", "ScheduleEntry", "every", "next_fire", "validate"]


@dataclass(frozen=True)
class ScheduleEntry:
    """One scheduled job.

    Attributes:
        name: the schedule's name (the original's sidekiq-scheduler key).
        cron: a 5-field cron expression, or 6 fields with seconds last.
        job: the registered job name it enqueues.
        queue: the logical queue it enqueues on (overrides the job's own, as the original did).
        args: positional arguments.
        kwargs: keyword arguments.
        description: what it is for, shown by `powerworker schedule`.
    """

    name: str
    cron: str
    job: str
    queue: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def has_seconds(self) -> bool:
        return len(self.cron.split()) == 6


def every(minutes: int) -> str:
    """The clock-aligned cron for the original's `every: '<minutes>m'`."""
    return f"*/{minutes} * * * *"


def next_fire(expression: str, after: datetime, count: int = 1) -> list[datetime]:
    """The next `count` fire times strictly after `after` (timezone-aware in, same zone out)."""
    if after.tzinfo is None:
        raise ValueError("next_fire needs a timezone-aware datetime")
    it = croniter(expression, after)
    return [it.get_next(datetime) for _ in range(count)]


def validate(entries: Iterable[ScheduleEntry]) -> tuple[ScheduleEntry, ...]:
    """Check every expression with croniter and that names are unique; returns the entries as a tuple."""
    entries = tuple(entries)
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise ValueError(f"schedule {entry.name!r} is defined twice")
        seen.add(entry.name)
        if not croniter.is_valid(entry.cron):
            raise ValueError(f"schedule {entry.name!r}: {entry.cron!r} is not a valid cron expression")
    return entries


_E = ScheduleEntry
#: Entries 1-52 of the original (original-worker §7); 53-67 (trading) are not part of this worker.
SCHEDULE: tuple[ScheduleEntry, ...] = validate(
    [
        _E(
            "devops_approval_expiry",
            "0 * * * *",
            "Devops::ApprovalExpiryJob",
            "default",
            description="Expire stale DevOps step approval tokens",
        ),
        _E(
            "ai_workflow_approval_expiry",
            "15 * * * *",
            "AiWorkflow::ApprovalExpiryJob",
            "default",
            description="Expire stale AI-workflow approval tokens",
        ),
        _E(
            "daily_database_backup",
            "0 2 * * *",
            "Maintenance::ScheduledBackupJob",
            "maintenance",
            kwargs={"backup_type": "full"},
            description="Daily full database backup",
        ),
        _E(
            "weekly_schema_backup",
            "0 3 * * 0",
            "Maintenance::ScheduledBackupJob",
            "maintenance",
            kwargs={"backup_type": "schema_only"},
            description="Weekly schema-only backup (Sunday)",
        ),
        _E(
            "backup_cleanup",
            "0 4 * * *",
            "Maintenance::BackupCleanupJob",
            "maintenance",
            description="Remove expired backups",
        ),
        _E(
            "account_termination_processing",
            "0 */6 * * *",
            "Compliance::AccountTerminationJob",
            "compliance",
            description="Terminations after the grace period",
        ),
        _E(
            "data_retention_enforcement",
            "0 2 * * *",
            "Compliance::DataRetentionEnforcementJob",
            "compliance",
            description="Enforce data-retention policies",
        ),
        _E(
            "swarm_cluster_sync",
            "* * * * *",
            "Swarm::ClusterSyncJob",
            "devops_default",
            description="Sync Swarm cluster state",
        ),
        _E(
            "swarm_health_check",
            every(5),
            "Swarm::HealthCheckJob",
            "devops_default",
            description="Swarm cluster health",
        ),
        _E(
            "swarm_event_cleanup",
            "0 5 * * *",
            "Swarm::EventCleanupJob",
            "maintenance",
            description="Purge acknowledged Swarm events",
        ),
        _E(
            "docker_host_sync",
            "*/5 * * * *",
            "Docker::HostSyncJob",
            "devops_default",
            description="Sync Docker hosts",
        ),
        _E(
            "git_runner_health_check",
            every(5),
            "Git::RunnerHealthCheckJob",
            "devops_default",
            description="Mark stale runners offline",
        ),
        _E(
            "docker_health_check",
            every(5),
            "Docker::HealthCheckJob",
            "devops_default",
            description="Docker host health",
        ),
        _E(
            "docker_event_cleanup",
            "15 5 * * *",
            "Docker::EventCleanupJob",
            "maintenance",
            description="Purge acknowledged Docker events",
        ),
        _E(
            "ai_provider_model_sync",
            "0 */6 * * *",
            "AiProviderModelSyncJob",
            "ai_workflow_health",
            description="Sync provider models and pricing",
        ),
        _E(
            "ai_provider_health_check",
            every(10),
            "AiProviderHealthCheckJob",
            "ai_workflow_health",
            description="Provider health and connectivity",
        ),
        _E(
            "ai_memory_pool_cleanup",
            "30 3 * * *",
            "AiMemoryPoolCleanupJob",
            "ai_orchestration",
            description="Expired memory pools",
        ),
        _E(
            "ai_compound_learning_maintenance",
            "45 3 * * *",
            "AiCompoundLearningMaintenanceJob",
            "ai_orchestration",
            description="Learning decay and promotion",
        ),
        _E(
            "ai_memory_maintenance",
            "0 4 * * *",
            "AiMemoryMaintenanceJob",
            "ai_orchestration",
            description="Memory consolidation, decay and rot",
        ),
        _E(
            "auth_artifact_cleanup",
            "0 3 * * *",
            "AuthCleanupJob",
            "maintenance",
            description="Stale MCP sessions, tokens, orphaned agents",
        ),
        _E(
            "chat_session_cleanup",
            "0 */6 * * *",
            "ChatSessionCleanupJob",
            "maintenance",
            description="Idle and close stale chat sessions",
        ),
        _E(
            "ai_team_message_cleanup",
            "0 4 * * *",
            "AiTeamMessageCleanupJob",
            "ai_orchestration",
            description="Old team messages",
        ),
        _E(
            "ai_trust_decay",
            "0 2 * * *",
            "AiTrustDecayJob",
            "ai_orchestration",
            description="Trust-score decay",
        ),
        _E(
            "ai_budget_rollover",
            "0 * * * *",
            "AiBudgetRolloverJob",
            "ai_orchestration",
            description="Roll expired budgets",
        ),
        _E(
            "ai_budget_reconciliation",
            "0 4 * * *",
            "AiBudgetReconciliationJob",
            "ai_orchestration",
            description="Ledger vs spent reconciliation",
        ),
        _E(
            "ai_pricing_sync",
            "0 1 * * *",
            "AiPricingSyncJob",
            "ai_orchestration",
            description="LiteLLM pricing sync",
        ),
        _E(
            "ai_skill_lifecycle_daily",
            "15 4 * * *",
            "AiSkillLifecycleMaintenanceJob",
            "ai_orchestration",
            args=("daily",),
            description="Conflict scan, auto-resolve, stale decay",
        ),
        _E(
            "ai_skill_lifecycle_weekly",
            "0 5 * * 0",
            "AiSkillLifecycleMaintenanceJob",
            "ai_orchestration",
            args=("weekly",),
            description="Prompt refinements, gap detection",
        ),
        _E(
            "ai_skill_lifecycle_monthly",
            "0 3 1 * *",
            "AiSkillLifecycleMaintenanceJob",
            "ai_orchestration",
            args=("monthly",),
            description="Re-embed, health report",
        ),
        _E(
            "ai_shared_knowledge_maintenance",
            "30 4 * * *",
            "AiSharedKnowledgeMaintenanceJob",
            "ai_orchestration",
            description="Import learnings, quality scores",
        ),
        _E(
            "ai_knowledge_graph_maintenance",
            "45 4 * * *",
            "AiKnowledgeGraphMaintenanceJob",
            "ai_orchestration",
            description="Graph confidence decay",
        ),
        _E(
            "ai_knowledge_doc_sync",
            "30 5 * * *",
            "AiKnowledgeDocSyncJob",
            "maintenance",
            description="Knowledge to markdown docs",
        ),
        _E(
            "ai_self_healing_monitor",
            every(5),
            "AiSelfHealingMonitorJob",
            "ai_orchestration",
            description="Stuck, degraded and orphaned remediation",
        ),
        _E(
            "ai_trajectory_analysis",
            "0 5 * * *",
            "AiTrajectoryAnalysisJob",
            "ai_orchestration",
            description="Trajectory recommendations",
        ),
        _E(
            "ai_observation_pipeline",
            every(10),
            "AiObservationPipelineJob",
            "ai_orchestration",
            description="Observation sensors",
        ),
        _E(
            "ai_goal_maintenance",
            "30 4 * * *",
            "AiGoalMaintenanceJob",
            "maintenance",
            description="Abandon goals idle 30+ days",
        ),
        _E(
            "ai_observation_cleanup",
            "45 4 * * *",
            "AiObservationCleanupJob",
            "maintenance",
            description="Delete expired observations",
        ),
        _E(
            "ai_escalation_timeout",
            every(15),
            "AiEscalationTimeoutJob",
            "ai_orchestration",
            description="Auto-escalate overdue escalations",
        ),
        _E(
            "ai_proposal_expiry",
            "0 * * * *",
            "AiProposalExpiryJob",
            "maintenance",
            description="Expire overdue proposals",
        ),
        _E(
            "ai_intervention_policy_tuning",
            "0 6 * * 0",
            "AiInterventionPolicyTuningJob",
            "maintenance",
            description="Policy tuning (Sunday)",
        ),
        _E(
            "container_instance_reconciliation",
            "*/5 * * * *",
            "Devops::ContainerInstanceReconciliationJob",
            "devops_default",
            description="Reconcile container instances",
        ),
        _E(
            "port_allocation_cleanup",
            "*/10 * * * *",
            "Devops::PortAllocationCleanupJob",
            "devops_default",
            description="Release expired ports",
        ),
        _E(
            "integration_health_check",
            "*/15 * * * *",
            "Integrations::IntegrationHealthCheckJob",
            "integrations",
            description="Integration health, auto-pause",
        ),
        _E(
            "template_maintenance",
            "0 3 * * 0",
            "Devops::TemplateMaintenanceJob",
            "devops_default",
            description="Archive stale templates (Sunday)",
        ),
        _E(
            "ai_ralph_loop_scheduler",
            "* * * * *",
            "AiRalphLoopSchedulerJob",
            "ai_orchestration",
            description="Due ralph loops",
        ),
        _E(
            "ai_stigmergic_signal_decay",
            "*/30 * * * *",
            "AiStigmergicSignalDecayJob",
            "ai_orchestration",
            description="Signal decay",
        ),
        _E(
            "ai_pressure_field_measurement",
            "*/15 * * * *",
            "AiPressureFieldMeasurementJob",
            "ai_orchestration",
            description="Re-measure pressure fields",
        ),
        _E(
            "ai_pressure_field_decay",
            "0 * * * *",
            "AiPressureFieldDecayJob",
            "ai_orchestration",
            description="Pressure decay",
        ),
        _E(
            "ai_skill_auto_evolution",
            "0 5 * * 1",
            "AiSkillAutoEvolutionJob",
            "ai_orchestration",
            description="Mutate weak skills (Monday)",
        ),
        _E(
            "ai_self_challenge_scheduler",
            "0 6 * * *",
            "AiSelfChallengeSchedulerJob",
            "ai_orchestration",
            description="Daily self-challenges",
        ),
        _E(
            "ai_governance_scan",
            "0 */6 * * *",
            "AiGovernanceScanJob",
            "ai_orchestration",
            description="Governance scan",
        ),
        _E(
            "ai_collusion_detection",
            "0 3 * * 0",
            "AiCollusionDetectionJob",
            "ai_orchestration",
            description="Collusion detection (Sunday)",
        ),
    ]
)
