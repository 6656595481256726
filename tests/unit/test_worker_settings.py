"""The arq settings object, the lazy `powerworker.WorkerSettings`, and logging configuration."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

import powerworker
from powerworker.logs import configure_logging
from powerworker.serialization import serialize
from powerworker.settings import Settings, load_settings
from powerworker.worker import build_worker_settings


def test_tuned_defaults(settings: Settings) -> None:
    """Poll delay, concurrency, health check, grace period and JSON payloads are set as documented."""
    cls = build_worker_settings(settings, configure_logs=False)
    assert cls.poll_delay <= 0.05
    assert cls.max_jobs == settings.worker_concurrency
    assert cls.health_check_interval <= 30
    assert cls.job_completion_wait == 25
    assert cls.job_serializer is serialize
    assert cls.queue_name == "arq:queue"
    names = {f.name for f in cls.functions}
    assert {
        "Diagnostics::NoopJob",
        "Diagnostics::EchoJob",
        "Diagnostics::SleepJob",
        "Diagnostics::FailJob",
    } <= names


def test_job_deserializer_never_unpickles(settings: Settings) -> None:
    """A pickled payload is treated as malformed, never loaded."""
    import pickle

    cls = build_worker_settings(settings, configure_logs=False)
    out = cls.job_deserializer(pickle.dumps({"f": "Diagnostics::NoopJob", "a": [], "k": {}, "et": 1}))
    assert out["f"] == "powerworker:malformed"


def test_lazy_worker_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """`powerworker.WorkerSettings` is built from the environment on first access."""
    monkeypatch.setenv("WORKER_ENV", "test")
    monkeypatch.setenv("WORKER_CONCURRENCY", "7")
    monkeypatch.delitem(powerworker.__dict__, "WorkerSettings", raising=False)
    try:
        assert powerworker.WorkerSettings.max_jobs == 7
    finally:
        monkeypatch.delitem(powerworker.__dict__, "WorkerSettings", raising=False)
        structlog.reset_defaults()


def test_lazy_worker_settings_refuses_bad_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad environment ends the process with one line naming the variable."""
    monkeypatch.setenv("WORKER_ENV", "production")
    monkeypatch.delenv("WORKER_ID", raising=False)
    monkeypatch.setenv("JWT_SECRET_KEY", "x" * 40)
    monkeypatch.delitem(powerworker.__dict__, "WorkerSettings", raising=False)
    with pytest.raises(SystemExit) as info:
        _ = powerworker.WorkerSettings
    assert info.value.code == 1
    assert capsys.readouterr().err.strip() == (
        "powerworker: cannot start: WORKER_ID: is required when WORKER_ENV=production"
    )
    with pytest.raises(AttributeError):
        _ = powerworker.NoSuchThing  # type: ignore[attr-defined]


def test_json_logs_outside_development() -> None:
    """Outside development every line, ours and the standard library's, is one JSON object."""
    stream = io.StringIO()
    root_handlers = logging.getLogger().handlers[:]
    root_level = logging.getLogger().level
    try:
        configure_logging(load_settings(worker_env="production", log_level="INFO"), stream=stream)
        structlog.get_logger("t").info("hello", answer=42)
        logging.getLogger("aiohttp.client").warning("from the stdlib")
        logging.getLogger("arq.worker").info("%6.2fs → %s", 0.1, "job")  # arq's per-job line: dropped
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logging.getLogger().handlers[:] = root_handlers
        logging.getLogger().setLevel(root_level)
        structlog.reset_defaults()
    assert lines[0]["event"] == "hello" and lines[0]["answer"] == 42 and lines[0]["level"] == "info"
    assert "timestamp" in lines[0]
    assert lines[1]["event"] == "from the stdlib" and lines[1]["logger"] == "aiohttp.client"
    assert len(lines) == 2


def test_console_logs_in_development() -> None:
    """Development gets readable console lines."""
    stream = io.StringIO()
    root_handlers = logging.getLogger().handlers[:]
    try:
        configure_logging(load_settings(worker_env="development", log_level="bogus"), stream=stream)
        structlog.get_logger("t").info("readable")
    finally:
        logging.getLogger().handlers[:] = root_handlers
        structlog.reset_defaults()
    assert "readable" in stream.getvalue() and not stream.getvalue().startswith("{")
