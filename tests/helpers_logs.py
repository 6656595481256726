"""Make `structlog.testing.capture_logs` see every event, whatever logging setup earlier tests left behind.

A test that calls `configure_logging` leaves structlog filtering by level with `cache_logger_on_first_use`,
and a module-level logger first used then keeps that filter for the rest of the process: `capture_logs`
would then miss INFO events. `fresh_loggers` resets structlog's configuration and gives the named modules
new logger proxies for the length of a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
import structlog

__all__ = ["fresh_loggers"]


def fresh_loggers(monkeypatch: pytest.MonkeyPatch, *modules: ModuleType) -> Iterator[None]:
    """Reset structlog and each module's `log` for one test (use from a yield fixture)."""
    structlog.reset_defaults()
    for module in modules:
        monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))
    yield
    structlog.reset_defaults()
