"""Job keys the runaway-loop detector disabled (`job_disabled:*`), and lifting a disable early."""

from __future__ import annotations

from aiohttp import web

from powerworker.web import activity_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import notice_url, render, see_other
from powerworker.web.state import DEPS

__all__ = ["reenable", "runaway_page"]


@requires(ADMIN)
async def runaway_page(request: web.Request) -> web.Response:
    """GET /runaway: each disabled key, its reason, time left and last failures."""
    rows, capped = await activity_data.disabled_keys(request.app[DEPS].redis)
    return render(request, "runaway.html", {"rows": rows, "capped": capped})


@requires(ADMIN)
async def reenable(request: web.Request) -> web.Response:
    """POST /runaway/enable: `key=<job key>`; the key runs again at its next try."""
    form = await request.post()
    job_key = form.get("key")
    if not isinstance(job_key, str) or not job_key:
        raise web.HTTPBadRequest(text="missing key")
    done = await activity_data.reenable(request.app[DEPS].redis, job_key)
    return see_other(notice_url("/runaway", "reenabled" if done else "gone"))
