"""Structured logging: structlog everywhere, JSON lines outside development.

Standard-library loggers (arq, aiohttp, asyncio) are routed through the same processors, so one process
writes one format. arq's own per-job lines are dropped: the base layer logs each job with its bound context.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from powerworker.settings import Settings

__all__ = ["configure_logging"]


class _DropArqJobLines(logging.Filter):
    """arq logs every start and finish as `%6.2fs → ...`; the base layer's job.* events replace them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.name == "arq.worker" and isinstance(record.msg, str) and record.msg.startswith("%6.2fs")
        )


def configure_logging(settings: Settings, *, stream: Any = None, cache: bool | None = None) -> None:
    """Configure structlog and the standard library once per process.

    JSON is used outside development (or when LOG_FORMAT=json); development gets coloured console lines.
    Loggers are cached on first use (they then keep this configuration) except in the test environment,
    where one process configures logging many times.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    as_json = settings.log_format == "json" or (
        settings.log_format == "auto" and settings.worker_env not in ("development",)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=getattr(stream or sys.stderr, "isatty", lambda: False)())
    )
    exc_processors: list[Any] = [structlog.processors.dict_tracebacks] if as_json else []
    structlog.configure(
        processors=[*shared, structlog.processors.StackInfoRenderer(), *exc_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=settings.worker_env != "test" if cache is None else cache,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exc_processors,
                renderer,
            ],
        )
    )
    handler.addFilter(_DropArqJobLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("arq", "arq.worker", "arq.jobs", "arq.connections"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
