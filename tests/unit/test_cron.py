"""The schedule as data: every entry's next fire time, and arq's translation of each expression."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from arq.cron import next_cron

from powerworker.cron import SCHEDULE, ScheduleEntry, every, next_fire, validate
from powerworker.scheduler import to_arq_fields

# 2026-02-28 23:59 UTC is a Saturday at a month's end; 2026-03-01 is a Sunday, 2026-03-02 a Monday.
R = datetime(2026, 2, 28, 23, 59, tzinfo=UTC)
MAR1 = datetime(2026, 3, 1, tzinfo=UTC)

FIRST_FIRE_AFTER_R = {
    "devops_approval_expiry": MAR1,
    "ai_workflow_approval_expiry": MAR1.replace(minute=15),
    "daily_database_backup": MAR1.replace(hour=2),
    "weekly_schema_backup": MAR1.replace(hour=3),  # Sunday
    "backup_cleanup": MAR1.replace(hour=4),
    "account_termination_processing": MAR1,
    "data_retention_enforcement": MAR1.replace(hour=2),
    "swarm_cluster_sync": MAR1,
    "swarm_health_check": MAR1,
    "swarm_event_cleanup": MAR1.replace(hour=5),
    "docker_host_sync": MAR1,
    "git_runner_health_check": MAR1,
    "docker_health_check": MAR1,
    "docker_event_cleanup": MAR1.replace(hour=5, minute=15),
    "ai_provider_model_sync": MAR1,
    "ai_provider_health_check": MAR1,
    "ai_memory_pool_cleanup": MAR1.replace(hour=3, minute=30),
    "ai_compound_learning_maintenance": MAR1.replace(hour=3, minute=45),
    "ai_memory_maintenance": MAR1.replace(hour=4),
    "auth_artifact_cleanup": MAR1.replace(hour=3),
    "chat_session_cleanup": MAR1,
    "ai_team_message_cleanup": MAR1.replace(hour=4),
    "ai_trust_decay": MAR1.replace(hour=2),
    "ai_budget_rollover": MAR1,
    "ai_budget_reconciliation": MAR1.replace(hour=4),
    "ai_pricing_sync": MAR1.replace(hour=1),
    "ai_skill_lifecycle_daily": MAR1.replace(hour=4, minute=15),
    "ai_skill_lifecycle_weekly": MAR1.replace(hour=5),  # Sunday
    "ai_skill_lifecycle_monthly": MAR1.replace(hour=3),  # the 1st
    "ai_shared_knowledge_maintenance": MAR1.replace(hour=4, minute=30),
    "ai_knowledge_graph_maintenance": MAR1.replace(hour=4, minute=45),
    "ai_knowledge_doc_sync": MAR1.replace(hour=5, minute=30),
    "ai_self_healing_monitor": MAR1,
    "ai_trajectory_analysis": MAR1.replace(hour=5),
    "ai_observation_pipeline": MAR1,
    "ai_goal_maintenance": MAR1.replace(hour=4, minute=30),
    "ai_observation_cleanup": MAR1.replace(hour=4, minute=45),
    "ai_escalation_timeout": MAR1,
    "ai_proposal_expiry": MAR1,
    "ai_intervention_policy_tuning": MAR1.replace(hour=6),  # Sunday
    "container_instance_reconciliation": MAR1,
    "port_allocation_cleanup": MAR1,
    "integration_health_check": MAR1,
    "template_maintenance": MAR1.replace(hour=3),  # Sunday
    "ai_ralph_loop_scheduler": MAR1,
    "ai_stigmergic_signal_decay": MAR1,
    "ai_pressure_field_measurement": MAR1,
    "ai_pressure_field_decay": MAR1,
    "ai_skill_auto_evolution": datetime(2026, 3, 2, 5, tzinfo=UTC),  # Monday
    "ai_self_challenge_scheduler": MAR1.replace(hour=6),
    "ai_governance_scan": MAR1,
    "ai_collusion_detection": MAR1.replace(hour=3),  # Sunday
}


def test_every_entry_is_in_the_table() -> None:
    """52 entries (the original's 1-52), 49 job classes, each with an expected first fire."""
    assert len(SCHEDULE) == 52
    assert len({e.job for e in SCHEDULE}) == 49
    assert {e.name for e in SCHEDULE} == set(FIRST_FIRE_AFTER_R)


@pytest.mark.parametrize("entry", SCHEDULE, ids=lambda e: e.name)
def test_first_fire_after_a_month_end(entry: ScheduleEntry) -> None:
    """From Saturday 2026-02-28 23:59 UTC each entry next fires when the table says."""
    assert next_fire(entry.cron, R)[0] == FIRST_FIRE_AFTER_R[entry.name]


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "0 3 * * 0",
            datetime(2026, 4, 30, 12, tzinfo=UTC),
            datetime(2026, 5, 3, 3, tzinfo=UTC),
        ),  # Sunday as 0
        (
            "0 3 * * 7",
            datetime(2026, 4, 30, 12, tzinfo=UTC),
            datetime(2026, 5, 3, 3, tzinfo=UTC),
        ),  # Sunday as 7
        ("0 3 1 * *", datetime(2026, 4, 30, 12, tzinfo=UTC), datetime(2026, 5, 1, 3, tzinfo=UTC)),
        ("0 3 L * *", datetime(2026, 4, 30, 12, tzinfo=UTC), datetime(2026, 5, 31, 3, tzinfo=UTC)),
        ("0 3 L * *", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 2, 29, 3, tzinfo=UTC)),  # leap year
        ("0 5 * * 1", datetime(2026, 4, 30, 12, tzinfo=UTC), datetime(2026, 5, 4, 5, tzinfo=UTC)),
        ("*/10 * * * *", datetime(2026, 12, 31, 23, 55, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (
            "0 */6 * * *",
            datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
            datetime(2026, 3, 29, 6, tzinfo=UTC),
        ),  # EU DST day
        ("0 0 * * mon#2", datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 11, tzinfo=UTC)),
    ],
)
def test_next_fire_table(expression: str, after: datetime, expected: datetime) -> None:
    """Month ends, leap days, Sunday as 0 and 7, year ends and UTC's DST-free days."""
    assert next_fire(expression, after)[0] == expected


def test_every_minutes_is_clock_aligned() -> None:
    """The original's `every: 5m` becomes */5, aligned to the clock on every worker."""
    assert every(5) == "*/5 * * * *"
    assert [t.minute for t in next_fire(every(15), datetime(2026, 1, 1, 0, 1, tzinfo=UTC), 3)] == [15, 30, 45]


def test_naive_datetime_refused() -> None:
    """next_fire needs an explicit time zone."""
    with pytest.raises(ValueError, match="timezone"):
        next_fire("* * * * *", datetime(2026, 1, 1))


def test_validate_rejects_bad_and_duplicate_entries() -> None:
    """A bad expression or a repeated name is caught at import."""
    with pytest.raises(ValueError, match="not a valid cron"):
        validate([ScheduleEntry("x", "61 * * * *", "J", "default")])
    with pytest.raises(ValueError, match="twice"):
        validate([ScheduleEntry("x", "* * * * *", "J", "default")] * 2)


def _arq_fires(expression: str, start: datetime, count: int) -> list[datetime]:
    f = to_arq_fields(expression)
    out, dt = [], start
    while len(out) < count:
        dt = next_cron(
            dt,
            second=f.second,
            minute=f.minute,
            hour=f.hour,
            day=f.day,
            month=f.month,
            weekday=f.weekday,
            microsecond=0,
        )
        out.append(dt)
    return out


@pytest.mark.parametrize(
    "entry", [e for e in SCHEDULE if "*/5" not in e.cron and e.cron != "* * * * *"], ids=lambda e: e.name
)
def test_arq_translation_fires_exactly_when_croniter_does(entry: ScheduleEntry) -> None:
    """For each entry, arq's cron computed from the translation gives croniter's next 30 fire times."""
    assert to_arq_fields(entry.cron).exact
    assert _arq_fires(entry.cron, R, 12) == next_fire(entry.cron, R, 12)


@pytest.mark.parametrize("expression", ["* * * * *", "*/5 * * * *", "*/15 * * * *"])
def test_arq_translation_frequent(expression: str) -> None:
    """Frequent expressions agree over a day (checked over fewer points to stay fast)."""
    assert _arq_fires(expression, R, 120) == next_fire(expression, R, 120)


@pytest.mark.parametrize("expression", ["0 3 L * *", "0 3 1 * mon", "0 0 * * mon#2", "0 12 15W * *"])
def test_inexact_expressions_fire_on_a_superset(expression: str) -> None:
    """Where arq cannot express an expression, its fire times include every croniter fire time."""
    assert not to_arq_fields(expression).exact
    start = datetime(2026, 1, 1, tzinfo=UTC)
    arq_times = set(_arq_fires(expression, start, 200))
    horizon = max(arq_times) - timedelta(days=1)
    expected = {t for t in next_fire(expression, start, 12) if t < horizon}
    assert expected
    assert expected <= arq_times
