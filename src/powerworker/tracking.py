"""Per-job bookkeeping in Redis: the job key, runaway-loop detection, success and failure markers, metrics.

Keys and TTLs are the original worker's (see `powerworker.keys`). A job costs two Redis round trips here:
one Lua call before it runs (runaway check, execution record, lease, running registry) and one after it
(markers and throughput counters).
"""

from __future__ import annotations

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


# KEYS: executions, disabled, in-progress, running hash, arq retry counter
# ARGV: now, recent window, total window, trip at, slow at, disable s, kept, executions ttl, lease ms,
#       job id, running json, running ttl
_START = """
local disabled = redis.call('GET', KEYS[2])
if disabled and disabled ~= '' then
  redis.call('DECR', KEYS[5])
  local ttl = redis.call('TTL', KEYS[2])
  return {1, 0, 0, ttl, disabled}
end
local now = tonumber(ARGV[1])
local recent, total = 0, 0
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local ts = tonumber(raw)
  if ts then
    local age = now - ts
    if age <= tonumber(ARGV[2]) then recent = recent + 1 end
    if age <= tonumber(ARGV[3]) then total = total + 1 end
  end
end
if recent >= tonumber(ARGV[4]) then
  redis.call('SET', KEYS[2], 'runaway_loop_detected', 'EX', ARGV[6])
  redis.call('DECR', KEYS[5])
  return {2, recent, total, tonumber(ARGV[6]), 'runaway_loop_detected'}
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[7]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[8])
redis.call('PEXPIRE', KEYS[3], ARGV[9])
redis.call('HSET', KEYS[4], ARGV[10], ARGV[11])
redis.call('EXPIRE', KEYS[4], ARGV[12])
if total >= tonumber(ARGV[5]) then return {3, recent, total, 0, ''} end
return {0, recent, total, 0, ''}
"""

# KEYS: success marker, running hash, minute stats, job totals
# ARGV: now, success ttl, job id, minute ttl, totals field
_SUCCEEDED = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[3])
redis.call('HINCRBY', KEYS[3], 'processed', 1)
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('HINCRBY', KEYS[4], ARGV[5], 1)
"""


class Tracker:
    """Runs the tracking scripts for one worker process."""

    def __init__(self, redis: Redis, clock: Clock, instance_id: str, lease_ms: int) -> None:
        self._redis = redis
        self._clock = clock
        self._running_key = keys.running(instance_id)
        self._lease_ms = lease_ms
        self._start = redis.register_script(_START)
        self._succeeded = redis.register_script(_SUCCEEDED)

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
                keys.IN_PROGRESS_PREFIX + job_id,
                self._running_key,
                keys.RETRY_PREFIX + job_id,
            ],
            args=[
                repr(now),
                RECENT_WINDOW_S,
                TOTAL_WINDOW_S,
                TRIP_AT_RECENT,
                SLOW_AT_TOTAL,
                DISABLE_S,
                EXECUTIONS_KEPT,
                EXECUTIONS_TTL_S,
                self._lease_ms,
                job_id,
                running,
                RUNNING_TTL_S,
            ],
        )
        reason_s = reason.decode() if isinstance(reason, bytes) else str(reason)
        return StartVerdict(Start(int(status)), int(recent), int(total), float(max(int(ttl), 1)), reason_s)

    async def succeeded(self, key: str, job_id: str, name: str) -> None:
        """Success marker, running registry and throughput counters in one call."""
        now = self._clock.time()
        await self._succeeded(
            keys=[keys.job_success(key), self._running_key, keys.stats_minute(now), keys.STATS_JOBS],
            args=[repr(now), SUCCESS_TTL_S, job_id, STATS_MINUTE_TTL_S, f"{name}|processed"],
        )

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
