"""The multi-call AI jobs: provider health, memory pools, shared knowledge, self-healing and observations."""

from __future__ import annotations

from typing import Any

import pytest

from powerworker.jobs.ai_provider_health import grade, overall_status
from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock, RecordedRequest, Reply
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job

PROVIDERS = "/api/v1/ai/providers"
INTERNAL_AI = "/api/v1/internal/ai"


async def test_provider_health_report(worker: WorkerHarness, backend: FakeBackend, clock: FakeClock) -> None:
    """Active providers are tested and graded, disabled ones counted; the report is stored, alerted and broadcast."""
    backend.route(
        "GET",
        PROVIDERS,
        data=[
            {"id": "p1", "name": "openai", "is_active": True},
            {"id": "p2", "name": "anthropic", "is_active": True},
            {"id": "p3", "name": "ollama", "status": "disabled"},
        ],
    )
    backend.route("POST", f"{PROVIDERS}/p1/test_connection", data={"success": True, "capabilities": ["chat"]})
    backend.route("POST", f"{PROVIDERS}/p2/test_connection", status=500, body={"success": False})
    backend.fail(404, path="/api/v1/internal/ai/provider_health_metrics")  # no such route yet: logged only
    _, result = await run_job(worker, "AiProviderHealthCheckJob")
    assert result is not None and result.success
    report = result.result
    now = iso(clock.time())
    assert report["summary"] == {"total": 3, "healthy": 1, "degraded": 0, "unhealthy": 1, "disabled": 1}
    assert report["overall_status"] == "critical"
    assert report["providers"]["openai"]["status"] == "healthy"
    assert report["providers"]["openai"]["capabilities"] == ["chat"]
    assert report["providers"]["anthropic"] == {
        "id": "p2",
        "checked_at": now,
        "status": "unhealthy",
        "error": "Backend server error",
        "response_time_ms": None,
    }
    assert report["providers"]["ollama"]["status"] == "disabled"
    [listing] = backend.requests_to("GET", PROVIDERS)
    assert listing.query == {"include_disabled": "true"}
    assert backend.requests_to("POST", f"{PROVIDERS}/p1/test_connection")[0].json == {
        "timeout": 15,
        "test_type": "basic",
    }
    alerts = [r.json for r in backend.requests_to("POST", "/api/v1/admin/system_alerts")]
    assert [(a["severity"], a["title"]) for a in alerts] == [
        ("warning", "AI Provider Unhealthy: anthropic"),
        ("critical", "Critical: Multiple AI Providers Unhealthy"),
    ]
    assert alerts[1]["metadata"]["unhealthy_providers"] == ["anthropic"]
    [broadcast] = backend.requests_to("POST", "/api/v1/ai/autonomy/broadcast")
    assert broadcast.json == {"broadcast_type": "provider_health", "data": report}


async def test_provider_health_never_fails(worker: WorkerHarness, backend: FakeBackend) -> None:
    """With every call failing the job still succeeds, with an empty healthy report."""
    backend.fail(503)
    _, result = await run_job(worker, "AiProviderHealthCheckJob")
    assert result is not None and result.success
    assert result.result["summary"]["total"] == 0
    assert result.result["overall_status"] == "healthy"


@pytest.mark.parametrize(
    ("reply", "elapsed_ms", "status"),
    [
        ({"success": True}, 10, "healthy"),
        ({"healthy": True}, 6_000, "degraded"),
        ({"success": True}, 10_000, "unhealthy"),
        ({"success": True, "error_rate": 7}, 10, "degraded"),
        ({"success": True, "error_rate": 11}, 10, "unhealthy"),
        ({"success": True, "consecutive_failures": 3}, 10, "unhealthy"),
        ({"success": False, "error": "quota"}, 10, "unhealthy"),
    ],
)
def test_grading(reply: dict[str, Any], elapsed_ms: int, status: str) -> None:
    """Response time, error rate, consecutive failures and the test's verdict grade a provider."""
    assert grade(reply, elapsed_ms)[0] == status


@pytest.mark.parametrize(
    ("healthy", "degraded", "unhealthy", "disabled", "status"),
    [
        (4, 0, 0, 0, "healthy"),
        (3, 1, 0, 0, "warning"),
        (2, 2, 0, 0, "degraded"),
        (3, 0, 1, 0, "degraded"),
        (2, 0, 2, 0, "critical"),
        (0, 0, 0, 2, "healthy"),
    ],
)
def test_overall_status(healthy: int, degraded: int, unhealthy: int, disabled: int, status: str) -> None:
    """Half the active providers unhealthy is critical; any unhealthy or half degraded is degraded; any degraded a warning."""
    total = healthy + degraded + unhealthy + disabled
    summary = {
        "total": total,
        "healthy": healthy,
        "degraded": degraded,
        "unhealthy": unhealthy,
        "disabled": disabled,
    }
    assert overall_status(summary) == status


async def test_memory_pool_cleanup(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Expired pools are deleted one by one; a failed delete is skipped; the totals are reported to the server."""
    backend.route(
        "GET",
        f"{INTERNAL_AI}/memory_pools/expired",
        data=[
            {"id": "m1", "data_size_bytes": 100},
            {"id": "m2", "data_size_bytes": 50},
            {"id": "m3", "data_size_bytes": 7},
        ],
    )
    backend.route(
        "DELETE", f"{INTERNAL_AI}/memory_pools/m2", status=404, body={"success": False, "error": "gone"}
    )
    _, result = await run_job(worker, "AiMemoryPoolCleanupJob", [{"ignored": True}])
    assert result is not None and result.result == {"pools_cleaned": 2, "bytes_freed": 107}
    [report] = backend.requests_to("POST", f"{INTERNAL_AI}/memory_pools/cleanup_results")
    assert report.json == {"pools_cleaned": 2, "bytes_freed": 107}


async def test_shared_knowledge_maintenance(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Maintenance runs, then the stats are read with per_page=1; a stats failure is only a warning."""
    backend.route(
        "GET",
        "/api/v1/ai/memory/shared_knowledge",
        data={"entries": [], "stats": {"total": 12, "avg_quality_score": 0.8}},
    )
    _, result = await run_job(worker, "AiSharedKnowledgeMaintenanceJob")
    assert result is not None and result.result == {
        "success": True,
        "total_entries": 12,
        "avg_quality_score": 0.8,
    }
    assert [(r.method, r.path) for r in backend.requests] == [
        ("POST", "/api/v1/ai/memory/shared_maintenance"),
        ("GET", "/api/v1/ai/memory/shared_knowledge"),
    ]
    assert backend.requests[1].query == {"per_page": "1"}
    backend.fail(404, path="/api/v1/ai/memory/shared_knowledge")
    _, result = await run_job(worker, "AiSharedKnowledgeMaintenanceJob")
    assert result is not None and result.result == {
        "success": True,
        "total_entries": None,
        "avg_quality_score": None,
    }


async def test_shared_knowledge_maintenance_failure_propagates(
    worker: WorkerHarness, backend: FakeBackend
) -> None:
    """The maintenance POST gets two in-process attempts, then fails the try (retried after 30 s)."""
    backend.fail(503, path="/api/v1/ai/memory/shared_maintenance")
    job_id, result = await run_job(worker, "AiSharedKnowledgeMaintenanceJob")
    assert result is None
    assert len(backend.requests) == 2
    assert round(delay_s(await worker.score(job_id))) == 30


async def test_self_healing_checks_are_independent(worker: WorkerHarness, backend: FakeBackend) -> None:
    """All four checks run even when one fails; each count is returned, the failed one as None."""
    backend.route("POST", f"{INTERNAL_AI}/self_healing/check_stuck_workflows", data={"count": 2})
    backend.fail(500, path=f"{INTERNAL_AI}/self_healing/check_degraded_providers")
    backend.route("POST", f"{INTERNAL_AI}/self_healing/check_anomalies", data={"count": 1, "anomalies": []})
    _, result = await run_job(worker, "AiSelfHealingMonitorJob")
    assert result is not None and result.result == {
        "stuck_workflows": 2,
        "degraded_providers": None,
        "orphaned_executions": 0,
        "anomalies": 1,
    }
    assert [r.path.rsplit("/", 1)[1] for r in backend.requests] == [
        "check_stuck_workflows",
        "check_degraded_providers",
        "check_orphaned_executions",
        "check_anomalies",
    ]
    assert all(r.body == b"" for r in backend.requests)


def serve_observations(backend: FakeBackend) -> None:
    def run(request: RecordedRequest) -> Any:
        account = request.json["account_id"]
        return {"agents_processed": 2, "observations_created": 5 if account == "a1" else 1}

    backend.route("GET", f"{INTERNAL_AI}/observation_pipeline/accounts", data=["a1", "a2", "a3"])
    backend.route("POST", f"{INTERNAL_AI}/observation_pipeline/run", handler=run)


async def test_observation_pipeline_runs_every_account(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Without an account every listed account runs; a failing one is skipped and counted."""
    serve_observations(backend)
    calls = 0

    def flaky(request: RecordedRequest) -> Any:
        nonlocal calls
        calls += 1
        if request.json["account_id"] == "a2":
            return Reply(422, {"success": False, "error": "Account suspended"})
        return {"agents_processed": 2, "observations_created": 5}

    backend.route("POST", f"{INTERNAL_AI}/observation_pipeline/run", handler=flaky)
    _, result = await run_job(worker, "AiObservationPipelineJob")
    assert result is not None and result.result == {
        "accounts": 3,
        "failed": 1,
        "agents_processed": 4,
        "observations_created": 10,
    }
    assert calls == 3


async def test_observation_pipeline_single_account(worker: WorkerHarness, backend: FakeBackend) -> None:
    """With `{"account_id": ...}` only that account runs, and its error would propagate."""
    serve_observations(backend)
    _, result = await run_job(worker, "AiObservationPipelineJob", [{"account_id": "a1"}])
    assert result is not None and result.result == {"agents_processed": 2, "observations_created": 5}
    assert [(r.method, r.json) for r in backend.requests] == [("POST", {"account_id": "a1"})]
    backend.fail(503, path=f"{INTERNAL_AI}/observation_pipeline/run")
    job_id, result = await run_job(worker, "AiObservationPipelineJob", [{"account_id": "a2"}])
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30
