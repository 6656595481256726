"""The integration health check: paging, health metrics, consecutive failures and the auto-pause."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from powerworker import keys
from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock, RecordedRequest, Reply
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job

INSTANCES = "/api/v1/devops/integration_instances"


def serve_instances(backend: FakeBackend, instances: dict[str, dict[str, Any]], per_page: int = 2) -> None:
    """Page through `instances` (id -> instance) and answer each instance's read and connection test.

    An instance's `test` is the `data.result` its test gives ("error" makes the test request fail).
    """
    ids = list(instances)
    pages = (len(ids) + per_page - 1) // per_page

    def page(request: RecordedRequest) -> Any:
        number = int(request.query["page"])
        chunk = ids[(number - 1) * per_page : number * per_page]
        return {
            "instances": [{"id": i} for i in chunk],
            "pagination": {"current_page": number, "total_pages": pages},
        }

    backend.route("GET", INSTANCES, handler=page)
    for instance_id, instance in instances.items():
        view = {k: v for k, v in instance.items() if k != "test"}
        backend.route("GET", f"{INSTANCES}/{instance_id}", data={"instance": view})
        test = instance.get("test")
        if test == "error":
            backend.route(
                "POST", f"{INSTANCES}/{instance_id}/test", handler=lambda _: Reply(500, {"success": False})
            )
        else:
            backend.route("POST", f"{INSTANCES}/{instance_id}/test", data={"result": test})


def instance(status: str = "active", failures: int | None = None, test: Any = None) -> dict[str, Any]:
    metrics = {} if failures is None else {"consecutive_failures": failures}
    return {
        "status": status,
        "integration_template": {"integration_type": "github"},
        "health_metrics": metrics,
        "test": test if test is not None else {"success": True, "message": "ok", "response_time_ms": 42},
    }


async def test_all_instances_are_checked_page_by_page(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock, redis: Redis
) -> None:
    """Every page is read; healthy, failing and inactive instances are counted; the third failure pauses one."""
    serve_instances(
        backend,
        {
            "ok": instance(),
            "flaky": instance(
                failures=0, test={"success": False, "error": "401 from GitHub", "response_time_ms": 90}
            ),
            "dying": instance(failures=2, test="error"),
            "paused": instance(status="inactive"),
            "ok2": instance(),
        },
    )
    _, result = await run_job(worker, "Integrations::IntegrationHealthCheckJob")
    assert result is not None and result.result == {"checked": 4, "healthy": 2, "unhealthy": 2}
    pages = [r.query for r in backend.requests_to("GET", INSTANCES)]
    assert pages == [{"status": "active", "page": str(n), "per_page": "50"} for n in (1, 2, 3)]
    now = iso(clock.time())
    patches = [r.json for r in backend.requests_to("PATCH", f"{INSTANCES}/flaky")]
    assert patches == [
        {"instance": {"health_metrics": {"last_health_check": now, "health_status": "unhealthy", "last_error": "401 from GitHub", "response_time_ms": 90}}},
        {"instance": {"health_metrics": {"consecutive_failures": 1, "last_failure_at": now}}},
    ]  # fmt: skip
    assert backend.requests_to("POST", f"{INSTANCES}/flaky/deactivate") == []
    assert len(backend.requests_to("POST", f"{INSTANCES}/dying/deactivate")) == 1
    assert backend.requests_to("POST", f"{INSTANCES}/paused/test") == []
    point = json.loads(await redis.lindex(keys.job_metrics("integration_auto_paused"), 0))
    assert (point["type"], point["tags"]) == ("counter", {"instance_id": "dying"})


async def test_single_instance_returns_its_result(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Given an instance id, only that instance is checked and its health result returned."""
    serve_instances(backend, {"i1": instance(failures=2, test={"success": False, "error": "timeout"})})
    _, result = await run_job(worker, "Integrations::IntegrationHealthCheckJob", ["i1"])
    assert result is not None and result.result == {
        "instance_id": "i1",
        "integration_type": "github",
        "healthy": False,
        "message": None,
        "error": "timeout",
        "response_time_ms": None,
        "consecutive_failures": 3,
        "auto_paused": True,
    }
    assert backend.requests_to("GET", INSTANCES) == []


async def test_a_failing_instance_does_not_stop_the_run(worker: WorkerHarness, backend: FakeBackend) -> None:
    """An instance whose read fails is logged and skipped; a failed health write is only logged."""
    serve_instances(backend, {"gone": instance(), "ok": instance()})
    backend.route("GET", f"{INSTANCES}/gone", status=404, body={"success": False, "error": "Not found"})
    backend.route("PATCH", f"{INSTANCES}/ok", status=403, body={"success": False, "error": "Forbidden"})
    _, result = await run_job(worker, "Integrations::IntegrationHealthCheckJob")
    assert result is not None and result.result == {"checked": 1, "healthy": 1, "unhealthy": 0}


async def test_page_failure_is_retried_then_discarded(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A failing page request fails the try; after three retries the job is discarded, not dead-set."""
    backend.fail(503, path=INSTANCES)
    job_id, result = await run_job(worker, "Integrations::IntegrationHealthCheckJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30
    for _ in range(3):
        await worker.make_due(job_id)
        await worker.drain()
    assert await worker.score(job_id) is None
    assert await worker.runtime.dead.get(job_id) is None
    assert not (await worker.result(job_id)).success
