"""Every schedule entry names a registered job with the original's queue, retries and dead flag."""

from __future__ import annotations

import pytest

from powerworker.cron import SCHEDULE, ScheduleEntry
from powerworker.jobs import load_jobs

#: From job-inventory §1: class -> (queue, retries, dead). Retries None is the inherited default ("3*").
INVENTORY: dict[str, tuple[str, int | None, bool]] = {
    "Devops::ApprovalExpiryJob": ("default", 3, True),
    "AiWorkflow::ApprovalExpiryJob": ("default", 3, True),
    "Maintenance::ScheduledBackupJob": ("maintenance", 3, True),
    "Maintenance::BackupCleanupJob": ("maintenance", 2, True),
    "Compliance::AccountTerminationJob": ("compliance", 3, True),
    "Compliance::DataRetentionEnforcementJob": ("compliance", None, True),
    "Swarm::ClusterSyncJob": ("devops_default", 2, True),
    "Swarm::HealthCheckJob": ("devops_default", 2, True),
    "Swarm::EventCleanupJob": ("maintenance", 2, True),
    "Docker::HostSyncJob": ("devops_default", 2, True),
    "Git::RunnerHealthCheckJob": ("devops_default", 2, True),
    "Docker::HealthCheckJob": ("devops_default", 2, True),
    "Docker::EventCleanupJob": ("maintenance", 1, True),
    "AiProviderModelSyncJob": ("ai_workflow_health", None, True),
    "AiProviderHealthCheckJob": ("ai_workflow_health", None, True),
    "AiMemoryPoolCleanupJob": ("ai_orchestration", 1, True),
    "AiCompoundLearningMaintenanceJob": ("ai_orchestration", 1, True),
    "AiMemoryMaintenanceJob": ("ai_orchestration", 1, True),
    "AuthCleanupJob": ("maintenance", 2, True),
    "ChatSessionCleanupJob": ("maintenance", 1, True),
    "AiTeamMessageCleanupJob": ("ai_orchestration", 1, True),
    "AiTrustDecayJob": ("ai_orchestration", 1, True),
    "AiBudgetRolloverJob": ("ai_orchestration", 2, True),
    "AiBudgetReconciliationJob": ("ai_orchestration", 1, True),
    "AiPricingSyncJob": ("ai_orchestration", 1, True),
    "AiSkillLifecycleMaintenanceJob": ("ai_orchestration", 1, True),
    "AiSharedKnowledgeMaintenanceJob": ("ai_orchestration", 1, True),
    "AiKnowledgeGraphMaintenanceJob": ("ai_orchestration", 1, True),
    "AiKnowledgeDocSyncJob": ("maintenance", 1, True),
    "AiSelfHealingMonitorJob": ("ai_orchestration", 1, True),
    "AiTrajectoryAnalysisJob": ("ai_orchestration", 1, True),
    "AiObservationPipelineJob": ("ai_orchestration", 1, True),
    "AiGoalMaintenanceJob": ("maintenance", 1, True),
    "AiObservationCleanupJob": ("maintenance", 1, True),
    "AiEscalationTimeoutJob": ("ai_orchestration", 1, True),
    "AiProposalExpiryJob": ("maintenance", 1, True),
    "AiInterventionPolicyTuningJob": ("maintenance", 1, True),
    "Devops::ContainerInstanceReconciliationJob": ("devops_default", 2, False),
    "Devops::PortAllocationCleanupJob": ("devops_default", 2, False),
    "Integrations::IntegrationHealthCheckJob": ("integrations", 3, False),
    "Devops::TemplateMaintenanceJob": ("devops_default", 1, False),
    "AiRalphLoopSchedulerJob": ("ai_orchestration", 1, True),
    "AiStigmergicSignalDecayJob": ("ai_orchestration", 1, True),
    "AiPressureFieldMeasurementJob": ("ai_orchestration", 1, True),
    "AiPressureFieldDecayJob": ("ai_orchestration", 1, True),
    "AiSkillAutoEvolutionJob": ("ai_orchestration", 1, True),
    "AiSelfChallengeSchedulerJob": ("ai_orchestration", 1, True),
    "AiGovernanceScanJob": ("ai_orchestration", 1, True),
    "AiCollusionDetectionJob": ("ai_orchestration", 1, True),
}


def test_inventory_covers_the_schedule() -> None:
    """The 52 entries name exactly the inventory's 49 classes."""
    assert len(SCHEDULE) == 52
    assert {entry.job for entry in SCHEDULE} == set(INVENTORY)
    assert len(INVENTORY) == 49


@pytest.mark.parametrize("entry", SCHEDULE, ids=lambda entry: entry.name)
def test_entry_names_a_job_as_the_original_declared_it(entry: ScheduleEntry) -> None:
    """The entry's job is registered with the inventory's queue, retries and dead flag, on the entry's queue."""
    spec = load_jobs()[entry.job]
    queue, retries, dead = INVENTORY[entry.job]
    assert (spec.queue, spec.retries, spec.dead) == (queue, retries, dead)
    assert spec.retries_allowed(3) == (3 if retries is None else retries)
    assert entry.queue == queue


@pytest.mark.parametrize("entry", SCHEDULE, ids=lambda entry: entry.name)
def test_entry_arguments_bind(entry: ScheduleEntry) -> None:
    """The arguments each entry enqueues with fit the job's signature."""
    spec = load_jobs()[entry.job]
    spec.binder.bind(entry.args, entry.kwargs)
