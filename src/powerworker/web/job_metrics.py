"""Metrics jobs record (`job_metrics:<name>`): a summary per metric, and the recent points of one."""

from __future__ import annotations

from aiohttp import web

from powerworker.web import activity_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import clamp_int, render
from powerworker.web.state import DEPS

__all__ = ["metric_page", "metrics_page"]


@requires(ADMIN)
async def metrics_page(request: web.Request) -> web.Response:
    """GET /job-metrics: one row per metric, over its newest 200 points."""
    summaries, capped = await activity_data.metric_summaries(request.app[DEPS].redis)
    return render(request, "job_metrics.html", {"summaries": summaries, "capped": capped})


@requires(ADMIN)
async def metric_page(request: web.Request) -> web.Response:
    """GET /job-metrics/{name}: the newest points (`?limit=10..1000`)."""
    name = request.match_info["name"]
    limit = clamp_int(request.query.get("limit"), 100, 10, 1000)
    points = await activity_data.metric_points(request.app[DEPS].redis, name, limit)
    return render(
        request,
        "job_metric.html",
        {"name": name, "points": points, "limit": limit, "tags_text": activity_data.tags_text},
    )
