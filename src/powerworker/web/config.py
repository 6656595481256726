"""The dashboard's own settings: a small frozen value made once from `Settings` at the process's edge."""

from __future__ import annotations

from dataclasses import dataclass

from powerworker.settings import Settings

__all__ = ["SESSION_MAX_AGE_S", "DashboardConfig"]

#: A dashboard session lasts 24 h (the backend's session lives as long).
SESSION_MAX_AGE_S = 86_400


@dataclass(frozen=True)
class DashboardConfig:
    """What the dashboard needs to know, apart from its connections.

    Args:
        session_secret: key material of the session cookie (at least 32 bytes outside development).
        secure_cookies: mark cookies `Secure` (and name the session `__Host-...`); off in development/test.
        metrics_token: bearer token for `/metrics` without a session; empty = session only.
        session_cache_s: how long a positive session check by the backend is reused (0 to 30 s).
        login_attempts / login_ip_attempts: attempts allowed per account and per client address...
        login_window_s: ...within this many seconds.
        lanes: configured lanes (`QUEUE_LANES` values); the default lane and lanes found in Redis are added.
        environment: shown in the page footer.
        version: shown in the page footer.
        cron_timezone: the zone schedule times are shown in.
    """

    session_secret: bytes
    secure_cookies: bool = True
    metrics_token: str = ""
    session_cache_s: float = 10.0
    login_attempts: int = 5
    login_ip_attempts: int = 20
    login_window_s: float = 900.0
    lanes: tuple[str, ...] = ()
    environment: str = "production"
    version: str = ""
    cron_timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not 0 <= self.session_cache_s <= 30:
            raise ValueError("session_cache_s must be between 0 and 30 seconds")
        if not self.session_secret:
            raise ValueError("session_secret is required")

    @classmethod
    def from_settings(cls, settings: Settings, *, version: str = "") -> DashboardConfig:
        """The dashboard's view of the process settings."""
        return cls(
            session_secret=settings.web_secret,
            secure_cookies=not settings.relaxed,
            metrics_token=settings.web_metrics_token.get_secret_value(),
            session_cache_s=settings.web_session_cache_s,
            login_attempts=settings.web_login_attempts,
            login_ip_attempts=settings.web_login_ip_attempts,
            login_window_s=settings.web_login_window_s,
            lanes=tuple(sorted(set(settings.lanes.values()))),
            environment=settings.worker_env,
            version=version,
            cron_timezone=settings.cron_timezone,
        )
