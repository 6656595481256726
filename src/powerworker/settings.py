"""Settings, read once from the environment at start-up and passed down as plain values.

No other module reads `os.environ`. `load_settings()` is called by the worker, the CLI and the dashboard at
their edge; everything below them takes a `Settings` (or a smaller frozen value made from it) as an argument.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from powerworker.errors import ConfigurationError

__all__ = ["Settings", "load_settings"]

Environment = Literal["development", "test", "staging", "production"]

#: Environments where a missing identity or secret is tolerated (a throw-away development secret is used).
RELAXED_ENVIRONMENTS = frozenset({"development", "test"})
MIN_SECRET_BYTES = 32
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production!"
#: The dashboard's session-cookie secret in development/test when WEB_SESSION_SECRET is not set.
DEVELOPMENT_WEB_SECRET = "development-only-dashboard-session-secret-not-for-production"


class Settings(BaseSettings):
    """Every knob of the worker, the CLI and the dashboard, with its environment variable."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # -- process ---------------------------------------------------------------------------------------------
    worker_env: Environment = Field("development", validation_alias=AliasChoices("WORKER_ENV", "worker_env"))
    worker_id: str = Field("", validation_alias=AliasChoices("WORKER_ID", "worker_id"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", validation_alias=AliasChoices("LOG_FORMAT", "log_format")
    )

    # -- redis and the queue ---------------------------------------------------------------------------------
    redis_url: str = Field(
        "redis://localhost:6379/1", validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    worker_concurrency: int = Field(
        5, ge=1, le=10_000, validation_alias=AliasChoices("WORKER_CONCURRENCY", "worker_concurrency")
    )
    poll_delay_s: float = Field(
        0.05, gt=0, le=0.05, validation_alias=AliasChoices("POLL_DELAY_S", "poll_delay_s")
    )
    health_check_interval_s: float = Field(
        10, gt=0, le=30, validation_alias=AliasChoices("HEALTH_CHECK_INTERVAL_S", "health_check_interval_s")
    )
    job_timeout_s: float = Field(300, gt=0, validation_alias=AliasChoices("JOB_TIMEOUT_S", "job_timeout_s"))
    default_retries: int = Field(
        3,
        ge=0,
        le=25,
        validation_alias=AliasChoices("MAX_RETRY_ATTEMPTS", "DEFAULT_RETRIES", "default_retries"),
    )
    lease_s: float = Field(30, ge=3, le=30, validation_alias=AliasChoices("JOB_LEASE_S", "lease_s"))
    shutdown_grace_s: float = Field(
        25, ge=0, validation_alias=AliasChoices("SHUTDOWN_GRACE_S", "shutdown_grace_s")
    )
    priority_step_s: float = Field(
        30, ge=0, le=3600, validation_alias=AliasChoices("PRIORITY_STEP_S", "priority_step_s")
    )
    worker_lane: str = Field("default", validation_alias=AliasChoices("WORKER_LANE", "worker_lane"))
    queue_lanes: str = Field("", validation_alias=AliasChoices("QUEUE_LANES", "queue_lanes"))
    dead_retention_s: float = Field(
        14 * 86_400, gt=0, validation_alias=AliasChoices("DEAD_RETENTION_S", "dead_retention_s")
    )
    dead_max_jobs: int = Field(10_000, ge=1, validation_alias=AliasChoices("DEAD_MAX_JOBS", "dead_max_jobs"))
    keep_result_s: float = Field(3600, ge=0, validation_alias=AliasChoices("KEEP_RESULT_S", "keep_result_s"))

    # -- the Powernode API -----------------------------------------------------------------------------------
    backend_api_url: str = Field(
        "http://localhost:3000", validation_alias=AliasChoices("BACKEND_API_URL", "backend_api_url")
    )
    worker_service_token: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("WORKER_SERVICE_TOKEN", "JWT_SECRET_KEY", "worker_service_token"),
    )
    jwt_issuer: str = Field("powernode-platform", validation_alias=AliasChoices("JWT_ISSUER", "jwt_issuer"))
    jwt_audience: str = Field("powernode-api", validation_alias=AliasChoices("JWT_AUDIENCE", "jwt_audience"))
    api_timeout_s: float = Field(120, gt=0, validation_alias=AliasChoices("API_TIMEOUT", "api_timeout_s"))
    http_pool_size: int = Field(100, ge=1, validation_alias=AliasChoices("HTTP_POOL_SIZE", "http_pool_size"))
    http_pool_per_host: int = Field(
        0, ge=0, validation_alias=AliasChoices("HTTP_POOL_PER_HOST", "http_pool_per_host")
    )
    http_connect_timeout_s: float = Field(
        10, gt=0, validation_alias=AliasChoices("HTTP_CONNECT_TIMEOUT_S", "http_connect_timeout_s")
    )
    http_keepalive_s: float = Field(
        30, ge=0, validation_alias=AliasChoices("HTTP_KEEPALIVE_S", "http_keepalive_s")
    )

    # -- schedule and dashboard ------------------------------------------------------------------------------
    cron_timezone: str = Field("UTC", validation_alias=AliasChoices("CRON_TIMEZONE", "cron_timezone"))
    schedule: str = Field("powerworker.cron:SCHEDULE", validation_alias=AliasChoices("SCHEDULE", "schedule"))
    scheduler_enabled: bool = Field(
        True, validation_alias=AliasChoices("SCHEDULER_ENABLED", "scheduler_enabled")
    )
    job_modules: str = Field("", validation_alias=AliasChoices("JOB_MODULES", "job_modules"))
    backup_retention_days: int = Field(
        30, ge=1, validation_alias=AliasChoices("BACKUP_RETENTION_DAYS", "backup_retention_days")
    )
    web_host: str = Field(
        "127.0.0.1", validation_alias=AliasChoices("WEB_HOST", "SIDEKIQ_WEB_HOST", "web_host")
    )
    web_port: int = Field(4567, validation_alias=AliasChoices("WEB_PORT", "SIDEKIQ_WEB_PORT", "web_port"))

    # -- dashboard (the `powerworker web` process) -----------------------------------------------------------
    #: Key material of the session cookie (encrypted and signed); required outside development/test, >= 32 bytes.
    web_session_secret: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("WEB_SESSION_SECRET", "web_session_secret")
    )
    #: Bearer token that lets a scraper read `/metrics` without a browser session; empty = session only.
    web_metrics_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("WEB_METRICS_TOKEN", "web_metrics_token")
    )
    #: How long a positive session check by the backend is reused (at most 30 s; 0 = check every page).
    web_session_cache_s: float = Field(
        10, ge=0, le=30, validation_alias=AliasChoices("WEB_SESSION_CACHE_S", "web_session_cache_s")
    )
    #: Login attempts allowed per account, and per client address, within `web_login_window_s`.
    web_login_attempts: int = Field(
        5, ge=1, le=1000, validation_alias=AliasChoices("WEB_LOGIN_ATTEMPTS", "web_login_attempts")
    )
    web_login_ip_attempts: int = Field(
        20, ge=1, le=10_000, validation_alias=AliasChoices("WEB_LOGIN_IP_ATTEMPTS", "web_login_ip_attempts")
    )
    web_login_window_s: float = Field(
        900, gt=0, le=86_400, validation_alias=AliasChoices("WEB_LOGIN_WINDOW_S", "web_login_window_s")
    )

    @field_validator("worker_env", mode="before")
    @classmethod
    def _lower_env(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def relaxed(self) -> bool:
        """Development and test tolerate a missing identity and use a throw-away secret."""
        return self.worker_env in RELAXED_ENVIRONMENTS

    @property
    def jwt_secret(self) -> str:
        """The HS256 signing secret (a fixed development secret when none is set in development/test)."""
        secret = self.worker_service_token.get_secret_value()
        return secret or (DEVELOPMENT_SECRET if self.relaxed else "")

    @property
    def extra_job_modules(self) -> list[str]:
        """Modules outside `powerworker.jobs` that register jobs (`JOB_MODULES="myapp.jobs,other.jobs"`)."""
        return [m.strip() for m in self.job_modules.split(",") if m.strip()]

    @property
    def lanes(self) -> dict[str, str]:
        """Logical queue -> lane, from `QUEUE_LANES="email=mail,ai_agents=ai"`; unlisted queues use `default`."""
        table: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in self.queue_lanes.split(","))):
            queue, sep, lane = item.partition("=")
            if not sep or not queue.strip() or not lane.strip():
                raise ConfigurationError("QUEUE_LANES", f"entry {item!r} is not of the form queue=lane")
            table[queue.strip()] = lane.strip()
        return table

    def check_for_start(self) -> None:
        """Refuse to start a real (non development/test) worker without its identity and a strong secret.

        Raises:
            ConfigurationError: naming the first variable at fault.
        """
        self.lanes  # noqa: B018 - validates QUEUE_LANES in every environment
        if self.relaxed:
            return
        if not self.worker_id:
            raise ConfigurationError("WORKER_ID", f"is required when WORKER_ENV={self.worker_env}")
        secret = self.worker_service_token.get_secret_value()
        if not secret:
            raise ConfigurationError(
                "WORKER_SERVICE_TOKEN", f"(or JWT_SECRET_KEY) is required when WORKER_ENV={self.worker_env}"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigurationError(
                "WORKER_SERVICE_TOKEN",
                f"must be at least {MIN_SECRET_BYTES} bytes long (got {len(secret.encode())})",
            )

    # -- dashboard -------------------------------------------------------------------------------------------
    @property
    def web_secret(self) -> bytes:
        """The session cookie's key material (a fixed development value when none is set in development/test)."""
        secret = self.web_session_secret.get_secret_value()
        return (secret or (DEVELOPMENT_WEB_SECRET if self.relaxed else "")).encode()

    def check_for_web(self) -> None:
        """Refuse to start the dashboard outside development/test without a strong session secret.

        Raises:
            ConfigurationError: naming the variable at fault.
        """
        self.check_for_start()  # the dashboard signs worker JWTs towards the server too
        if self.relaxed:
            return
        secret = self.web_session_secret.get_secret_value().encode()
        if len(secret) < MIN_SECRET_BYTES:
            problem = "is required" if not secret else f"must be at least {MIN_SECRET_BYTES} bytes long"
            raise ConfigurationError("WEB_SESSION_SECRET", f"{problem} when WORKER_ENV={self.worker_env}")


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; keyword overrides win (tests and the CLI use them)."""
    return Settings(**overrides)  # type: ignore[arg-type]
