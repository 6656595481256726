"""The backup jobs: the scheduled backup request and the expired-backup cleanup."""

from __future__ import annotations

from powerworker.cron import SCHEDULE
from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import run_job

BACKUPS = "/api/v1/internal/maintenance/backups"


async def test_scheduled_entries_request_their_backups(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """Both schedule entries run with their keyword argument and post the backup type, a description and `scheduled`."""
    backend.route("POST", BACKUPS, status=201, data={"id": "b-1", "status": "pending"})
    results = []
    for entry in (e for e in SCHEDULE if e.job == "Maintenance::ScheduledBackupJob"):
        _, result = await run_job(worker, entry.job, entry.args, dict(entry.kwargs))
        assert result is not None
        results.append(result.result)
    stamp = iso(clock.time())
    assert [r.json for r in backend.requests] == [
        {
            "backup_type": kind,
            "description": f"Automated scheduled {kind} backup - {stamp[:10]} {stamp[11:16]} UTC",
            "scheduled": True,
        }
        for kind in ("full", "schema_only")
    ]
    assert results[1] == {
        "success": True,
        "backup_id": "b-1",
        "backup_type": "schema_only",
        "message": "Backup job queued successfully",
    }


async def test_invalid_backup_type_makes_no_call(worker: WorkerHarness, backend: FakeBackend) -> None:
    """An unknown backup type is reported in the result without any request."""
    _, result = await run_job(worker, "Maintenance::ScheduledBackupJob", kwargs={"backup_type": "hourly"})
    assert result is not None and result.success
    assert result.result == {"success": False, "error": "Invalid backup type: hourly"}
    assert backend.requests == []


async def test_backup_request_failure_is_reported_not_raised(
    worker: WorkerHarness, backend: FakeBackend
) -> None:
    """The missing route's 404 (or any API error) becomes the result; the job does not fail."""
    backend.fail(404, path=BACKUPS, body={"status": 404, "error": "Not Found"})
    _, result = await run_job(worker, "Maintenance::ScheduledBackupJob")
    assert result is not None and result.success
    assert result.result == {"success": False, "error": "Not Found"}


async def test_cleanup_deletes_a_batch_and_counts_failures(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """Expired backups are listed with the cutoff, at most 100 deleted; a failed delete is counted."""
    backend.route("GET", BACKUPS, data=[{"id": f"b{i}"} for i in range(102)])
    backend.fail(500, path=f"{BACKUPS}/b99")  # a prefix of no other id
    started = clock.time()  # the client's backoff on the failing delete moves the clock
    _, result = await run_job(worker, "Maintenance::BackupCleanupJob")
    assert result is not None
    assert result.result == {"success": False, "deleted_count": 99, "failed_count": 1, "remaining_count": 2}
    [listing] = backend.requests_to("GET")
    assert listing.query == {"created_before": iso(started - 30 * 86_400), "status": "completed"}
    deletes = backend.requests_to("DELETE")
    assert {r.path for r in deletes} == {f"{BACKUPS}/b{i}" for i in range(100)}


async def test_cleanup_with_nothing_listed(worker: WorkerHarness, backend: FakeBackend) -> None:
    """A failed listing counts as nothing to delete: success with zero deleted, no error raised."""
    backend.fail(404, path=BACKUPS)
    _, result = await run_job(worker, "Maintenance::BackupCleanupJob")
    assert result is not None and result.result == {"success": True, "deleted_count": 0}
    assert backend.requests_to("DELETE") == []
