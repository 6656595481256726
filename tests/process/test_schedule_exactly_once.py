"""Three real worker processes share one Redis and a seconds-resolution schedule: every tick runs once."""

from __future__ import annotations

import asyncio
import math
import signal
import time

import pytest
from redis.asyncio import Redis

from tests.process.conftest import SpawnWorker, WorkerProcess

pytestmark = pytest.mark.slow

SCHEDULE_ENV = {
    "SCHEDULER_ENABLED": "true",
    "SCHEDULE": "tests.schedule_for_tests:SCHEDULE",
    "JOB_MODULES": "tests.jobs_for_tests",
    "JOB_LEASE_S": "3",
}
N_TICKS = 6


async def completed_anywhere(workers: list[WorkerProcess], job_id: str) -> None:
    waits = [asyncio.create_task(w.wait_for("job.completed", timeout=30, job_id=job_id)) for w in workers]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    if not any(task.exception() is None for task in done):
        raise next(iter(done)).exception()  # type: ignore[misc]


def runs_of(raw: list[bytes], first: int, last: int) -> list[tuple[int, int]]:
    """(tick in seconds, try) of each recorded run inside the window."""
    runs = []
    for item in raw:
        job_id, job_try = item.decode().split("|")
        tick = int(job_id.rsplit(":", 1)[1]) // 1000
        if first <= tick <= last:
            runs.append((tick, int(job_try)))
    return runs


def assert_once_per_tick(runs: list[tuple[int, int]], expected_ticks: list[int]) -> None:
    """Each tick was enqueued once (one first try) and none was lost; a second try only follows a crash."""
    first_tries = sorted(tick for tick, job_try in runs if job_try == 1)
    assert first_tries == expected_ticks
    redelivered = [tick for tick, job_try in runs if job_try > 1]
    assert (
        len(redelivered) <= 1
    )  # at most the job the killed worker held when it died (at-least-once delivery)


@pytest.mark.parametrize("kill_one", [False, True], ids=["all-alive", "one-killed"])
async def test_each_tick_runs_exactly_once(redis: Redis, spawn_worker: SpawnWorker, kill_one: bool) -> None:
    """Over N ticks each entry runs exactly N times (every 1 s and every 2 s), even if a worker is killed."""
    async with (
        spawn_worker(**SCHEDULE_ENV) as a,
        spawn_worker(**SCHEDULE_ENV) as b,
        spawn_worker(**SCHEDULE_ENV) as c,
    ):
        workers = everyone = [a, b, c]
        for w in workers:
            await w.wait_for("worker.started")
        first = math.ceil(time.time()) + 1
        last = first + N_TICKS - 1
        if kill_one:
            await completed_anywhere(workers, f"schedule:every_second:{(first + 2) * 1000}")
            b.kill(signal.SIGKILL)
            await b.exited()
            workers = [a, c]
        await completed_anywhere(workers, f"schedule:every_second:{(last + 1) * 1000}")
        await completed_anywhere(workers, f"schedule:every_two_seconds:{(last + 1 + (last + 1) % 2) * 1000}")
        for w in workers:
            w.kill(signal.SIGTERM)
        for w in workers:
            assert await w.exited() == 0
    every_second = runs_of(await redis.lrange("test:ticks:every_second", 0, -1), first, last)
    every_two = runs_of(await redis.lrange("test:ticks:every_two_seconds", 0, -1), first, last)
    try:
        assert_once_per_tick(every_second, list(range(first, last + 1)))
        assert_once_per_tick(every_two, [t for t in range(first, last + 1) if t % 2 == 0])
    except AssertionError as exc:
        lines = [
            f"worker {i}: {line}"
            for i, w in enumerate(everyone)
            for line in w.lines
            if "schedule" in line or "started" in line
        ]
        raise AssertionError(f"first={first} last={last} runs={every_second}\n" + "\n".join(lines)) from exc
    if not kill_one:
        assert all(job_try == 1 for _, job_try in every_second + every_two)


async def test_disable_stops_every_worker_within_a_tick(redis: Redis, spawn_worker: SpawnWorker) -> None:
    """Disabling a schedule stops it on all workers from the next tick; enabling resumes it."""
    from powerworker.scheduler import STATES_KEY

    async with spawn_worker(**SCHEDULE_ENV) as a, spawn_worker(**SCHEDULE_ENV) as b:
        workers = [a, b]
        for w in workers:
            await w.wait_for("worker.started")
        start = math.ceil(time.time()) + 1
        await completed_anywhere(workers, f"schedule:every_second:{start * 1000}")
        await redis.hset(STATES_KEY, "every_second", "disabled")
        disabled_at = time.time()
        await completed_anywhere(
            workers, f"schedule:every_two_seconds:{(math.ceil(disabled_at / 2) * 2 + 4) * 1000}"
        )
        await redis.hset(STATES_KEY, "every_second", "enabled")
        enabled_at = time.time()
        resumed = math.ceil(enabled_at) + 1
        await completed_anywhere(workers, f"schedule:every_second:{resumed * 1000}")
        for w in workers:
            w.kill(signal.SIGTERM)
        for w in workers:
            assert await w.exited() == 0
    runs = runs_of(await redis.lrange("test:ticks:every_second", 0, -1), start, resumed)
    ticks = sorted(tick for tick, _ in runs)
    skipped = [e for w in workers for e in w.matching("schedule.skipped_disabled", schedule="every_second")]
    assert skipped  # the workers saw the ticks and skipped them
    # No tick that fell due more than one tick after disabling ran; every tick after re-enabling did.
    assert not [t for t in ticks if disabled_at + 1 < t < enabled_at]
    assert ticks[-1] == resumed
