"""The schedule: every entry with its next and last run and state; enable, disable or run one now."""

from __future__ import annotations

from aiohttp import web

from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import notice_url, render, see_other
from powerworker.web.state import DEPS

__all__ = ["schedule_action", "schedule_page"]


@requires(ADMIN)
async def schedule_page(request: web.Request) -> web.Response:
    """GET /schedule: `?show=disabled` lists only disabled entries."""
    deps = request.app[DEPS]
    rows = await deps.scheduler.rows()
    only_disabled = request.query.get("show") == "disabled"
    return render(
        request,
        "schedule.html",
        {
            "rows": [row for row in rows if not (only_disabled and row.enabled)],
            "total": len(rows),
            "disabled": sum(not row.enabled for row in rows),
            "only_disabled": only_disabled,
            "timezone": str(deps.scheduler.timezone),
        },
    )


@requires(ADMIN)
async def schedule_action(request: web.Request) -> web.Response:
    """POST /schedule/{name}/{action}: `enable`, `disable` (on every worker, from its next tick) or `run` (once, now)."""
    deps = request.app[DEPS]
    name, action = request.match_info["name"], request.match_info["action"]
    if name not in deps.scheduler.entries:
        raise web.HTTPNotFound(text="no such schedule")
    if action == "run":
        await deps.scheduler.trigger(name)
        return see_other(notice_url("/schedule", "triggered"))
    await deps.scheduler.set_enabled(name, action == "enable")
    return see_other(notice_url("/schedule", "enabled" if action == "enable" else "disabled"))
