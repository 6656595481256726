"""Queued and scheduled jobs, with filters and paging, and the page of one job (args, tries, result, error)."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from aiohttp import web

from powerworker.queues import QUEUE_WEIGHTS
from powerworker.web import queue_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import clamp_int, render
from powerworker.web.state import DEPS

__all__ = ["job_page", "jobs_page", "page_links"]

PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_PAGE = 10_000
#: While a job is due or running its page reloads itself this often (seconds), to show it finish.
LIVE_REFRESH_S = 2


def _text(raw: str | None, limit: int = 200) -> str | None:
    value = (raw or "").strip()[:limit]
    return value or None


def page_links(path: str, params: dict[str, str], page: int, pages: int) -> dict[str, str | None]:
    """URLs of the first, previous, next and last pages (None where there is none)."""

    def url(number: int) -> str:
        return f"{path}?{urlencode({**params, 'page': str(number)})}"

    return {
        "first": url(1) if page > 1 else None,
        "prev": url(page - 1) if page > 1 else None,
        "next": url(page + 1) if page < pages else None,
        "last": url(pages) if page < pages else None,
    }


@requires(ADMIN)
async def jobs_page(request: web.Request) -> web.Response:
    """GET /jobs: `?state=ready|scheduled|all&lane=&queue=&name=&page=&per_page=`."""
    deps = request.app[DEPS]
    query = request.query
    states: dict[str, queue_data.State] = {"ready": "ready", "scheduled": "scheduled", "all": "all"}
    state = states.get(query.get("state", ""), "ready")
    lanes = await queue_data.lanes(deps.redis, deps.config.lanes)
    lane = query.get("lane") if query.get("lane") in lanes else None
    flt = queue_data.JobFilter(state, lane, _text(query.get("queue"), 100), _text(query.get("name")))
    per_page = clamp_int(query.get("per_page"), 50, PER_PAGE_CHOICES[0], PER_PAGE_CHOICES[-1])
    page = clamp_int(query.get("page"), 1, 1, MAX_PAGE)
    now_ms = int(deps.clock.time() * 1000)
    result = await queue_data.list_jobs(
        deps.redis, lanes, flt, offset=(page - 1) * per_page, limit=per_page, now_ms=now_ms
    )
    pages = max(1, math.ceil(result.total / per_page))
    params = {
        k: v for k, v in (("state", state), ("lane", lane), ("queue", flt.queue), ("name", flt.name)) if v
    }
    params["per_page"] = str(per_page)
    return render(
        request,
        "jobs.html",
        {
            "flt": flt,
            "lanes": lanes,
            "queues": sorted(QUEUE_WEIGHTS),
            "result": result,
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "links": page_links("/jobs", params, min(page, pages), pages),
            "now_ms": now_ms,
        },
    )


@requires(ADMIN)
async def job_page(request: web.Request) -> web.Response:
    """GET /jobs/{job_id}: payload, state, tries, result or error with traceback."""
    deps = request.app[DEPS]
    job_id = request.match_info["job_id"]
    lanes = await queue_data.lanes(deps.redis, deps.config.lanes)
    detail = await queue_data.job_detail(deps.redis, deps.dead, lanes, job_id, int(deps.clock.time() * 1000))
    if detail is None:
        return render(
            request,
            "message.html",
            {
                "title": "No such job",
                "message": "No queued job, kept result or dead-set entry has this id. Results are kept for "
                "a limited time after a job ends.",
                "kind": "info",
            },
            status=404,
        )
    return render(
        request,
        "job.html",
        {
            "detail": detail,
            "refresh": LIVE_REFRESH_S if detail.state in ("ready", "running") else 0,
            "job_id": job_id,
        },
    )
