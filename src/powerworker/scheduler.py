"""Running the schedule: arq cron jobs that claim each tick exactly once and enqueue the scheduled job.

arq's own cron can run a tick twice across workers (arq issue #196): its deduplication lasts only while the job
is queued, running, or has a kept result. Here every worker's arq cron fires a small internal job for each tick,
and that job runs one Lua script that (1) skips the tick if the schedule is disabled, (2) claims the tick in
`powerworker:schedule:pushed:<name>` (ZADD NX, kept 48 h), and (3) enqueues the scheduled job with the id
`schedule:<name>:<tick ms>`, all atomically. Whatever happens to a worker, a tick is enqueued once or not at all,
and the enqueued job is then as safe as any other (lease, retries, dead set).

Expressions arq cannot express exactly (`L`, `W`, `#`, day-of-month together with day-of-week) are given to
arq as a superset, and the internal job skips the ticks croniter says do not match.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from arq.cron import CronJob, cron
from croniter import croniter
from redis.asyncio import Redis

from powerworker.clock import Clock, system_clock
from powerworker.cron import ScheduleEntry, next_fire
from powerworker.enqueue import ENQUEUE_SCRIPT, Enqueuer

__all__ = ["ScheduleRow", "Scheduler", "arq_cron_jobs", "load_schedule", "to_arq_fields"]

log = structlog.get_logger(__name__)

#: Schedule state: hash name -> "enabled" | "disabled". The CLI and dashboard write; every worker's fire reads.
STATES_KEY = "powerworker:schedule:states"
#: Last claimed tick (ms) per schedule. Written by the fire script; read by the CLI and dashboard.
LAST_RUNS_KEY = "powerworker:schedule:last_runs"
#: Claimed ticks of one schedule: sorted set tick ms -> tick ms, trimmed to 48 h.
PUSHED_PREFIX = "powerworker:schedule:pushed:"
PUSHED_KEEP_MS = 48 * 3600 * 1000
CRON_PREFIX = "cron:"  # arq's cron job names (and its fire jobs' ids: cron:<name>:<tick ms>)
JOB_PREFIX = "schedule:"  # ids of the jobs the schedule enqueues: schedule:<name>:<tick ms>

# KEYS: pushed, states, last runs, job key, result key, lane.
# ARGV: tick ms, name, payload, score, ttl ms, job id, trim before ms.
# Returns -1 disabled, 0 already claimed, 1 enqueued.
_FIRE = """
if redis.call('HGET', KEYS[2], ARGV[2]) == 'disabled' then return -1 end
if redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[7])
redis.call('PEXPIRE', KEYS[1], 172800000)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
if redis.call('EXISTS', KEYS[4], KEYS[5]) == 0 then
  redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[5])
  redis.call('ZADD', KEYS[6], ARGV[4], ARGV[6])
end
return 1
"""
assert "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])" in ENQUEUE_SCRIPT  # the same writes as enqueue


def load_schedule(path: str) -> tuple[ScheduleEntry, ...]:
    """Import a schedule given as `module:ATTRIBUTE` (default `powerworker.cron:SCHEDULE`)."""
    module, _, attribute = path.partition(":")
    entries = getattr(importlib.import_module(module), attribute or "SCHEDULE")
    return tuple(entries)


@dataclass(frozen=True)
class ArqFields:
    """An expression in arq's terms; `exact` is False when arq fires on a superset that must be filtered."""

    second: set[int] | None
    minute: set[int] | None
    hour: set[int] | None
    day: set[int] | None
    month: set[int] | None
    weekday: set[int] | None
    exact: bool


def to_arq_fields(expression: str) -> ArqFields:
    """Translate a cron expression (5 fields, or 6 with seconds last) into arq's cron options.

    cron's Sunday (0 or 7) is arq's 6; Monday (1) is arq's 0.
    """
    fields, nth_weekday = croniter.expand(expression)
    exact = not nth_weekday

    def numeric(values: Sequence[Any]) -> set[int] | None:
        nonlocal exact
        if list(values) == ["*"]:
            return None
        if any(not isinstance(v, int) for v in values):
            exact = False  # L, W ...: fire every day of the field, filter with croniter
            return None
        return {int(v) for v in values}

    minute, hour, day, month, weekday = (numeric(values) for values in fields[:5])
    second = numeric(fields[5]) if len(fields) == 6 else {0}
    raw = expression.lower().split()
    if "w" in raw[2] or "l" in raw[2]:  # nearest weekday / last day: croniter's expansion drops the marker
        day, exact = None, False
    if "l" in raw[4] or "#" in raw[4]:
        weekday, exact = None, False
    if day is not None and weekday is not None:  # cron ORs them, arq ANDs them
        day, weekday, exact = None, None, False
    if nth_weekday:
        weekday = None
    arq_weekday = None if weekday is None else {(v - 1) % 7 for v in weekday}
    return ArqFields(second, minute, hour, day, month, arq_weekday, exact)


def arq_cron_jobs(entries: Iterable[ScheduleEntry]) -> list[CronJob]:
    """One arq cron job per entry; each runs the internal fire job of its entry."""
    jobs = []
    for entry in entries:
        f = to_arq_fields(entry.cron)

        async def fire(ctx: dict[str, Any], _entry: ScheduleEntry = entry, _exact: bool = f.exact) -> int:
            scheduler: Scheduler = ctx["runtime"].extras["scheduler"]
            tick_ms = int(str(ctx["job_id"]).rsplit(":", 1)[1])
            return await scheduler.fire(_entry, tick_ms, check_match=not _exact)

        fire.__qualname__ = fire.__name__ = f"fire_{entry.name}"
        jobs.append(
            cron(
                fire,
                name=CRON_PREFIX + entry.name,
                second=f.second,
                minute=f.minute,
                hour=f.hour,
                day=f.day,
                month=f.month,
                weekday=f.weekday,
                microsecond=0,
                run_at_startup=False,
                unique=True,
                timeout=5,
                keep_result=0,
                max_tries=5,
            )
        )
    return jobs


@dataclass(frozen=True)
class ScheduleRow:
    """One line of `powerworker schedule`."""

    entry: ScheduleEntry
    next_run: datetime
    last_run: datetime | None
    enabled: bool


class Scheduler:
    """Fires, lists, enables, disables and triggers schedule entries."""

    def __init__(
        self,
        redis: Redis,
        enqueuer: Enqueuer,
        entries: Sequence[ScheduleEntry],
        *,
        timezone: str | tzinfo = "UTC",
        clock: Clock = system_clock,
    ) -> None:
        self._redis = redis
        self._enqueuer = enqueuer
        self.entries: Mapping[str, ScheduleEntry] = {e.name: e for e in entries}
        self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        self._clock = clock
        self._fire = redis.register_script(_FIRE)

    def entry(self, name: str) -> ScheduleEntry:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"no schedule named {name!r}") from None

    async def fire(self, entry: ScheduleEntry, tick_ms: int, *, check_match: bool = False) -> int:
        """Claim `tick_ms` for `entry` and enqueue its job; -1 disabled, 0 already claimed, 1 enqueued, 2 no match."""
        tick = datetime.fromtimestamp(tick_ms / 1000, self.timezone)
        if check_match and not croniter.match(entry.cron, tick):
            return 2
        job = self._enqueuer.prepare(
            entry.job,
            entry.args,
            entry.kwargs,
            queue=entry.queue,
            job_id=f"{JOB_PREFIX}{entry.name}:{tick_ms}",
            check_name=False,
        )
        outcome = int(
            await self._fire(
                keys=[PUSHED_PREFIX + entry.name, STATES_KEY, LAST_RUNS_KEY, *job.keys],
                args=[tick_ms, entry.name, *job.argv[:3], job.job_id, tick_ms - PUSHED_KEEP_MS],
            )
        )
        if outcome == 1:
            log.info(
                "schedule.fired", schedule=entry.name, job=entry.job, job_id=job.job_id, tick=tick.isoformat()
            )
        elif outcome == -1:
            log.info("schedule.skipped_disabled", schedule=entry.name, tick=tick.isoformat())
        return outcome

    async def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a schedule on every worker (from its next tick on)."""
        self.entry(name)
        await self._redis.hset(STATES_KEY, name, "enabled" if enabled else "disabled")  # type: ignore[misc]
        log.info("schedule.enabled" if enabled else "schedule.disabled", schedule=name)

    async def trigger(self, name: str) -> str:
        """Enqueue the schedule's job now, once, outside the schedule; returns the job id."""
        entry = self.entry(name)
        now_ms = int(self._clock.time() * 1000)
        job_id = await self._enqueuer.enqueue(
            entry.job,
            entry.args,
            entry.kwargs,
            queue=entry.queue,
            job_id=f"{JOB_PREFIX}{name}:now:{now_ms}",
            check_name=False,
        )
        assert job_id is not None
        log.info("schedule.triggered", schedule=name, job_id=job_id)
        return job_id

    async def rows(self) -> list[ScheduleRow]:
        """Every entry with its next run (croniter), last run and state."""
        states: dict[bytes, bytes] = await self._redis.hgetall(STATES_KEY)  # type: ignore[misc]
        last: dict[bytes, bytes] = await self._redis.hgetall(LAST_RUNS_KEY)  # type: ignore[misc]
        now = datetime.fromtimestamp(self._clock.time(), self.timezone)
        rows = []
        for name, entry in self.entries.items():
            raw_last = last.get(name.encode())
            last_run = datetime.fromtimestamp(int(raw_last) / 1000, self.timezone) if raw_last else None
            rows.append(
                ScheduleRow(
                    entry, next_fire(entry.cron, now)[0], last_run, states.get(name.encode()) != b"disabled"
                )
            )
        return rows


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
