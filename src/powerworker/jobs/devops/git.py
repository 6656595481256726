"""Git runners: mark runners that stopped reporting as offline."""

from __future__ import annotations

from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, dig, epoch_of, now_iso, unwrap

__all__ = ["STALE_AFTER_S", "is_stale", "runner_health_check"]

RUNNERS = "/api/v1/internal/git/runners"
#: A runner not seen for this long is offline.
STALE_AFTER_S = 300


def is_stale(last_seen_at: Any, now_s: float) -> bool:
    """Whether a runner last seen at `last_seen_at` (ISO 8601, or missing) is stale at `now_s`."""
    seen = epoch_of(last_seen_at)
    return seen is None or now_s - seen > STALE_AFTER_S


@job("Git::RunnerHealthCheckJob", queue="devops_default", retries=2)
async def runner_health_check(ctx: JobContext) -> dict[str, int]:
    """Set every online runner not seen for five minutes offline (and not busy)."""
    runners = [
        as_map(r) for r in as_list(dig(unwrap(await ctx.api.get(RUNNERS, {"status": "online"})), "runners"))
    ]
    now_s = ctx.clock.time()
    stale = [r for r in runners if is_stale(r.get("last_seen_at"), now_s)]
    marked = 0
    for runner in stale:
        try:
            await ctx.api.put(
                f"{RUNNERS}/{runner.get('id')}/status",
                {"status": "offline", "busy": False, "last_seen_at": now_iso(ctx)},
            )
        except ApiError as error:
            ctx.log.error(
                "git.runner_update_failed",
                runner_id=runner.get("id"),
                name=runner.get("name"),
                error=error.message,
            )
        else:
            ctx.log.info(
                "git.runner_offline",
                runner_id=runner.get("id"),
                name=runner.get("name"),
                last_seen_at=runner.get("last_seen_at"),
            )
            marked += 1
    ctx.log.info("git.runner_check_completed", checked=len(runners), stale=len(stale), marked_offline=marked)
    await ctx.track_cleanup_metrics({"offline_runners": marked})
    return {"checked": len(runners), "stale": len(stale), "marked_offline": marked}
