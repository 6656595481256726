"""The machine-facing endpoints (`/health`, `/metrics`) and starting the dashboard from the settings."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from redis.asyncio import Redis

from powerworker import keys
from powerworker.cli import main
from powerworker.dead import DeadEntry
from powerworker.resilience.breaker import BreakerRegistry
from powerworker.settings import Settings
from powerworker.testing.fake_backend import FakeBackend
from powerworker.web.config import DashboardConfig
from powerworker.web.prometheus import exposition
from tests.web.browser import serve
from tests.web.conftest import METRICS_TOKEN, Dashboard, DashboardFactory


# -- /health ------------------------------------------------------------------------------------------------------
async def test_health_ok(dashboard: Dashboard) -> None:
    """Redis and the backend answer: 200 with both connected, no login needed."""
    dashboard.backend.route("GET", "/api/v1/health", data={"status": "ok"})
    response = await dashboard.get("/health")
    body = await response.json()
    assert response.status == 200
    assert body == {
        "status": "ok",
        "timestamp": "2023-11-14T22:13:20+00:00",
        "redis": "connected",
        "backend_api": "connected",
    }


async def test_health_backend_down(dashboard: Dashboard) -> None:
    """The backend failing its health call makes /health a 503 saying so."""
    dashboard.backend.fail(503, path="/api/v1/health")
    response = await dashboard.get("/health")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "error" and body["error"].startswith("Backend API:")
    assert len(dashboard.backend.requests_to("GET", "/api/v1/health")) == 1  # answered now, not retried


async def test_health_redis_down(make_dashboard: DashboardFactory) -> None:
    """Redis not answering makes /health a 503 naming Redis."""
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        dashboard = await make_dashboard(redis_client=unreachable)
        response = await dashboard.get("/health")
        body = await response.json()
        assert response.status == 503 and body["error"].startswith("Redis:")
    finally:
        await unreachable.aclose()


async def test_pages_say_when_redis_is_down(make_dashboard: DashboardFactory) -> None:
    """With Redis not answering, an action shows a clear 503 page instead of a crash."""
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        dashboard = await make_dashboard(redis_client=unreachable)
        await dashboard.text("/login")
        response = await dashboard.post("/login", {"email": "a@example.com", "password": "pw"})
        assert response.status == 503
        assert "The queue&#39;s Redis is not answering." in await response.text()
    finally:
        await unreachable.aclose()


# -- /metrics -----------------------------------------------------------------------------------------------------
async def test_metrics_needs_a_token_or_a_session(dashboard: Dashboard) -> None:
    """Without a session, /metrics answers only to the configured bearer token."""
    response = await dashboard.get("/metrics")
    assert (response.status, response.headers["WWW-Authenticate"]) == (401, "Bearer")
    wrong = await dashboard.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    right = await dashboard.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert right.status == 200
    assert right.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"


async def test_metrics_with_a_session(signed_in: Dashboard) -> None:
    """A signed-in browser can read /metrics too."""
    assert (await signed_in.get("/metrics")).status == 200


async def test_metrics_without_a_configured_token(make_dashboard: DashboardFactory) -> None:
    """With no token configured, no bearer opens /metrics."""
    dashboard = await make_dashboard(metrics_token="")
    response = await dashboard.get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status == 401


async def test_metrics_content(dashboard: Dashboard) -> None:
    """Queue depths, the dead-set size, per-job totals, breaker states and workers, in Prometheus text."""
    for _ in range(2):
        await dashboard.enqueuer.enqueue("Test::RecordJob", ["x"], queue="email", check_name=False)
    await dashboard.enqueuer.enqueue("Test::RecordJob", ["x"], queue="reports", defer_s=60, check_name=False)
    now = dashboard.clock.time()
    await dashboard.deps.dead.add(DeadEntry("d", "Test::RecordJob", [], {}, "q", "E", "m", "", 1, now))
    await dashboard.redis.hset(keys.STATS_JOBS, mapping={"Test::RecordJob|processed": 7, 'Odd"Job|failed': 1})
    registry = BreakerRegistry(clock=dashboard.clock, worker_id="inst-1")
    registry.get("backend_api").open()
    await registry.publish(dashboard.redis)
    await dashboard.redis.zadd(keys.WORKERS, {"inst-1": now})
    response = await dashboard.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    lines = set((await response.text()).splitlines())
    assert {
        "# TYPE powerworker_lane_jobs gauge",
        'powerworker_lane_jobs{lane="default",state="ready"} 2',
        'powerworker_lane_jobs{lane="default",state="scheduled"} 1',
        'powerworker_queue_jobs{queue="email",lane="default",state="ready"} 2',
        'powerworker_queue_jobs{queue="reports",lane="default",state="scheduled"} 1',
        "powerworker_dead_jobs 1",
        "# TYPE powerworker_job_processed_total counter",
        'powerworker_job_processed_total{job="Test::RecordJob"} 7',
        'powerworker_job_failed_total{job="Odd\\"Job"} 1',
        'powerworker_circuit_breaker_state{worker="inst-1",breaker="backend_api",state="open"} 1',
        'powerworker_circuit_breaker_state{worker="inst-1",breaker="backend_api",state="closed"} 0',
        "powerworker_workers_alive 1",
        "powerworker_running_jobs 0",
    } <= lines


def test_exposition_escapes_label_values() -> None:
    """Backslashes, quotes and newlines in label values are escaped as the text format requires."""
    text = exposition([("m", "gauge", "help", [({"a": 'x\\y"z\nw'}, 1.5)])])
    assert text == '# HELP m help\n# TYPE m gauge\nm{a="x\\\\y\\"z\\nw"} 1.5\n'


# -- running it from the settings ---------------------------------------------------------------------------------
async def test_dashboard_built_from_settings(settings: Settings, redis: Redis) -> None:
    """`build_app(settings)` opens its own connections and serves; the development identity signs its JWTs."""
    async with FakeBackend.for_settings(settings) as backend:
        backend.add_user("ops@example.com", "pw")
        served = settings.model_copy(update={"backend_api_url": backend.url, "worker_id": ""})
        async with serve(served) as url, aiohttp.ClientSession() as client:
            async with client.get(url + "/health") as response:
                assert response.status == 200
            async with client.get(url + "/login") as response:
                assert "Sign in" in await response.text()
        assert backend.requests[0].claims is not None
        assert backend.requests[0].claims["sub"] == "development-dashboard"


def test_config_from_settings(settings: Settings) -> None:
    """The dashboard's settings: development secret and plain cookies in test, strict values checked."""
    config = DashboardConfig.from_settings(
        settings.model_copy(update={"queue_lanes": "email=mail", "web_session_cache_s": 30}), version="1.2"
    )
    assert config.session_secret == settings.web_secret and len(config.session_secret) >= 32
    assert (config.secure_cookies, config.lanes, config.session_cache_s) == (False, ("mail",), 30)
    with pytest.raises(ValueError, match="between 0 and 30"):
        DashboardConfig(session_secret=b"x" * 32, session_cache_s=31)


PRODUCTION = {"WORKER_ENV": "production", "WORKER_ID": "w-1", "JWT_SECRET_KEY": "k" * 40}


@pytest.mark.parametrize(
    ("secret", "message"),
    [("", "WEB_SESSION_SECRET: is required"), ("short", "WEB_SESSION_SECRET: must be at least 32 bytes")],
)
def test_web_refuses_to_start_without_a_strong_secret(secret: str, message: str) -> None:
    """Outside development the dashboard will not start without a session secret of 32 bytes or more."""
    result = CliRunner().invoke(main, ["web"], env={**PRODUCTION, "WEB_SESSION_SECRET": secret})
    assert result.exit_code == 1
    assert message in result.output


def test_web_command_serves_on_the_given_address(monkeypatch: pytest.MonkeyPatch) -> None:
    """`powerworker web` serves on WEB_HOST:WEB_PORT, or on --host/--port."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("powerworker.web.serve", lambda settings, host, port, **_: calls.append((host, port)))
    env = {**PRODUCTION, "WEB_SESSION_SECRET": "s" * 32, "WEB_PORT": "9000"}
    assert CliRunner().invoke(main, ["web"], env=env).exit_code == 0
    assert CliRunner().invoke(main, ["web", "--host", "0.0.0.0", "--port", "8080"], env=env).exit_code == 0
    assert calls == [("127.0.0.1", 9000), ("0.0.0.0", 8080)]
