"""The scheduler against a real Redis: exactly-once ticks, operator control, listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from redis.asyncio import Redis

from powerworker.cron import ScheduleEntry
from powerworker.enqueue import Enqueuer
from powerworker.queues import QueueRouter
from powerworker.scheduler import LAST_RUNS_KEY, Scheduler
from powerworker.testing import FakeClock

BACKUP = ScheduleEntry(
    "daily_database_backup",
    "0 2 * * *",
    "Maintenance::ScheduledBackupJob",
    "maintenance",
    kwargs={"backup_type": "full"},
)
LAST_DAY = ScheduleEntry("month_end", "0 3 L * *", "Test::TickJob", "default", args=("month_end",))
TICK_MS = int(datetime(2026, 3, 1, 2, tzinfo=UTC).timestamp() * 1000)


def make(redis: Redis, clock: FakeClock) -> Scheduler:
    enqueuer = Enqueuer(redis, QueueRouter(), {}, clock=clock, check_names=False)
    return Scheduler(redis, enqueuer, [BACKUP, LAST_DAY], clock=clock)


async def test_a_tick_is_enqueued_once_however_often_it_fires(redis: Redis, clock: FakeClock) -> None:
    """Three workers firing the same tick enqueue one job, with the schedule's queue and arguments."""
    scheduler = make(redis, clock)
    outcomes = [await scheduler.fire(BACKUP, TICK_MS) for _ in range(3)]
    assert outcomes == [1, 0, 0]
    job_id = f"schedule:daily_database_backup:{TICK_MS}"
    payload = json.loads(await redis.get(f"arq:job:{job_id}"))
    assert payload["f"] == "Maintenance::ScheduledBackupJob" and payload["k"] == {"backup_type": "full"}
    assert payload["q"] == "maintenance"
    assert await redis.zcard("arq:queue") == 1
    assert await redis.hget(LAST_RUNS_KEY, "daily_database_backup") == str(TICK_MS).encode()


async def test_disable_and_enable(redis: Redis, clock: FakeClock) -> None:
    """A disabled schedule skips its ticks on every worker; re-enabled, it fires again."""
    scheduler = make(redis, clock)
    await scheduler.set_enabled("daily_database_backup", False)
    assert await scheduler.fire(BACKUP, TICK_MS) == -1
    assert await redis.zcard("arq:queue") == 0
    await scheduler.set_enabled("daily_database_backup", True)
    assert await scheduler.fire(BACKUP, TICK_MS + 86_400_000) == 1


async def test_inexact_expression_skips_non_matching_ticks(redis: Redis, clock: FakeClock) -> None:
    """`L` fires through arq on every day; only the last day of the month enqueues."""
    scheduler = make(redis, clock)
    not_last = int(datetime(2026, 4, 29, 3, tzinfo=UTC).timestamp() * 1000)
    last = int(datetime(2026, 4, 30, 3, tzinfo=UTC).timestamp() * 1000)
    assert await scheduler.fire(LAST_DAY, not_last, check_match=True) == 2
    assert await scheduler.fire(LAST_DAY, last, check_match=True) == 1


async def test_run_now_enqueues_once_per_request(redis: Redis, clock: FakeClock) -> None:
    """Triggering enqueues the job once, outside the schedule's ticks."""
    scheduler = make(redis, clock)
    job_id = await scheduler.trigger("daily_database_backup")
    assert job_id.startswith("schedule:daily_database_backup:now:")
    assert await redis.zcard("arq:queue") == 1


async def test_rows_show_next_last_and_state(redis: Redis, clock: FakeClock) -> None:
    """Listing gives each entry's next run by croniter, its last claimed tick and its state."""
    clock.advance(datetime(2026, 3, 1, 1, tzinfo=UTC).timestamp() - clock.time())
    scheduler = make(redis, clock)
    await scheduler.fire(BACKUP, TICK_MS - 86_400_000)
    await scheduler.set_enabled("month_end", False)
    rows = {row.entry.name: row for row in await scheduler.rows()}
    assert rows["daily_database_backup"].next_run == datetime(2026, 3, 1, 2, tzinfo=UTC)
    assert rows["daily_database_backup"].last_run == datetime(2026, 2, 28, 2, tzinfo=UTC)
    assert rows["daily_database_backup"].enabled
    assert rows["month_end"].next_run == datetime(2026, 3, 31, 3, tzinfo=UTC)
    assert rows["month_end"].last_run is None and not rows["month_end"].enabled


async def test_unknown_schedule_name(redis: Redis, clock: FakeClock) -> None:
    """Acting on a schedule that does not exist says so."""
    import pytest

    scheduler = make(redis, clock)
    with pytest.raises(KeyError, match="no schedule named"):
        await scheduler.set_enabled("nope", False)
