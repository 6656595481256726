"""Circuit breakers per worker, as each worker last published them (`powerworker:breakers:<worker id>`)."""

from __future__ import annotations

from itertools import groupby

from aiohttp import web

from powerworker.web import activity_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import render
from powerworker.web.state import DEPS

__all__ = ["breakers_page"]


@requires(ADMIN)
async def breakers_page(request: web.Request) -> web.Response:
    """GET /breakers: open breakers first within each worker."""
    rows, capped = await activity_data.breakers(request.app[DEPS].redis)
    by_worker = [(worker, list(group)) for worker, group in groupby(rows, key=lambda row: row.worker_id)]
    open_count = sum(row.state != "closed" for row in rows)
    return render(
        request, "breakers.html", {"by_worker": by_worker, "open_count": open_count, "capped": capped}
    )
