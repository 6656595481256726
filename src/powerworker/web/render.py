"""Server-rendered pages: one Jinja2 environment with autoescaping always on, and the helpers pages share.

Every value reaches HTML through Jinja2's autoescape, so a job argument of `<script>` shows as text. Nothing
is marked safe. After an action, pages redirect with a notice *code* (`?done=retried&n=3`) that maps to a
fixed sentence here, so no visitor-supplied text is ever echoed as a message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from powerworker.web.state import DEPS, NEW_SESSION, SERVICES, SESSION, USER

__all__ = ["clamp_int", "make_templates", "notice_url", "render", "safe_next", "see_other"]

TEMPLATES_DIR = Path(__file__).parent / "templates"

#: The navigation bar: (path, label).
NAV = (
    ("/", "Overview"),
    ("/jobs", "Queued"),
    ("/dead", "Dead"),
    ("/schedule", "Schedule"),
    ("/runaway", "Runaway"),
    ("/breakers", "Breakers"),
    ("/job-metrics", "Metrics"),
)

#: Messages shown after an action; `{n}` is a count.
NOTICES = {
    "retried": "{n} dead job(s) enqueued again.",
    "deleted": "{n} dead job(s) deleted.",
    "nothing": "Nothing was selected.",
    "not_retryable": "That dead job holds a malformed payload and cannot be retried.",
    "gone": "That job is no longer there.",
    "enabled": "Schedule enabled on every worker.",
    "disabled": "Schedule disabled on every worker.",
    "triggered": "Schedule enqueued once, now.",
    "reenabled": "Job key re-enabled.",
    "signed_out": "You have signed out.",
}


def _ts(epoch_s: float | int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    if epoch_s is None:
        return "—"
    return datetime.fromtimestamp(float(epoch_s), UTC).strftime(fmt)


def _ms(epoch_ms: float | int | None) -> str:
    return "—" if epoch_ms is None else _ts(float(epoch_ms) / 1000)


def _dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    return "—" if value is None else value.strftime(fmt).strip()


def _iso(value: str | None) -> str:
    """An ISO 8601 time as `YYYY-mm-dd HH:MM:SS` in UTC; anything unparsable as it is."""
    if not value:
        return "—"
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def duration(seconds: float | int | None) -> str:
    """`75` -> `1m 15s`; `3700` -> `1h 1m`."""
    if seconds is None:
        return "—"
    total = round(abs(float(seconds)))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _ago(epoch_s: float | int | None, now: float) -> str:
    if epoch_s is None:
        return "—"
    delta = now - float(epoch_s)
    return f"in {duration(-delta)}" if delta < 0 else f"{duration(delta)} ago"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=repr)


def _compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _path_segment(value: Any) -> str:
    return quote(str(value), safe="")


def make_templates() -> jinja2.Environment:
    """The Jinja2 environment: autoescape on for everything, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ts=_ts,
        iso=_iso,
        ms=_ms,
        dt=_dt,
        duration=duration,
        ago=_ago,
        pretty=_pretty,
        compact=_compact,
        pq=_path_segment,
    )
    env.globals["nav"] = NAV
    return env


def render(
    request: web.Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """Render `template` with the page's common context (user, CSRF token, notice, navigation)."""
    deps = request.app[DEPS]
    session = request.get(NEW_SESSION) or request.get(SESSION)
    code = request.query.get("done", "")
    notice = NOTICES.get(code, "").format(n=clamp_int(request.query.get("n"), 0, 0, 1_000_000))
    html = (
        request.app[SERVICES]
        .templates.get_template(template)
        .render(
            request_path=request.path,
            user=request.get(USER),
            csrf=session.csrf if session else "",
            notice=notice,
            now=deps.clock.time(),
            environment=deps.config.environment,
            version=deps.config.version,
            **(context or {}),
        )
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def clamp_int(raw: str | None, default: int, low: int, high: int) -> int:
    """A query parameter as an int within [low, high]; `default` when missing or not a number."""
    try:
        value = int(raw) if raw not in (None, "") else default
    except ValueError:
        value = default
    return max(low, min(high, value))


def notice_url(path: str, code: str, n: int | None = None, **params: str) -> str:
    """`path` with a notice code (and count) for the page redirected to."""
    query: dict[str, str] = {**params, "done": code}
    if n is not None:
        query["n"] = str(n)
    return f"{path}?{urlencode(query)}"


def safe_next(raw: str | None, default: str = "/") -> str:
    """A local path to go to after login: only `/...` paths, never `//host` or a scheme (no open redirect)."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return default
    if any(ord(c) < 32 for c in raw):
        return default
    return raw


def see_other(location: str) -> web.Response:
    """303 to a local path (after a form: the browser follows with a GET)."""
    return web.Response(status=303, headers={"Location": location})
