"""Settings: defaults, aliases, and the start-up checks."""

from __future__ import annotations

import pytest

from powerworker.errors import ConfigurationError
from powerworker.settings import Settings, load_settings


def test_defaults_match_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty environment the defaults are the original worker's intended ones."""
    for var in ("WORKER_ENV", "REDIS_URL", "WORKER_CONCURRENCY", "BACKEND_API_URL", "JWT_SECRET_KEY"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert (s.worker_env, s.redis_url, s.worker_concurrency) == ("development", "redis://localhost:6379/1", 5)
    assert (s.backend_api_url, s.job_timeout_s, s.default_retries) == ("http://localhost:3000", 300, 3)
    assert (s.dead_retention_s, s.dead_max_jobs) == (14 * 86_400, 10_000)
    assert s.poll_delay_s <= 0.05
    assert s.health_check_interval_s <= 30
    assert s.lease_s <= 30
    assert (s.jwt_issuer, s.jwt_audience) == ("powernode-platform", "powernode-api")


def test_environment_variables_and_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables are read by their names, and JWT_SECRET_KEY is accepted for the signing secret."""
    monkeypatch.setenv("WORKER_CONCURRENCY", "17")
    monkeypatch.setenv("JWT_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("WORKER_ENV", "Production")
    s = load_settings()
    assert s.worker_concurrency == 17
    assert s.jwt_secret == "s" * 40
    assert s.worker_env == "production"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"WORKER_ENV": "production", "JWT_SECRET_KEY": "s" * 40}, "WORKER_ID"),
        ({"WORKER_ENV": "staging", "WORKER_ID": "w-1"}, "WORKER_SERVICE_TOKEN"),
        (
            {"WORKER_ENV": "production", "WORKER_ID": "w-1", "WORKER_SERVICE_TOKEN": "short"},
            "WORKER_SERVICE_TOKEN",
        ),
        (
            {
                "WORKER_ENV": "production",
                "WORKER_ID": "w",
                "JWT_SECRET_KEY": "s" * 40,
                "QUEUE_LANES": "email",
            },
            "QUEUE_LANES",
        ),
    ],
)
def test_start_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    """Outside development a missing identity, a missing or short secret, or bad lanes stop the start."""
    for key in ("WORKER_ID", "JWT_SECRET_KEY", "WORKER_SERVICE_TOKEN", "QUEUE_LANES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings().check_for_start()
    assert info.value.variable == variable
    assert str(info.value).startswith(variable)


def test_development_starts_without_identity() -> None:
    """Development and test use a throw-away secret so a laptop needs no configuration."""
    s = Settings(worker_env="test", worker_service_token="")  # type: ignore[arg-type]
    s.check_for_start()
    assert len(s.jwt_secret) >= 32


def test_lanes_parse() -> None:
    """QUEUE_LANES maps logical queues to lanes."""
    s = load_settings(queue_lanes=" email=mail , ai_agents=ai ")
    assert s.lanes == {"email": "mail", "ai_agents": "ai"}


def test_poll_delay_is_capped() -> None:
    """A poll delay above 50 ms is refused: pickup latency is part of the contract."""
    with pytest.raises(ValueError, match="poll_delay_s"):
        load_settings(poll_delay_s=0.5)
