"""Real worker processes (`python -m arq powerworker.WorkerSettings`) whose JSON log lines tests wait on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.slow


class WorkerProcess:
    """A worker subprocess; its log events are collected and can be awaited."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            async with self._changed:
                self.events.append(event)
                self._changed.notify_all()
        async with self._changed:
            self._changed.notify_all()

    def matching(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(self, event: str, timeout: float = 15, **fields: Any) -> dict[str, Any]:
        """Wait until the worker logs `event` with the given fields."""

        async def seen() -> dict[str, Any]:
            async with self._changed:
                while True:
                    found = self.matching(event, **fields)
                    if found:
                        return found[0]
                    if self._reader.done():
                        raise AssertionError(
                            f"worker exited before logging {event}:\n" + "\n".join(self.lines)
                        )
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(seen(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no {event} {fields} within {timeout}s:\n" + "\n".join(self.lines[-30:])
            ) from None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.proc.send_signal(sig)

    async def exited(self, timeout: float = 15) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return code


def worker_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("WORKER_", "QUEUE_", "JOB_", "SHUTDOWN_"))
    }
    env.update(
        {
            "REDIS_URL": TEST_REDIS_URL,
            "WORKER_ENV": "test",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "DEBUG",
            "WORKER_CONCURRENCY": "4",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


SpawnWorker = Callable[..., AbstractAsyncContextManager[WorkerProcess]]


@pytest.fixture
def spawn_worker(redis: Redis) -> SpawnWorker:
    """Factory: `async with spawn_worker(SHUTDOWN_GRACE_S="2") as w:` runs a real worker process."""

    @asynccontextmanager
    async def spawn(*args: str, **env: str) -> AsyncIterator[WorkerProcess]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "arq",
            "powerworker.WorkerSettings",
            *args,
            env=worker_env(**env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        worker = WorkerProcess(proc)
        try:
            yield worker
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await worker._reader

    return spawn
