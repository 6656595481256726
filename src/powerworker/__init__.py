"""powerworker: an asyncio-native background-job runner on arq for the Powernode platform.

Run it with `arq powerworker.WorkerSettings`. `WorkerSettings` is built on first access from the environment
(see `powerworker.settings`), so importing powerworker reads nothing.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from arq import Retry

from powerworker.context import JobContext
from powerworker.errors import ApiError, ConfigurationError, PermanentJobError, PowerworkerError
from powerworker.jobs.base import job
from powerworker.settings import Settings, load_settings

try:
    __version__ = version("powerworker")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = [
    "ApiError",
    "ConfigurationError",
    "JobContext",
    "PermanentJobError",
    "PowerworkerError",
    "Retry",
    "Settings",
    "WorkerSettings",
    "job",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name == "WorkerSettings":
        from powerworker.runner import install
        from powerworker.worker import build_worker_settings

        try:
            settings_cls = build_worker_settings()
        except ConfigurationError as exc:
            print(f"powerworker: cannot start: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
        install()  # `arq powerworker.WorkerSettings` then runs powerworker's worker class
        globals()["WorkerSettings"] = settings_cls
        return settings_cls
    raise AttributeError(f"module 'powerworker' has no attribute {name!r}")
