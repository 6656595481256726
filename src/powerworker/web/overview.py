"""The overview page: queue depths per logical queue, throughput per minute, live workers and what they run."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from powerworker.web import activity_data, queue_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import clamp_int, render
from powerworker.web.state import DEPS

__all__ = ["Bar", "chart", "overview"]

CHART_WIDTH = 720
CHART_HEIGHT = 140


@dataclass(frozen=True)
class Bar:
    """One minute of the throughput chart, in SVG units (y grows downwards)."""

    x: float
    width: float
    processed_y: float
    processed_h: float
    failed_y: float
    failed_h: float
    minute: activity_data.Minute


def chart(minutes: list[activity_data.Minute]) -> tuple[list[Bar], int]:
    """Stacked bars (processed below, failed on top) scaled to the busiest minute; also that minute's total."""
    peak = max((m.processed + m.failed for m in minutes), default=0)
    scale = (CHART_HEIGHT - 4) / peak if peak else 0.0
    width = CHART_WIDTH / max(len(minutes), 1)
    bars = []
    for index, minute in enumerate(minutes):
        processed_h = minute.processed * scale
        failed_h = minute.failed * scale
        processed_y = CHART_HEIGHT - processed_h
        bars.append(
            Bar(
                round(index * width + 1, 2),
                round(max(width - 2, 1), 2),
                round(processed_y, 2),
                round(processed_h, 2),
                round(processed_y - failed_h, 2),
                round(failed_h, 2),
                minute,
            )
        )
    return bars, peak


@requires(ADMIN)
async def overview(request: web.Request) -> web.Response:
    """GET /: the state of the queue at a glance (`?minutes=5..120`, `?refresh=2..60` seconds)."""
    deps = request.app[DEPS]
    now = deps.clock.time()
    minutes = clamp_int(request.query.get("minutes"), 60, 5, 120)
    refresh = clamp_int(request.query.get("refresh"), 0, 0, 60)
    refresh = refresh and max(refresh, 2)
    lanes = await queue_data.lanes(deps.redis, deps.config.lanes)
    depths = await queue_data.depths(deps.redis, lanes, int(now * 1000))
    per_minute = await activity_data.throughput(deps.redis, now, minutes)
    bars, peak = chart(per_minute)
    live = await activity_data.workers(deps.redis, now)
    return render(
        request,
        "overview.html",
        {
            "depths": depths,
            "bars": bars,
            "peak": peak,
            "chart_width": CHART_WIDTH,
            "chart_height": CHART_HEIGHT,
            "minutes": minutes,
            "processed": sum(m.processed for m in per_minute),
            "failed": sum(m.failed for m in per_minute),
            "workers": live,
            "running": sum(len(w.running) for w in live),
            "dead_size": await deps.dead.size(),
            "refresh": refresh,
        },
    )
