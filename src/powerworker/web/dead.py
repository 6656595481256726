"""The dead set: jobs that will not run again on their own. Retry or delete one, some, or all (after a
confirmation page that says how many)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from aiohttp import web

from powerworker.web.auth import ADMIN, requires
from powerworker.web.jobs import PER_PAGE_CHOICES, page_links
from powerworker.web.render import clamp_int, notice_url, render, safe_next, see_other
from powerworker.web.state import DEPS

__all__ = ["bulk", "dead_page", "delete_one", "retry_one"]

MAX_SELECTED = 1000


def _back(form: Mapping[str, object], default: str = "/dead") -> str:
    """Where to return after an action: the dead set or a job's page, nowhere else."""
    raw = form.get("back")
    back = safe_next(raw if isinstance(raw, str) else None, default).partition("?")[0]
    return back if back == "/dead" or back.startswith("/jobs/") else default


@requires(ADMIN)
async def dead_page(request: web.Request) -> web.Response:
    """GET /dead: newest first, `?page=&per_page=`."""
    deps = request.app[DEPS]
    per_page = clamp_int(request.query.get("per_page"), 50, PER_PAGE_CHOICES[0], PER_PAGE_CHOICES[-1])
    total = await deps.dead.size()
    pages = max(1, math.ceil(total / per_page))
    page = clamp_int(request.query.get("page"), 1, 1, pages)
    entries = await deps.dead.list((page - 1) * per_page, per_page)
    return render(
        request,
        "dead.html",
        {
            "entries": entries,
            "total": total,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "links": page_links("/dead", {"per_page": str(per_page)}, page, pages),
        },
    )


@requires(ADMIN)
async def retry_one(request: web.Request) -> web.Response:
    """POST /dead/{job_id}/retry: enqueue it again under its id."""
    deps = request.app[DEPS]
    back = _back(await request.post())
    try:
        done = await deps.dead.retry(request.match_info["job_id"])
    except ValueError:
        return see_other(notice_url(back, "not_retryable"))
    return see_other(notice_url(back, "retried", 1) if done else notice_url(back, "gone"))


@requires(ADMIN)
async def delete_one(request: web.Request) -> web.Response:
    """POST /dead/{job_id}/delete."""
    deps = request.app[DEPS]
    back = _back(await request.post())
    done = await deps.dead.delete(request.match_info["job_id"])
    if back.startswith("/jobs/"):
        back = "/dead"  # the job's page would now say "no such job"
    return see_other(notice_url(back, "deleted", 1) if done else notice_url(back, "gone"))


@requires(ADMIN)
async def bulk(request: web.Request) -> web.Response:
    """POST /dead/bulk: `action=retry|delete`, `scope=selected|all`, `ids=...`; asks first, acts on `confirm=yes`."""
    deps = request.app[DEPS]
    form = await request.post()
    action = form.get("action")
    if action not in ("retry", "delete"):
        raise web.HTTPBadRequest(text="unknown action")
    everything = form.get("scope") == "all"
    ids = [] if everything else [str(v) for v in form.getall("ids", [])][:MAX_SELECTED]
    if not everything and not ids:
        return see_other(notice_url("/dead", "nothing"))
    if form.get("confirm") != "yes":
        count = await deps.dead.size() if everything else len(ids)
        return render(
            request,
            "confirm.html",
            {"action": action, "everything": everything, "ids": ids, "count": count},
        )
    if everything:
        ids = await deps.dead.all_ids()
    if action == "retry":
        done = await deps.dead.retry_many(ids)
        return see_other(notice_url("/dead", "retried", done))
    done = await deps.dead.delete_many(ids)
    return see_other(notice_url("/dead", "deleted", done))
