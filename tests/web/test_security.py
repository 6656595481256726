"""The dashboard's defences: CSRF and origin checks, headers, escaping, clamped parameters, no unpickling."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from powerworker import keys
from powerworker.dead import DeadEntry
from powerworker.web.render import TEMPLATES_DIR, safe_next
from tests.web.conftest import Dashboard

XSS = "<script>alert(1)</script>"


async def _a_dead_job(dashboard: Dashboard, job_id: str = "dead-1", args: list[object] | None = None) -> None:
    await dashboard.deps.dead.add(
        DeadEntry(
            job_id,
            "Test::RecordJob",
            args if args is not None else ["a"],
            {},
            "maintenance",
            "RuntimeError",
            "boom",
            "Traceback ...",
            3,
            dashboard.clock.time(),
        )
    )


async def test_post_without_csrf_token_is_refused(signed_in: Dashboard) -> None:
    """A state-changing request without the session's CSRF token is refused and changes nothing."""
    await _a_dead_job(signed_in)
    for token in ("", "not-the-token"):
        response = await signed_in.post("/dead/dead-1/delete", csrf=token)
        assert response.status == 403
        assert "This form has expired" in await response.text()
    assert await signed_in.deps.dead.size() == 1


async def test_post_from_another_origin_is_refused(signed_in: Dashboard) -> None:
    """A request whose Origin is another site, `null`, or missing with no Referer either, is refused."""
    await _a_dead_job(signed_in)
    for origin in ("https://evil.example", "null", None):
        response = await signed_in.post("/dead/dead-1/delete", origin=origin)
        assert response.status == 403, origin
        assert "did not come from the dashboard" in await response.text()
    assert await signed_in.deps.dead.size() == 1


async def test_referer_stands_in_for_a_missing_origin(signed_in: Dashboard) -> None:
    """Without an Origin, a Referer from this site is accepted."""
    await _a_dead_job(signed_in)
    response = await signed_in.post(
        "/dead/dead-1/delete", origin=None, headers={"Referer": signed_in.origin + "/dead"}
    )
    assert response.status == 303
    assert await signed_in.deps.dead.size() == 0


async def test_login_form_needs_csrf_too(dashboard: Dashboard) -> None:
    """A login posted from elsewhere (login CSRF) is refused before the backend is asked."""
    response = await dashboard.post("/login", {"email": "admin@example.com", "password": "x"})
    assert response.status == 403  # no session cookie, so no token to match
    assert dashboard.backend.requests_to("POST") == []


@pytest.mark.parametrize("path", ["/login", "/", "/static/dashboard.css", "/no-such-page", "/health"])
async def test_security_headers_everywhere(dashboard: Dashboard, path: str) -> None:
    """Every response carries the strict CSP and the other security headers."""
    response = await dashboard.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


async def test_pages_are_not_cached_but_assets_are(signed_in: Dashboard) -> None:
    """Pages are `no-store`; static assets may be cached, and need no login."""
    assert (await signed_in.get("/")).headers["Cache-Control"] == "no-store"
    signed_in.client.session.cookie_jar.clear()
    asset = await signed_in.get("/static/dashboard.js")
    assert asset.status == 200 and asset.headers["Cache-Control"] == "public, max-age=3600"


def test_templates_hold_no_inline_script_or_style() -> None:
    """No template has an inline script, event handler or style attribute (the CSP would block them)."""
    for template in Path(TEMPLATES_DIR).glob("*.html"):
        html = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), template.name
        assert not re.search(r"\son[a-z]+\s*=", html), template.name
        assert not re.search(r"\sstyle\s*=|<style", html), template.name
        assert "|safe" not in html.replace(" ", "") and "Markup" not in html, template.name


async def test_job_arguments_are_escaped_everywhere(signed_in: Dashboard) -> None:
    """A job argument of `<script>alert(1)</script>` shows as text on every page that shows it."""
    job_id = await signed_in.enqueuer.enqueue(
        "Test::RecordJob", [XSS], {"note": XSS}, queue="maintenance", job_id="xss-queued", check_name=False
    )
    await _a_dead_job(signed_in, "xss-dead", [XSS])
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/jobs", f"/jobs/{job_id}", "/dead", "/jobs/xss-dead"):
        body = await signed_in.text(path)
        assert XSS not in body, path
        assert escaped in body, path


async def test_dead_entry_text_is_escaped(signed_in: Dashboard) -> None:
    """Error messages and tracebacks, which may quote job data, are escaped too."""
    await signed_in.deps.dead.add(
        DeadEntry("x", "<b>Name</b>", [], {}, "default", "<i>E</i>", XSS, XSS, 1, signed_in.clock.time())
    )
    body = await signed_in.text("/jobs/x")
    assert XSS not in body and "<b>Name</b>" not in body and "<i>E</i>" not in body


async def test_paging_and_periods_are_clamped(signed_in: Dashboard) -> None:
    """Out-of-range or malformed paging and period parameters are clamped, never errors."""
    body = await signed_in.text("/jobs?per_page=100000&page=-5")
    assert '<option value="200" selected>' in body and "Page 1 of 1" in body
    body = await signed_in.text("/jobs?per_page=abc&page=abc&state=bogus")
    assert '<option value="50" selected>' in body and "Ready jobs" in body
    body = await signed_in.text("/?minutes=999999&refresh=1")
    assert "Processed · 120 min" in body and 'http-equiv="refresh" content="2"' in body
    body = await signed_in.text("/?minutes=-1")
    assert "Processed · 5 min" in body
    body = await signed_in.text("/dead?page=99999")
    assert "Page 1 of 1" in body
    assert (await signed_in.get("/job-metrics/x?limit=99999999")).status == 200


async def test_pickled_payloads_are_never_unpickled(
    signed_in: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A payload in arq's pickle format is shown as unreadable; pickle is never called."""
    await signed_in.redis.set(keys.JOB_PREFIX + "pickled", pickle.dumps({"f": "Test::RecordJob", "a": [1]}))
    await signed_in.redis.zadd(keys.lane_key("default"), {"pickled": 1})

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the dashboard unpickled a payload")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    listing = await signed_in.text("/jobs")
    assert "unreadable" in listing
    detail = await signed_in.text("/jobs/pickled")
    assert "never unpickles" in detail
    assert (await signed_in.get("/")).status == 200
    assert (await signed_in.get("/metrics")).status == 200


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "/"),
        ("/dead?page=2", "/dead?page=2"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        ("/a\r\nSet-Cookie: x", "/"),
    ],
)
def test_safe_next(raw: str | None, expected: str) -> None:
    """Only local paths survive as a place to go after signing in."""
    assert safe_next(raw) == expected


async def test_unknown_schedule_and_bad_bulk_action(signed_in: Dashboard) -> None:
    """Actions on things that do not exist are refused plainly."""
    assert (await signed_in.post("/schedule/nope/disable")).status == 404
    assert (await signed_in.post("/dead/bulk", {"action": "explode", "scope": "all"})).status == 400
    assert (await signed_in.post("/runaway/enable", {})).status == 400
