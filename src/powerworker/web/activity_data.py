"""Reading what the workers publish: throughput per minute, live workers and their running jobs, circuit
breakers, runaway-disabled job keys, per-job totals and job metrics. Everything is read-only here except
`reenable`, which an operator's click triggers.

Key scans are bounded (`SCAN_KEYS_LIMIT`): the pages show the first keys found and say so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from powerworker import keys
from powerworker.resilience.breaker import breaker_state_key
from powerworker.tracking import RUNNING_TTL_S
from powerworker.web.queue_data import parse_json_object

__all__ = [
    "BreakerRow",
    "DisabledKey",
    "MetricSummary",
    "Minute",
    "RunningJob",
    "WorkerView",
    "breakers",
    "disabled_keys",
    "job_totals",
    "metric_points",
    "metric_summaries",
    "reenable",
    "scan_keys",
    "throughput",
    "workers",
]

SCAN_KEYS_LIMIT = 1000


async def scan_keys(redis: Redis, pattern: str, limit: int = SCAN_KEYS_LIMIT) -> tuple[list[str], bool]:
    """Keys matching `pattern`, sorted, at most `limit` of them; the flag says the scan stopped early."""
    found: list[str] = []
    async for key in redis.scan_iter(match=pattern, count=500):
        found.append(key.decode())
        if len(found) >= limit:
            return sorted(found), True
    return sorted(found), False


@dataclass(frozen=True)
class Minute:
    """Jobs that ended in one minute (start at `start_s`)."""

    start_s: int
    processed: int
    failed: int


async def throughput(redis: Redis, now_s: float, minutes: int) -> list[Minute]:
    """Processed and failed jobs per minute over the last `minutes` minutes, oldest first."""
    current = int(now_s // 60)
    starts = [(current - back) * 60 for back in range(minutes - 1, -1, -1)]
    async with redis.pipeline(transaction=False) as pipe:
        for start in starts:
            pipe.hmget(keys.stats_minute(start), ["processed", "failed"])
        rows = await pipe.execute()
    return [Minute(start, int(p or 0), int(f or 0)) for start, (p, f) in zip(starts, rows, strict=True)]


@dataclass(frozen=True)
class RunningJob:
    """A job a worker is running now."""

    job_id: str
    name: str
    queue: str
    tries: int | None
    started_at: float | None


@dataclass(frozen=True)
class WorkerView:
    """A live worker process (a heartbeat within the last minute)."""

    instance_id: str
    beat_at: float
    info: dict[str, str]
    running: list[RunningJob] = field(default_factory=list)

    @property
    def started_at(self) -> float | None:
        raw = self.info.get("started_at")
        return float(raw) if raw else None


async def workers(redis: Redis, now_s: float) -> list[WorkerView]:
    """Workers that beat within the last minute, with what they run, newest heartbeat first."""
    alive = await redis.zrangebyscore(keys.WORKERS, now_s - RUNNING_TTL_S, "+inf", withscores=True)
    views = []
    for member, beat in sorted(alive, key=lambda item: -item[1])[:200]:
        instance = member.decode()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.worker_info(instance))
            pipe.hgetall(keys.running(instance))
            info, running = await pipe.execute()
        jobs = []
        for job_id, raw in running.items():
            data = parse_json_object(raw) or {}
            tries, started = data.get("try"), data.get("started_at")
            jobs.append(
                RunningJob(
                    job_id.decode(),
                    str(data.get("name", "?")),
                    str(data.get("queue", "?")),
                    tries if isinstance(tries, int) else None,
                    float(started) if isinstance(started, int | float) else None,
                )
            )
        jobs.sort(key=lambda job: job.started_at or 0)
        decoded = {k.decode(): v.decode("utf-8", "replace") for k, v in info.items()}
        views.append(WorkerView(instance, float(beat), decoded, jobs))
    return views


@dataclass(frozen=True)
class BreakerRow:
    """One breaker of one worker, as last published."""

    worker_id: str
    name: str
    state: str
    failures: int
    fail_max: int
    opened_at: str | None
    reopen_at: str | None
    updated_at: str | None


async def breakers(redis: Redis) -> tuple[list[BreakerRow], bool]:
    """Every published breaker of every worker, by worker then name."""
    prefix = breaker_state_key("")
    names, capped = await scan_keys(redis, prefix + "*")
    rows = []
    for key in names:
        published: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc]
        for field_name, raw in sorted(published.items()):
            data = parse_json_object(raw) or {}
            rows.append(
                BreakerRow(
                    key.removeprefix(prefix),
                    str(data.get("name", field_name.decode())),
                    str(data.get("state", "unknown")),
                    _int(data.get("failures")),
                    _int(data.get("fail_max")),
                    _str(data.get("opened_at")),
                    _str(data.get("reopen_at")),
                    _str(data.get("updated_at")),
                )
            )
    return rows, capped


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class DisabledKey:
    """A job key the runaway detector disabled, with the time left and its recent failures."""

    job_key: str
    reason: str
    ttl_s: int
    failures: list[dict[str, Any]]

    @property
    def job_name(self) -> str:
        return self.job_key.rsplit(":", 1)[0]


async def disabled_keys(redis: Redis) -> tuple[list[DisabledKey], bool]:
    """Every `job_disabled:*` key with its reason, time left and the key's last failures."""
    prefix = keys.job_disabled("")
    names, capped = await scan_keys(redis, prefix + "*")
    rows = []
    for key in names:
        job_key = key.removeprefix(prefix)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            pipe.lrange(keys.job_failures(job_key), 0, 2)
            reason, ttl, failures = await pipe.execute()
        if reason is None:
            continue  # expired meanwhile
        parsed = [f for f in (parse_json_object(raw) for raw in failures) if f is not None]
        rows.append(DisabledKey(job_key, reason.decode("utf-8", "replace"), max(int(ttl), 0), parsed))
    return rows, capped


async def reenable(redis: Redis, job_key: str) -> bool:
    """Lift a runaway disable now; the key's start history goes too, so the next start is not re-tripped."""
    removed = await redis.delete(keys.job_disabled(job_key), keys.job_executions(job_key))
    return bool(removed)


async def job_totals(redis: Redis) -> dict[str, tuple[int, int]]:
    """Processed and failed counts per job name since the counters began."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.STATS_JOBS)  # type: ignore[misc]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for field_name, count in raw.items():
        name, _, kind = field_name.decode("utf-8", "replace").rpartition("|")
        if kind in ("processed", "failed") and name:
            totals[name][0 if kind == "processed" else 1] += int(count)
    return {name: (p, f) for name, (p, f) in sorted(totals.items())}


@dataclass(frozen=True)
class MetricSummary:
    """The recent points of one metric (`job_metrics:<name>`, newest 1,000 kept)."""

    name: str
    count: int
    kinds: list[str]
    job_classes: list[str]
    last: float | None
    minimum: float | None
    maximum: float | None
    mean: float | None
    last_at: float | None


def _summary(name: str, points: Sequence[dict[str, Any]]) -> MetricSummary:
    values = [float(p["value"]) for p in points if isinstance(p.get("value"), int | float)]
    stamps = [float(p["timestamp"]) for p in points if isinstance(p.get("timestamp"), int | float)]
    return MetricSummary(
        name,
        len(points),
        sorted({str(p.get("type")) for p in points if p.get("type")}),
        sorted({str(p.get("job_class")) for p in points if p.get("job_class")}),
        values[0] if values else None,
        min(values) if values else None,
        max(values) if values else None,
        sum(values) / len(values) if values else None,
        max(stamps) if stamps else None,
    )


async def metric_summaries(redis: Redis, sample: int = 200) -> tuple[list[MetricSummary], bool]:
    """A summary of each `job_metrics:*` list over its newest `sample` points."""
    prefix = keys.job_metrics("")
    names, capped = await scan_keys(redis, prefix + "*")
    summaries = []
    for key in names:
        points = await metric_points(redis, key.removeprefix(prefix), sample)
        summaries.append(_summary(key.removeprefix(prefix), points))
    return summaries, capped


async def metric_points(redis: Redis, name: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` points of one metric, newest first."""
    raws = await redis.lrange(keys.job_metrics(name), 0, limit - 1)  # type: ignore[misc]
    return [p for p in (parse_json_object(raw) for raw in raws) if p is not None]


def tags_text(tags: Any) -> str:
    """Tags as `k=v, k=v` for a table cell."""
    if not isinstance(tags, dict):
        return ""
    return ", ".join(
        f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}" for k, v in tags.items()
    )
