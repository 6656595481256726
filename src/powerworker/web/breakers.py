"""Circuit breakers per worker, as each worker last published them (`powerworker:breakers:<worker id>`)."""

from __future__ import annotations

from itertools import groupby

from aiohttp import web

from powerworker import keys
from powerworker.web import activity_data
from powerworker.web.auth import ADMIN, requires
from powerworker.web.render import render
from powerworker.web.state import DEPS

__all__ = ["breakers_page"]


@requires(ADMIN)
async def breakers_page(request: web.Request) -> web.Response:
    """GET /breakers: open breakers first within each worker."""
    redis = request.app[DEPS].redis
    rows, capped = await activity_data.breakers(redis)
    by_worker = []
    for worker, group in groupby(rows, key=lambda row: row.worker_id):
        info: dict[bytes, bytes] = await redis.hgetall(keys.worker_info(worker))  # type: ignore[misc]
        host, pid = info.get(b"host"), info.get(b"pid")
        where = f"{host.decode('utf-8', 'replace')}:{pid.decode()}" if host and pid else None
        by_worker.append((worker, where, list(group)))
    open_count = sum(row.state != "closed" for row in rows)
    return render(
        request, "breakers.html", {"by_worker": by_worker, "open_count": open_count, "capped": capped}
    )
