"""Reading the queue for the dashboard: lanes, depth per logical queue, job listings and one job's story.

Payloads and results are JSON and are read with `json.loads` only: the dashboard never unpickles anything. A
payload that is not a JSON object (arq's pickle default, or damage) is shown as unreadable, never decoded.

A lane is one sorted set holding jobs of many logical queues; the queue of a job is in its payload (`q`).
Breaking a lane down by queue, or filtering a listing by queue or job name, reads payloads: at most
`SCAN_LIMIT` jobs per lane, in the order they will run, and the page says when it looked no further.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redis.asyncio import Redis

from powerworker import keys
from powerworker.dead import DeadEntry, DeadSet
from powerworker.keys import lane_key

__all__ = [
    "SCAN_LIMIT",
    "Depths",
    "JobDetail",
    "JobFilter",
    "JobPage",
    "QueueDepth",
    "QueuedJob",
    "ResultView",
    "State",
    "depths",
    "job_detail",
    "lanes",
    "list_jobs",
    "parse_json_object",
]

SCAN_LIMIT = 10_000
CHUNK = 500
NO_QUEUE = "(none)"
State = Literal["ready", "scheduled", "all"]


def parse_json_object(raw: bytes | str | None) -> dict[str, Any] | None:
    """A JSON object, or None for anything else (missing, not JSON, pickled, not an object)."""
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class QueuedJob:
    """A job waiting in a lane (or running: arq keeps it in the lane until it ends)."""

    job_id: str
    lane: str
    score_ms: float
    name: str = "?"
    queue: str = NO_QUEUE
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    enqueued_ms: int | None = None
    readable: bool = True
    running: bool = False

    @classmethod
    def of(cls, job_id: str, lane: str, score_ms: float, raw: bytes | None) -> QueuedJob:
        payload = parse_json_object(raw)
        if payload is None:
            return cls(job_id, lane, score_ms, readable=False)
        args, kwargs, enqueued = payload.get("a"), payload.get("k"), payload.get("et")
        return cls(
            job_id,
            lane,
            score_ms,
            name=str(payload.get("f", "?")),
            queue=payload["q"] if isinstance(payload.get("q"), str) else NO_QUEUE,
            args=args if isinstance(args, list) else [],
            kwargs=kwargs if isinstance(kwargs, dict) else {},
            enqueued_ms=enqueued if isinstance(enqueued, int) else None,
        )


async def lanes(redis: Redis, configured: Iterable[str] = ()) -> list[str]:
    """The default lane, the configured ones and any other lane found in Redis; default first."""
    names = {"default", *configured}
    prefix = keys.DEFAULT_LANE_KEY + ":"
    async for key in redis.scan_iter(match=prefix + "*", count=500, _type="zset"):
        names.add(key.decode().removeprefix(prefix))
        if len(names) > 200:
            break
    return sorted(names, key=lambda name: (name != "default", name))


@dataclass(frozen=True)
class QueueDepth:
    """Jobs of one logical queue in one lane: due now (ready) and deferred (scheduled)."""

    queue: str
    lane: str
    ready: int = 0
    scheduled: int = 0


@dataclass(frozen=True)
class Depths:
    """Depth per logical queue; per-lane totals are exact, the breakdown read `SCAN_LIMIT` jobs per lane."""

    queues: list[QueueDepth]
    lane_totals: dict[str, tuple[int, int]]
    sampled: bool

    @property
    def ready(self) -> int:
        return sum(ready for ready, _ in self.lane_totals.values())

    @property
    def scheduled(self) -> int:
        return sum(scheduled for _, scheduled in self.lane_totals.values())


async def _payloads(redis: Redis, job_ids: Sequence[str]) -> list[bytes | None]:
    found: list[bytes | None] = []
    for start in range(0, len(job_ids), CHUNK):
        found += await redis.mget([keys.JOB_PREFIX + i for i in job_ids[start : start + CHUNK]])
    return found


async def depths(redis: Redis, lane_names: Sequence[str], now_ms: int) -> Depths:
    """How many jobs wait in each logical queue, ready and scheduled."""
    counts: dict[tuple[str, str], list[int]] = {}
    totals: dict[str, tuple[int, int]] = {}
    sampled = False
    for lane in lane_names:
        key = lane_key(lane)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zcount(key, "-inf", now_ms)
            pipe.zcount(key, f"({now_ms}", "+inf")
            pipe.zrange(key, 0, SCAN_LIMIT - 1, withscores=True)
            ready, scheduled, members = await pipe.execute()
        totals[lane] = (int(ready), int(scheduled))
        sampled = sampled or int(ready) + int(scheduled) > SCAN_LIMIT
        entries = [(member.decode(), float(score)) for member, score in members]
        raws = await _payloads(redis, [job_id for job_id, _ in entries])
        for (job_id, score), raw in zip(entries, raws, strict=True):
            if raw is None:
                continue  # ended between the two reads
            job = QueuedJob.of(job_id, lane, score, raw)
            slot = counts.setdefault((job.queue, lane), [0, 0])
            slot[0 if score <= now_ms else 1] += 1
    rows = [QueueDepth(queue, lane, ready, later) for (queue, lane), (ready, later) in counts.items()]
    rows.sort(key=lambda row: (-(row.ready + row.scheduled), row.queue, row.lane))
    return Depths(rows, totals, sampled)


@dataclass(frozen=True)
class JobFilter:
    """What the queued-jobs page shows: ready, scheduled or all; optionally one lane, one queue, a name."""

    state: State = "ready"
    lane: str | None = None
    queue: str | None = None
    name: str | None = None

    def matches(self, job: QueuedJob) -> bool:
        if self.queue and job.queue != self.queue:
            return False
        return not self.name or self.name.lower() in job.name.lower()


@dataclass(frozen=True)
class JobPage:
    """One page of a listing; `capped` when the count stopped at `SCAN_LIMIT` jobs per lane."""

    jobs: list[QueuedJob]
    total: int
    capped: bool


def _bounds(state: State, now_ms: int) -> tuple[str, str]:
    return {
        "ready": ("-inf", str(now_ms)),
        "scheduled": (f"({now_ms}", "+inf"),
        "all": ("-inf", "+inf"),
    }[state]


async def list_jobs(
    redis: Redis, lane_names: Sequence[str], flt: JobFilter, *, offset: int, limit: int, now_ms: int
) -> JobPage:
    """Jobs in run order (earliest score first) matching `flt`, `limit` of them from `offset`."""
    low, high = _bounds(flt.state, now_ms)
    selected = [flt.lane] if flt.lane else list(lane_names)
    by_payload = bool(flt.queue or flt.name)
    capped = False
    if by_payload or len(selected) > 1:
        want = SCAN_LIMIT if by_payload else min(offset + limit, SCAN_LIMIT)
        capped = not by_payload and offset + limit > SCAN_LIMIT  # pages past the merge window
        candidates: list[tuple[float, str, str]] = []
        for lane in selected:
            members = await redis.zrangebyscore(lane_key(lane), low, high, start=0, num=want, withscores=True)
            capped = capped or (by_payload and len(members) >= SCAN_LIMIT)
            candidates += [(score, lane, member.decode()) for member, score in members]
        candidates.sort()
    else:
        lane = selected[0]
        members = await redis.zrangebyscore(
            lane_key(lane), low, high, start=offset, num=limit, withscores=True
        )
        candidates = [(score, lane, member.decode()) for member, score in members]
    if by_payload:
        matched: list[QueuedJob] = []
        for start in range(0, len(candidates), CHUNK):
            chunk = candidates[start : start + CHUNK]
            raws = await _payloads(redis, [job_id for _, _, job_id in chunk])
            for (score, lane, job_id), raw in zip(chunk, raws, strict=True):
                job = QueuedJob.of(job_id, lane, score, raw)
                if raw is not None and flt.matches(job):
                    matched.append(job)
        total, page = len(matched), matched[offset : offset + limit]
    else:
        total = 0
        for lane in selected:
            total += int(await redis.zcount(lane_key(lane), low, high))
        window = candidates if len(selected) == 1 else candidates[offset : offset + limit]
        raws = await _payloads(redis, [job_id for _, _, job_id in window])
        page = [
            QueuedJob.of(job_id, lane, score, raw)
            for (score, lane, job_id), raw in zip(window, raws, strict=True)
        ]
    return JobPage(await _mark_running(redis, page), total, capped)


async def _mark_running(redis: Redis, jobs: list[QueuedJob]) -> list[QueuedJob]:
    if not jobs:
        return jobs
    async with redis.pipeline(transaction=False) as pipe:
        for job in jobs:
            pipe.exists(keys.IN_PROGRESS_PREFIX + job.job_id)
        flags = await pipe.execute()
    return [
        QueuedJob(**{**job.__dict__, "running": bool(flag)}) if flag else job
        for job, flag in zip(jobs, flags, strict=True)
    ]


@dataclass(frozen=True)
class ResultView:
    """A kept result (`arq:result:<id>`, JSON)."""

    success: bool
    value: Any
    tries: int | None
    started_ms: int | None
    finished_ms: int | None

    @property
    def error_class(self) -> str | None:
        if self.success or not isinstance(self.value, dict):
            return None
        name = self.value.get("error_class")
        return name if isinstance(name, str) else None

    @property
    def error_message(self) -> str | None:
        if self.success:
            return None
        if isinstance(self.value, dict) and isinstance(self.value.get("message"), str):
            return str(self.value["message"])
        return None if self.value is None else str(self.value)


JobState = Literal["running", "ready", "scheduled", "dead", "complete", "failed"]


@dataclass(frozen=True)
class JobDetail:
    """Everything the dashboard knows of one job id."""

    job_id: str
    state: JobState
    job: QueuedJob | None
    tries: int | None
    result: ResultView | None
    dead: DeadEntry | None

    @property
    def name(self) -> str:
        for source in (self.job, self.dead):
            if source is not None and source.name != "?":
                return source.name
        return "?"


async def job_detail(
    redis: Redis, dead: DeadSet, lane_names: Sequence[str], job_id: str, now_ms: int
) -> JobDetail | None:
    """The job's payload, place in its lane, tries, kept result and dead-set entry; None if none exists."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.JOB_PREFIX + job_id)
        pipe.get(keys.RESULT_PREFIX + job_id)
        pipe.exists(keys.IN_PROGRESS_PREFIX + job_id)
        pipe.get(keys.RETRY_PREFIX + job_id)
        for lane in lane_names:
            pipe.zscore(lane_key(lane), job_id)
        raw, raw_result, in_progress, tries, *scores = await pipe.execute()
    entry = await dead.get(job_id)
    placed = [(lane, score) for lane, score in zip(lane_names, scores, strict=True) if score is not None]
    job: QueuedJob | None = None
    if placed or raw is not None:
        lane, score = placed[0] if placed else ("?", 0.0)
        job = QueuedJob.of(job_id, lane, float(score), raw)
    result = _result(raw_result)
    state: JobState
    if placed and in_progress:
        state = "running"
    elif placed:
        state = "ready" if float(placed[0][1]) <= now_ms else "scheduled"
    elif entry is not None:
        state = "dead"
    elif result is not None:
        state = "complete" if result.success else "failed"
    else:
        return None
    try_count = int(tries) if tries is not None else (result.tries if result else None)
    return JobDetail(job_id, state, job, try_count, result, entry)


def _result(raw: bytes | None) -> ResultView | None:
    data = parse_json_object(raw)
    if data is None or "s" not in data:
        return None

    def integer(name: str) -> int | None:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return ResultView(bool(data["s"]), data.get("r"), integer("t"), integer("st"), integer("ft"))
