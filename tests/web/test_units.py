"""Small parts of the dashboard on their own: the authenticator's replies and cache, the cookie codec, helpers."""

from __future__ import annotations

import pytest

from powerworker.testing import FakeClock
from powerworker.web import auth as auth_module
from powerworker.web.auth import AuthUnavailable, LoginRefused
from powerworker.web.queue_data import ResultView, parse_json_object
from powerworker.web.render import _ago, _iso, clamp_int, duration
from powerworker.web.session import Session, SessionCodec
from powerworker.web.state import SERVICES
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, Dashboard


async def test_a_reply_without_valid_is_a_refusal(dashboard: Dashboard) -> None:
    """A success envelope that does not say `valid: true` (or lacks a token) opens nothing."""
    authenticator = dashboard.client.server.app[SERVICES].auth
    dashboard.backend.route("POST", "/api/v1/worker_auth/authenticate_user", data={"valid": True})
    with pytest.raises(LoginRefused, match="Invalid email or password"):
        await authenticator.password_login(ADMIN_EMAIL, ADMIN_PASSWORD)
    dashboard.backend.route("POST", "/api/v1/worker_auth/verify_session", data={"valid": False})
    assert await authenticator.verify("any-session") is None


async def test_a_timeout_is_unavailable_not_refused(dashboard: Dashboard) -> None:
    """A 408 or 429 from the backend means "try later", never "wrong password"."""
    authenticator = dashboard.client.server.app[SERVICES].auth
    for status in (408, 429, 500):
        dashboard.backend.fail(status, times=1, path="/api/v1/worker_auth/")
        with pytest.raises(AuthUnavailable):
            await authenticator.token_login("t")


async def test_the_cache_is_bounded(dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache of positive checks drops expired entries first, then the oldest, to stay bounded."""
    monkeypatch.setattr(auth_module, "CACHE_ENTRIES", 3)
    authenticator = dashboard.client.server.app[SERVICES].auth
    tokens = [
        (await authenticator.password_login(ADMIN_EMAIL, ADMIN_PASSWORD)).session_token for _ in range(5)
    ]
    await authenticator.verify(tokens[0])
    dashboard.clock.advance(11)
    for token in tokens[1:]:
        assert (await authenticator.verify(token)) is not None
    assert list(authenticator._cache) == tokens[2:]  # the expired one went first, then the oldest


def test_cookie_codec_round_trip_and_tampering() -> None:
    """A cookie decodes to its session; a changed byte, another key or 24 h of age make it worthless."""
    clock = FakeClock()
    codec = SessionCodec(b"k" * 32, secure=False, clock=clock)
    session = Session.new(clock.time(), token="tok", email="a@b.c")
    value = codec.encode(session)
    assert codec.decode(value) == session and session.signed_in
    assert codec.decode(value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]) is None
    assert SessionCodec(b"j" * 32, clock=clock).decode(value) is None
    assert codec.decode("not even base64 !") is None
    clock.advance(86_400 + 1)
    assert codec.decode(value) is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "—"), (0, "0s"), (75, "1m 15s"), (3700, "1h 1m"), (90_000, "1d 1h"), (-30, "30s")],
)
def test_duration(seconds: float | None, text: str) -> None:
    """Durations read as the two largest units."""
    assert duration(seconds) == text


def test_small_formatters() -> None:
    """Relative times, ISO times and clamped integers."""
    assert (_ago(100, 160), _ago(200, 160), _ago(None, 0)) == ("1m 0s ago", "in 40s", "—")
    assert _iso("2026-03-15T10:02:00+01:00") == "2026-03-15 09:02:00"
    assert (_iso(None), _iso("yesterday")) == ("—", "yesterday")
    assert (clamp_int("7", 1, 1, 5), clamp_int("x", 3, 1, 5), clamp_int(None, 3, 1, 5)) == (5, 3, 3)


def test_result_views() -> None:
    """Kept results are read as JSON objects only, and their error is found whatever its shape."""
    assert parse_json_object(b"[1]") is None and parse_json_object(b"\x80\x04") is None
    assert ResultView(True, 1, 1, 0, 0).error_message is None
    failed = ResultView(False, {"error_class": "E", "message": "m"}, 1, 0, 0)
    assert (failed.error_class, failed.error_message) == ("E", "m")
    plain = ResultView(False, "text", 1, 0, 0)
    assert (plain.error_class, plain.error_message) == (None, "text")
    assert ResultView(False, None, 1, 0, 0).error_message is None
