"""Crash safety with real processes: kill -9 mid-job, SIGTERM draining, the arq CLI and the liveness probe."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import pytest
from arq.jobs import Job
from redis.asyncio import Redis

from powerworker import keys
from powerworker.enqueue import Enqueuer
from powerworker.jobs.base import load_jobs
from powerworker.queues import QueueRouter
from powerworker.serialization import make_job_deserializer
from tests.conftest import TEST_REDIS_URL
from tests.process.conftest import SpawnWorker, worker_env

pytestmark = pytest.mark.slow


def enqueuer(redis: Redis) -> Enqueuer:
    return Enqueuer(redis, QueueRouter(), {n: s.queue for n, s in load_jobs().items()})


async def result_of(redis: Redis, job_id: str, timeout: float) -> object:
    job = Job(job_id, redis, _deserializer=make_job_deserializer(load_jobs().keys()))
    return await job.result(timeout=timeout, poll_delay=0.1)


async def test_kill_9_mid_job_reruns_on_second_worker_within_45s(
    redis: Redis, spawn_worker: SpawnWorker
) -> None:
    """After kill -9 of its worker, a job is re-run by another worker within 45 s (default 30 s lease)."""
    async with spawn_worker() as first, spawn_worker() as second:
        await first.wait_for("worker.started")
        await second.wait_for("worker.started")
        job_id = await enqueuer(redis).enqueue("Diagnostics::SleepJob", [2])
        assert job_id is not None
        started = await asyncio.wait_for(_first_start(first, second, job_id), 15)
        survivor = second if started is first else first
        started.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        await started.exited()
        assert await result_of(redis, job_id, timeout=45) == 2
        elapsed = time.monotonic() - killed_at
        rerun = await survivor.wait_for("job.completed", job_id=job_id)
    assert elapsed < 45
    assert rerun["job_try"] == 2


async def _first_start(a: object, b: object, job_id: str) -> object:
    from tests.process.conftest import WorkerProcess

    assert isinstance(a, WorkerProcess)
    assert isinstance(b, WorkerProcess)
    wa = asyncio.create_task(a.wait_for("job.started", timeout=15, job_id=job_id))
    wb = asyncio.create_task(b.wait_for("job.started", timeout=15, job_id=job_id))
    done, pending = await asyncio.wait({wa, wb}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return a if wa in done else b


async def test_sigterm_drains_then_hands_back(redis: Redis, spawn_worker: SpawnWorker) -> None:
    """SIGTERM: no new jobs, running ones get the grace period, the rest go back to the queue untouched."""
    queue = enqueuer(redis)
    async with spawn_worker(SHUTDOWN_GRACE_S="2") as worker:
        await worker.wait_for("worker.started")
        short = await queue.enqueue("Diagnostics::SleepJob", [0.5])
        long = await queue.enqueue("Diagnostics::SleepJob", [60])
        await worker.wait_for("job.started", job_id=short)
        await worker.wait_for("job.started", job_id=long)
        worker.kill(signal.SIGTERM)
        late = await queue.enqueue("Diagnostics::EchoJob", ["late"])
        code = await worker.exited(timeout=20)
    assert code == 0
    assert await result_of(redis, short or "", timeout=1) == 0.5
    assert worker.matching("job.handed_back", job_id=long)
    assert not worker.matching("job.started", job_id=late)
    assert await redis.zscore(keys.DEFAULT_LANE_KEY, long or "") is not None
    assert not await redis.exists(keys.IN_PROGRESS_PREFIX + (long or ""))
    assert await redis.get(keys.RETRY_PREFIX + (long or "")) == b"0"
    async with spawn_worker() as successor:
        rerun = await successor.wait_for("job.started", job_id=long)
        await successor.wait_for("job.completed", job_id=late)
    assert rerun["job_try"] == 1


async def test_cli_ping_and_health_check(redis: Redis, spawn_worker: SpawnWorker) -> None:
    """`powerworker ping` gets an answer from a live worker; `arq --check` passes only while one runs."""
    async with spawn_worker() as worker:
        await worker.wait_for("worker.started")
        ping = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "powerworker",
            "ping",
            "--timeout",
            "15",
            env=worker_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await ping.communicate()
        assert ping.returncode == 0, out.decode()
        assert out.decode().startswith("pong in")
        check = await _check()
        assert check == 0
        worker.kill(signal.SIGTERM)
        assert await worker.exited() == 0
    assert await _check() == 1


async def _check() -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "powerworker.WorkerSettings",
        "--check",
        env=worker_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


async def test_production_without_identity_refuses_to_start() -> None:
    """Outside development a missing WORKER_ID stops the worker with one line naming it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "powerworker.WorkerSettings",
        env=worker_env(WORKER_ENV="production", JWT_SECRET_KEY="x" * 40),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 1
    assert (
        out.decode().strip() == "powerworker: cannot start: WORKER_ID: is required when WORKER_ENV=production"
    )
    assert TEST_REDIS_URL


async def test_powerworker_worker_command_runs_in_burst(redis: Redis) -> None:
    """`powerworker worker --burst` runs what is due and exits."""
    job_id = await enqueuer(redis).enqueue("Diagnostics::EchoJob", ["burst"])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "powerworker",
        "worker",
        "--burst",
        env=worker_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert await result_of(redis, job_id or "", timeout=1) == "burst"
