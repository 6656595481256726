"""The one-call scheduled jobs, driven row by row from their table against the fake backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from powerworker import keys
from powerworker.jobs.scheduled import SCHEDULED_CALLS, ScheduledCall
from powerworker.resilience.http_retry import IDEMPOTENT_METHODS, RetryPolicy
from powerworker.resilience.retry import API_BACKOFF_S
from powerworker.testing import FakeBackend, Reply
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job

ROWS = pytest.mark.parametrize("row", SCHEDULED_CALLS, ids=lambda row: row.name)
#: The arguments each argument style is exercised with, and the path segment / body they lead to.
ARGS: dict[str, list[Any]] = {"none": [], "any": [], "params": [{"threshold": 0.7}], "operation": ["weekly"]}


def path_of(row: ScheduledCall) -> str:
    return row.path.format(operation="weekly")


def body_of(row: ScheduledCall) -> Any:
    if row.takes == "params":
        return {"threshold": 0.7}
    return dict(row.body) if row.body else None


def reply_for(row: ScheduledCall) -> tuple[Any, dict[str, int]]:
    """A `data` holding a distinct value for each of the row's counts, and the summary those values give."""
    data: Any = {}
    expected: dict[str, int] = {}
    for n, (name, where) in enumerate(row.counts.items(), start=2):
        if where == "":
            data, expected[name] = ["a", "b", "c"], 3
            continue
        *parents, leaf = where.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = [{"id": i} for i in range(n)] if name in ("discrepancies", "errors") else n
        expected[name] = n
    return data, expected


def tries_of(row: ScheduledCall) -> int:
    return 1 + (3 if row.retries is None else row.retries)


def requests_per_try(row: ScheduledCall) -> int:
    """HTTP requests one failing try makes: in-process attempts, times the client's own retries of a GET."""
    client = RetryPolicy().max_attempts if row.method in IDEMPOTENT_METHODS else 1
    return row.attempts * client


@ROWS
async def test_row_sends_its_call_and_reports_counts(
    row: ScheduledCall, worker: WorkerHarness, backend: FakeBackend, redis: Redis, logs: list[dict[str, Any]]
) -> None:
    """The job makes its one call with the right verb, path and body, and logs, tracks and returns the counts."""
    data, expected = reply_for(row)
    backend.route(row.method, path_of(row), data=data)
    _, result = await run_job(worker, row.name, ARGS[row.takes])
    assert result is not None and result.success, result
    assert result.result == {"success": True, **expected}
    [request] = backend.requests
    assert (request.method, request.path, request.json) == (row.method, path_of(row), body_of(row))
    assert request.claims is not None and request.claims["type"] == "worker"
    done = next(entry for entry in logs if entry["event"] == "scheduled.completed")
    assert {name: done[name] for name in expected} == expected
    for name, value in expected.items():
        point = json.loads(await redis.lindex(keys.job_metrics("cleanup_" + row.gauge(name)), 0))
        assert (point["type"], point["value"], point["job_class"]) == ("gauge", value, row.name)
    if row.counter:
        point = json.loads(await redis.lindex(keys.job_metrics(row.counter), 0))
        assert (point["type"], point["value"]) == ("counter", 1)


@ROWS
async def test_row_handles_a_failing_server_as_documented(
    row: ScheduledCall, worker: WorkerHarness, backend: FakeBackend
) -> None:
    """A 503 is swallowed and reported, or retried in process, then by the queue (30/60/180 s), then dead or discarded."""
    path = path_of(row)
    backend.fail(503, path=path)
    job_id, result = await run_job(worker, row.name, ARGS[row.takes])
    per_try = requests_per_try(row)
    if row.swallow:
        assert result is not None and result.success
        assert result.result == {"success": False, "error": "Backend server error"}
        assert len(backend.requests_to(row.method, path)) == per_try
        return
    assert result is None
    for retry in range(1, tries_of(row)):
        assert round(delay_s(await worker.score(job_id))) == API_BACKOFF_S[retry - 1]
        assert len(backend.requests_to(row.method, path)) == per_try * retry
        await worker.make_due(job_id)
        await worker.drain()
    assert await worker.score(job_id) is None
    assert len(backend.requests_to(row.method, path)) == per_try * tries_of(row)
    entry = await worker.runtime.dead.get(job_id)
    if row.dead:
        assert entry is not None
        assert (entry.error_class, entry.tries, entry.queue) == ("ApiError", tries_of(row), row.queue)
    else:
        assert entry is None
        assert not (await worker.result(job_id)).success


async def test_missing_data_counts_as_zero(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A reply without `data` (the server omits an empty one) gives zero counts."""
    backend.route("POST", "/api/v1/internal/ai/goals/maintenance", body={"success": True})
    _, result = await run_job(worker, "AiGoalMaintenanceJob")
    assert result is not None and result.result == {"success": True, "goals_abandoned": 0}


async def test_success_false_is_a_failure(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A 2xx that says `success: false` is handled as the row's error: swallowed here, with the server's message."""
    backend.route(
        "POST",
        "/api/v1/internal/devops/approval_tokens/expire_stale",
        handler=lambda _: Reply(200, {"success": False, "error": "lock busy"}),
    )
    _, result = await run_job(worker, "Devops::ApprovalExpiryJob")
    assert result is not None and result.result == {"success": False, "error": "lock busy"}


async def test_a_404_is_permanent(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A propagated 404 is not retried: the job goes to the dead set after one try."""
    backend.fail(404, path="/api/v1/ai/teams/cleanup_messages")
    job_id, result = await run_job(worker, "AiTeamMessageCleanupJob")
    entry = await worker.runtime.dead.get(job_id)
    assert result is not None and not result.success
    assert entry is not None and entry.tries == 1


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("AiSkillLifecycleMaintenanceJob", ["yearly"]),
        ("Devops::ApprovalExpiryJob", ["unexpected"]),
        ("AiGovernanceScanJob", ["not a hash"]),
    ],
)
async def test_bad_arguments_are_permanent_without_http(
    name: str, args: list[Any], worker: WorkerHarness, backend: FakeBackend
) -> None:
    """An unknown operation, an argument to a job that takes none, or a non-hash params fail at once, unsent."""
    job_id, _ = await run_job(worker, name, args)
    entry = await worker.runtime.dead.get(job_id)
    assert entry is not None
    assert (entry.error_class, entry.tries) == ("InvalidArguments", 1)
    assert backend.requests == []


async def test_skill_lifecycle_defaults_to_daily(worker: WorkerHarness, backend: FakeBackend) -> None:
    """Without an operation the skill lifecycle job runs the daily maintenance."""
    await run_job(worker, "AiSkillLifecycleMaintenanceJob")
    assert [r.path for r in backend.requests] == ["/api/v1/ai/skill_graph/maintenance/daily"]


async def test_in_process_retry_recovers(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A row with attempts=3 survives two 503s within one try, waiting 2 s and 4 s on the job clock."""
    path = "/api/v1/internal/ai/coordination/decay_signals"
    backend.route("POST", path, data={"decayed": 4})
    backend.fail(503, path=path, times=2)
    _, result = await run_job(worker, "AiStigmergicSignalDecayJob")
    assert result is not None and result.result == {"success": True, "decayed": 4}
    assert len(backend.requests_to("POST", path)) == 3
    assert worker.runtime.clock.sleeps[-2:] == [2.0, 4.0]  # type: ignore[attr-defined]
