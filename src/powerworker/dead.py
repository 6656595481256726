"""The dead set: jobs that will not run again on their own, kept for an operator to inspect, retry or delete.

Jobs land here when their retries are exhausted, on a permanent error (invalid arguments, a 4xx other than
408/429), when their worker died on every try, and when their payload could not be read at all (the entry then
holds the raw payload). Entries are trimmed to the retention period and the maximum count whenever one is added.
Storage: `powerworker:dead` (sorted set, job id -> failed_at) and `powerworker:dead:entries` (hash, job id ->
JSON), kept in step by Lua scripts.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from powerworker import keys
from powerworker.clock import Clock, system_clock
from powerworker.enqueue import Enqueuer
from powerworker.serialization import MALFORMED_JOB, dumps

__all__ = ["DeadEntry", "DeadSet"]


@dataclass(frozen=True, slots=True)
class DeadEntry:
    """One dead job: enough to understand the failure and to run the job again."""

    job_id: str
    name: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    error_class: str
    message: str
    traceback: str
    tries: int
    failed_at: float
    enqueued_at: float | None = None
    raw_payload: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def retryable(self) -> bool:
        """Whether the entry holds a runnable job (a malformed payload does not)."""
        return self.name != MALFORMED_JOB

    def to_json(self) -> str:
        return dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> DeadEntry:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


# KEYS: index, entries.  ARGV: job id, failed_at, entry json, cutoff (failed_at before it is trimmed), max jobs
_ADD = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local doomed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - #doomed - tonumber(ARGV[5])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], #doomed, #doomed + excess - 1)
  for _, id in ipairs(oldest) do table.insert(doomed, id) end
end
for i = 1, #doomed, 1000 do
  local batch = {unpack(doomed, i, math.min(i + 999, #doomed))}
  redis.call('ZREM', KEYS[1], unpack(batch))
  redis.call('HDEL', KEYS[2], unpack(batch))
end
return #doomed
"""

# KEYS: index, entries.  ARGV: job id.  Removes and returns the entry, or nil.
_TAKE = """
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if entry then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return entry
"""


class DeadSet:
    """Read and act on the dead set."""

    def __init__(
        self,
        redis: Redis,
        *,
        retention_s: float = 14 * 86_400,
        max_jobs: int = 10_000,
        enqueuer: Enqueuer | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self._redis = redis
        self._retention_s = retention_s
        self._max_jobs = max_jobs
        self._enqueuer = enqueuer
        self._clock = clock
        self._add = redis.register_script(_ADD)
        self._take = redis.register_script(_TAKE)

    async def add_to(self, pipe: Pipeline, entry: DeadEntry) -> None:
        """Queue the entry (and the trim) on a pipeline the caller executes."""
        await self._add(keys=[keys.DEAD_INDEX, keys.DEAD_ENTRIES], args=self._add_args(entry), client=pipe)

    async def add(self, entry: DeadEntry) -> int:
        """Add an entry now; returns how many old entries the trim removed."""
        return int(await self._add(keys=[keys.DEAD_INDEX, keys.DEAD_ENTRIES], args=self._add_args(entry)))

    def _add_args(self, entry: DeadEntry) -> list[Any]:
        cutoff = self._clock.time() - self._retention_s
        return [entry.job_id, repr(entry.failed_at), entry.to_json(), repr(cutoff), self._max_jobs]

    async def size(self) -> int:
        return int(await self._redis.zcard(keys.DEAD_INDEX))

    async def list(self, offset: int = 0, limit: int = 50, *, name: str | None = None) -> list[DeadEntry]:
        """Entries newest first; with `name`, only that job's entries (filtered after paging)."""
        ids = await self._redis.zrevrange(keys.DEAD_INDEX, offset, offset + limit - 1)
        if not ids:
            return []
        raws: builtins.list[bytes | None] = await self._redis.hmget(keys.DEAD_ENTRIES, ids)  # type: ignore[misc]
        entries = [DeadEntry.from_json(raw) for raw in raws if raw]
        return [e for e in entries if name is None or e.name == name]

    async def get(self, job_id: str) -> DeadEntry | None:
        raw: bytes | None = await self._redis.hget(keys.DEAD_ENTRIES, job_id)  # type: ignore[misc]
        return DeadEntry.from_json(raw) if raw else None

    async def delete(self, job_id: str) -> bool:
        """Remove one entry; False if it was not there."""
        return await self._take(keys=[keys.DEAD_INDEX, keys.DEAD_ENTRIES], args=[job_id]) is not None

    async def retry(self, job_id: str) -> bool:
        """Enqueue the job again under its id (due now, on its queue) and remove the entry.

        Returns False if there is no such entry. Raises ValueError for an entry that holds no runnable job
        (a malformed payload); it stays in the dead set.
        """
        if self._enqueuer is None:
            raise RuntimeError("DeadSet was built without an enqueuer; retry needs one")
        entry = await self.get(job_id)
        if entry is None:
            return False
        if not entry.retryable:
            raise ValueError(f"dead job {job_id} holds a malformed payload; fix it and enqueue it anew")
        raw = await self._take(keys=[keys.DEAD_INDEX, keys.DEAD_ENTRIES], args=[job_id])
        if raw is None:  # someone else took it meanwhile
            return False
        await self._redis.delete(keys.RESULT_PREFIX + job_id, keys.RETRY_PREFIX + job_id)
        await self._enqueuer.enqueue(
            entry.name, entry.args, entry.kwargs, queue=entry.queue, job_id=job_id, check_name=False
        )
        return True

    async def retry_many(self, job_ids: Sequence[str]) -> int:
        """Retry each id; returns how many were enqueued (malformed entries are left in place)."""
        done = 0
        for job_id in job_ids:
            try:
                done += await self.retry(job_id)
            except ValueError:
                continue
        return done

    async def delete_many(self, job_ids: Sequence[str]) -> int:
        done = 0
        for job_id in job_ids:
            done += await self.delete(job_id)
        return done

    async def all_ids(self) -> builtins.list[str]:
        return [raw.decode() for raw in await self._redis.zrevrange(keys.DEAD_INDEX, 0, -1)]

    @staticmethod
    def counts_by_name(entries: Sequence[DeadEntry]) -> Mapping[str, int]:
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry.name] = counts.get(entry.name, 0) + 1
        return counts
