"""Put jobs into Redis: the Python side of the wire format in docs/wire-format.md.

One Lua call per job writes the payload and adds the job to its lane, unless a job with the same id is
queued, running, or has a kept result (deduplication by job id). Any service that can run the same script
(Ruby, Node) enqueues exactly like this module does.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, Unpack

from redis.asyncio import Redis

from powerworker import keys
from powerworker.clock import Clock, system_clock
from powerworker.errors import UnknownJob
from powerworker.queues import QueueRouter
from powerworker.serialization import dumps
from powerworker.tracking import job_key

__all__ = ["ENQUEUE_SCRIPT", "EnqueueOptions", "Enqueuer", "PreparedJob"]

#: How long a payload is kept beyond its due time before it expires unrun (14 days, the dead-set retention).
PAYLOAD_EXTRA_TTL_MS = 14 * 86_400_000

#: KEYS: job key, result key, lane.  ARGV: payload, score (ms), payload ttl (ms), job id.  Returns 1 or 0.
ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[4])
return 1
"""


class EnqueueOptions(TypedDict, total=False):
    """How a job is enqueued.

    Attributes:
        queue: the logical queue; defaults to the job's own.
        defer_s: run no sooner than this many seconds from now.
        defer_until: run no sooner than this time (timezone-aware).
        job_id: a caller-chosen id; a second enqueue with the same id is a no-op while the first is queued,
            running or has a kept result.
        check_name: refuse a name that is not registered (default: the enqueuer's setting).
    """

    queue: str | None
    defer_s: float | None
    defer_until: datetime | None
    job_id: str | None
    check_name: bool | None


class Enqueuer:
    """Enqueues jobs by name.

    Args:
        redis: the queue's Redis.
        router: lanes and priority scores.
        job_queues: registered job name -> its default logical queue. Names not in it are refused when
            `check_names` is true (the worker would send them to the dead set).
        clock: the time source for enqueue times and deferral.
        check_names: refuse names not in `job_queues`.
        untracked: job names exempt from runaway detection (their payloads carry no job key).
    """

    def __init__(
        self,
        redis: Redis,
        router: QueueRouter,
        job_queues: Mapping[str, str],
        *,
        clock: Clock = system_clock,
        check_names: bool = True,
        untracked: Container[str] = (),
    ) -> None:
        self._untracked = untracked
        self._redis = redis
        self._router = router
        self._job_queues = job_queues
        self._clock = clock
        self._check_names = check_names
        self._script = redis.register_script(ENQUEUE_SCRIPT)

    async def enqueue(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> str | None:
        """Enqueue one job; returns its id, or None if a job with that id already exists.

        Args:
            name: the registered job name, e.g. `Notifications::EmailDeliveryJob`.
            args: positional arguments (JSON values).
            kwargs: keyword arguments (JSON values).
            **options: see `EnqueueOptions`.
        """
        job = self.prepare(name, args, kwargs, **options)
        added = await self._script(keys=job.keys, args=job.argv)
        return job.job_id if added else None

    def prepare(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> PreparedJob:
        """The Redis writes that enqueue a job, for callers that make them inside their own script."""
        queue, job_id = options.get("queue"), options.get("job_id")
        defer_s, defer_until = options.get("defer_s"), options.get("defer_until")
        check_name = options.get("check_name")
        if defer_s is not None and defer_until is not None:
            raise ValueError("give defer_s or defer_until, not both")
        if (self._check_names if check_name is None else check_name) and name not in self._job_queues:
            raise UnknownJob(name)
        queue = queue or self._job_queues.get(name, "default")
        job_id = job_id or uuid.uuid4().hex
        now_ms = int(self._clock.time() * 1000)
        due_ms: int | None = None
        if defer_until is not None:
            due_ms = int(defer_until.timestamp() * 1000)
        elif defer_s:
            due_ms = now_ms + int(defer_s * 1000)
        score = self._router.score(queue, now_ms, due_ms)
        body: dict[str, Any] = {
            "t": None,
            "f": name,
            "a": list(args),
            "k": dict(kwargs or {}),
            "et": now_ms,
            "q": queue,
        }
        if name not in self._untracked:  # lets the worker run the runaway check in its claim (one call less)
            body["jk"] = job_key(name, body["a"], body["k"])
        payload = dumps(body)
        return PreparedJob(
            job_id=job_id,
            keys=[keys.JOB_PREFIX + job_id, keys.RESULT_PREFIX + job_id, self._router.lane_key(queue)],
            argv=[payload, score, max(score - now_ms, 0) + PAYLOAD_EXTRA_TTL_MS, job_id],
        )


@dataclass(frozen=True)
class PreparedJob:
    """KEYS and ARGV of `ENQUEUE_SCRIPT` for one job."""

    job_id: str
    keys: list[str]
    argv: list[Any]
