"""Database backups: the daily/weekly scheduled backup request and the expired-backup cleanup.

Both jobs report every failure in their result instead of raising, as the original did, so a failed backup
request or cleanup is never retried by the queue: the next scheduled run is the retry.

Routes: the server has neither POST /api/v1/internal/maintenance/backups nor an index or destroy of backups
(only GET/PATCH `backups/:id` and POST `backups/cleanup`). No route with the same meaning exists, so both jobs
keep the documented paths and their documented error handling: until the server adds them, a backup request
returns `{"success": false, ...}` and the cleanup finds nothing to delete.
"""

from __future__ import annotations

from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, dig, iso, unwrap

__all__ = ["BACKUP_TYPES", "backup_cleanup", "scheduled_backup"]

BACKUPS = "/api/v1/internal/maintenance/backups"
BACKUP_TYPES = ("full", "incremental", "schema_only")
#: Deletions per run; the rest wait for the next day's run.
CLEANUP_BATCH = 100


@job("Maintenance::ScheduledBackupJob", queue="maintenance", retries=3)
async def scheduled_backup(ctx: JobContext, backup_type: str = "full") -> dict[str, Any]:
    """Ask the server to queue a backup of `backup_type` (full, incremental or schema_only)."""
    if backup_type not in BACKUP_TYPES:
        ctx.log.error("backup.invalid_type", backup_type=backup_type)
        return {"success": False, "error": f"Invalid backup type: {backup_type}"}
    stamp = iso(ctx.clock.time())
    description = f"Automated scheduled {backup_type} backup - {stamp[:10]} {stamp[11:16]} UTC"
    try:
        data = unwrap(
            await ctx.api.post(
                BACKUPS, {"backup_type": backup_type, "description": description, "scheduled": True}
            )
        )
    except ApiError as error:
        ctx.log.error(
            "backup.request_failed", backup_type=backup_type, status=error.status, error=error.message
        )
        return {"success": False, "error": error.message}
    backup_id = dig(data, "id") or dig(data, "backup.id")
    ctx.log.info("backup.queued", backup_type=backup_type, backup_id=backup_id)
    await ctx.increment_counter("scheduled_backup_queued", {"backup_type": backup_type})
    return {
        "success": True,
        "backup_id": backup_id,
        "backup_type": backup_type,
        "message": "Backup job queued successfully",
    }


@job("Maintenance::BackupCleanupJob", queue="maintenance", retries=2)
async def backup_cleanup(ctx: JobContext) -> dict[str, Any]:
    """Delete completed backups older than the retention period, at most 100 per run."""
    cutoff = iso(ctx.clock.time() - ctx.settings.backup_retention_days * 86_400)
    try:
        expired = as_list(
            unwrap(await ctx.api.get(BACKUPS, {"created_before": cutoff, "status": "completed"}))
        )
    except ApiError as error:
        ctx.log.warning("backup_cleanup.list_failed", status=error.status, error=error.message)
        expired = []
    if not expired:
        ctx.log.info("backup_cleanup.nothing_to_do", cutoff=cutoff)
        await ctx.track_cleanup_metrics({"deleted_backups": 0})
        return {"success": True, "deleted_count": 0}
    deleted = failed = 0
    for backup in expired[:CLEANUP_BATCH]:
        backup_id = as_map(backup).get("id")
        try:
            unwrap(await ctx.api.delete(f"{BACKUPS}/{backup_id}"))
        except ApiError as error:
            ctx.log.warning("backup_cleanup.delete_failed", backup_id=backup_id, error=error.message)
            failed += 1
        else:
            deleted += 1
    remaining = max(len(expired) - CLEANUP_BATCH, 0)
    ctx.log.info("backup_cleanup.completed", deleted=deleted, failed=failed, remaining=remaining)
    await ctx.track_cleanup_metrics({"deleted_backups": deleted, "failed_backup_deletions": failed})
    return {
        "success": failed == 0,
        "deleted_count": deleted,
        "failed_count": failed,
        "remaining_count": remaining,
    }
