"""Per-job bookkeeping in Redis: the job key, runaway-loop detection, success and failure markers, metrics.

Keys and TTLs are the original worker's (see `powerworker.keys`). A job costs two Redis round trips here:
one Lua call before it runs (runaway check, execution record, lease, running registry) and one after it
(markers and throughput counters).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from powerworker import keys
from powerworker.clock import Clock
from powerworker.serialization import dumps

__all__ = ["Start", "StartVerdict", "Tracker", "job_key"]

log = structlog.get_logger(__name__)

# Ruby's `=~ /^[0-9a-f-]+$/` anchors at line boundaries, so any line of hex digits and dashes matches.
_ID_LIKE = re.compile(r"^[0-9a-f-]+$", re.MULTILINE)

#: Runaway-loop thresholds (original §1.3).
RECENT_WINDOW_S = 60
TOTAL_WINDOW_S = 300
TRIP_AT_RECENT = 5  # the 6th start within 60 s trips
SLOW_AT_TOTAL = 15
DISABLE_S = 300
SLOW_DELAY_S = 5.0
EXECUTIONS_KEPT = 21
EXECUTIONS_TTL_S = 360
SUCCESS_TTL_S = 300
FAILURES_KEPT = 10
FAILURES_TTL_S = 3600
METRICS_KEPT = 1000
METRICS_TTL_S = 86_400
STATS_MINUTE_TTL_S = 7200
RUNNING_TTL_S = 60


def job_key(name: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None = None) -> str:
    """The original's job key: `<name>:<first arg>` for id-like first args, else a hash of the arguments.

    The hash is the first 16 hex digits of SHA-256 over the compact JSON of the args (raw UTF-8), so
    `[]` gives `4f53cda18c2baa0c` as in the Ruby worker. Keyword arguments, which Ruby jobs do not have,
    join the hashed array as a trailing object.
    """
    if args and isinstance(args[0], str) and _ID_LIKE.search(args[0]):
        return f"{name}:{args[0]}"
    material: list[Any] = [*args, dict(sorted(kwargs.items()))] if kwargs else list(args)
    encoded = json.dumps(material, separators=(",", ":"), ensure_ascii=False)
    return f"{name}:{hashlib.sha256(encoded.encode()).hexdigest()[:16]}"


class Start(IntEnum):
    """What the runaway detector decided for a start."""

    RUN = 0
    DISABLED = 1  # the key is disabled: defer until it re-enables
    TRIPPED = 2  # this start tripped the detector: key disabled now
    SLOW = 3  # high frequency: run after a short delay


@dataclass(frozen=True, slots=True)
class StartVerdict:
    start: Start
    recent: int
    total: int
    retry_in_s: float = 0.0
    reason: str = ""


# KEYS: executions, disabled, running hash, arq try counter.  ARGV: now, job id, running json.
# The thresholds are the constants above, written into the script once.
_START = f"""
local disabled = redis.call('GET', KEYS[2])
if disabled and disabled ~= '' then
  redis.call('DECR', KEYS[4])
  return {{1, 0, 0, redis.call('TTL', KEYS[2]), disabled}}
end
local now = tonumber(ARGV[1])
local recent, total = 0, 0
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ts = tonumber(raw)
  if ts then
    local age = now - ts
    if age <= {RECENT_WINDOW_S} then recent = recent + 1 end
    if age <= {TOTAL_WINDOW_S} then total = total + 1 end
  end
end
if recent >= {TRIP_AT_RECENT} then
  redis.call('SET', KEYS[2], 'runaway_loop_detected', 'EX', {DISABLE_S})
  redis.call('DECR', KEYS[4])
  return {{2, recent, total, {DISABLE_S}, 'runaway_loop_detected'}}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, {EXECUTIONS_KEPT - 1})
redis.call('EXPIRE', KEYS[1], {EXECUTIONS_TTL_S})
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], {RUNNING_TTL_S})
if total >= {SLOW_AT_TOTAL} then return {{3, recent, total, 0, ''}} end
return {{0, recent, total, 0, ''}}
"""

# KEYS: running hash, job totals, then one per-minute stats hash per distinct minute, then success markers.
# ARGV: minute count m, marker count n, then m processed counts, n marker times, the finished job ids
# (after `n` markers come the running-hash fields to delete), and finally name|processed, count pairs.
_SUCCEEDED = f"""
local m, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local a = 3
for i = 1, m do
  redis.call('HINCRBY', KEYS[2 + i], 'processed', ARGV[a])
  redis.call('EXPIRE', KEYS[2 + i], {STATS_MINUTE_TTL_S})
  a = a + 1
end
for i = 1, n do
  redis.call('SET', KEYS[2 + m + i], ARGV[a], 'EX', {SUCCESS_TTL_S})
  a = a + 1
end
local ids = tonumber(ARGV[a])
a = a + 1
for i = 1, ids do
  redis.call('HDEL', KEYS[1], ARGV[a])
  a = a + 1
end
while a < #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[a], ARGV[a + 1])
  a = a + 2
end
"""

#: How long finished-job bookkeeping may wait to be written together with other jobs' (seconds).
FLUSH_INTERVAL_S = 0.02
#: Write at once when this many finished jobs are waiting.
FLUSH_AT = 256


class Tracker:
    """Runs the tracking scripts for one worker process."""

    def __init__(self, redis: Redis, clock: Clock, instance_id: str) -> None:
        self._redis = redis
        self._clock = clock
        self._running_key = keys.running(instance_id)
        self._start = redis.register_script(_START)
        self._succeeded = redis.register_script(_SUCCEEDED)
        self._done: list[tuple[str, str, str, float]] = []  # (job key, job id, name, finished at)
        self._flush_task: asyncio.Task[None] | None = None

    @property
    def running_key(self) -> str:
        return self._running_key

    async def start(self, key: str, job_id: str, name: str, queue: str, job_try: int) -> StartVerdict:
        """Check and record a start; on RUN also takes the job's lease and lists it as running."""
        now = self._clock.time()
        running = dumps({"name": name, "queue": queue, "try": job_try, "started_at": now, "job_key": key})
        status, recent, total, ttl, reason = await self._start(
            keys=[
                keys.job_executions(key),
                keys.job_disabled(key),
                self._running_key,
                keys.RETRY_PREFIX + job_id,
            ],
            args=[repr(now), job_id, running],
        )
        reason_s = reason.decode() if isinstance(reason, bytes) else str(reason)
        return StartVerdict(Start(int(status)), int(recent), int(total), float(max(int(ttl), 1)), reason_s)

    def succeeded(self, key: str, job_id: str, name: str) -> None:
        """Record a success: marker, running registry and throughput counters.

        Successes are written together, by one script call per `FLUSH_INTERVAL_S` (or per `FLUSH_AT` jobs), so a
        busy worker pays a fraction of a round trip per job. If the process dies, at most that much
        bookkeeping (never a job) is lost.
        """
        self._done.append((key, job_id, name, self._clock.time()))
        if len(self._done) >= FLUSH_AT:
            self._spawn_flush(0.0)
        elif self._flush_task is None:
            self._spawn_flush(FLUSH_INTERVAL_S)

    def _spawn_flush(self, delay_s: float) -> None:
        if self._flush_task is not None and not self._flush_task.done() and delay_s > 0:
            return
        self._flush_task = asyncio.get_running_loop().create_task(self._flush_after(delay_s))

    async def _flush_after(self, delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        self._flush_task = None
        await self.flush()

    async def flush(self) -> None:
        """Write every buffered success now (called on shutdown and by tests)."""
        done, self._done = self._done, []
        if not done:
            return
        minutes: dict[str, int] = {}
        markers: dict[str, float] = {}
        totals: dict[str, int] = {}
        for key, _job_id, name, at in done:
            minute = keys.stats_minute(at)
            minutes[minute] = minutes.get(minute, 0) + 1
            markers[keys.job_success(key)] = at
            totals[f"{name}|processed"] = totals.get(f"{name}|processed", 0) + 1
        args: list[Any] = [
            len(minutes),
            len(markers),
            *minutes.values(),
            *map(repr, markers.values()),
            len(done),
        ]
        args += [job_id for _, job_id, _, _ in done]
        for field, count in totals.items():
            args += [field, count]
        try:
            await self._succeeded(keys=[self._running_key, keys.STATS_JOBS, *minutes, *markers], args=args)
        except Exception as exc:  # bookkeeping must not fail jobs that already succeeded
            log.warning("tracking.flush_failed", jobs=len(done), error=str(exc))

    def failed(self, pipe: Pipeline, key: str, job_id: str, name: str, error: BaseException) -> None:
        """Queue the failure marker and counters on `pipe` (the caller adds the dead-set entry if any)."""
        now = self._clock.time()
        failures = keys.job_failures(key)
        minute = keys.stats_minute(now)
        entry = {
            "timestamp": now,
            "error_class": type(error).__name__,
            "error_message": str(error),
            "job_class": name,
        }
        pipe.lpush(failures, dumps(entry))
        pipe.ltrim(failures, 0, FAILURES_KEPT - 1)
        pipe.expire(failures, FAILURES_TTL_S)
        pipe.hdel(self._running_key, job_id)
        pipe.hincrby(minute, "failed", 1)
        pipe.expire(minute, STATS_MINUTE_TTL_S)
        pipe.hincrby(keys.STATS_JOBS, f"{name}|failed", 1)

    def released(self, pipe: Pipeline, job_id: str) -> None:
        """Queue removal from the running registry (a job deferred or handed back without an outcome)."""
        pipe.hdel(self._running_key, job_id)


async def record_metric(
    redis: Redis, clock: Clock, *, kind: str, name: str, value: float, tags: Mapping[str, Any], job_class: str
) -> None:
    """Append one metric point to `job_metrics:<name>` (1,000 kept, 24 h). Redis errors are logged, not raised."""
    point = {
        "type": kind,
        "name": name,
        "value": value,
        "tags": dict(tags),
        "job_class": job_class,
        "timestamp": clock.time(),
    }
    key = keys.job_metrics(name)
    log.info("metric", metric_type=kind, metric=name, value=value, tags=dict(tags))
    try:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, dumps(point))
            pipe.ltrim(key, 0, METRICS_KEPT - 1)
            pipe.expire(key, METRICS_TTL_S)
            await pipe.execute()
    except Exception as exc:  # metrics must never fail a job
        log.debug("metric.write_failed", metric=name, error=str(exc))
