"""Producers that are not Python: jobs written with raw Redis commands, bad payloads, priority and lanes."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from powerworker.enqueue import ENQUEUE_SCRIPT
from powerworker.queues import QueueRouter, weight_of
from powerworker.testing import FakeClock
from powerworker.testing.worker import WorkerHarness
from tests.jobs_for_tests import ORDER_KEY

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]
DOC = Path(__file__).parents[2] / "docs" / "wire-format.md"


def documented_script() -> str:
    """The Lua script as docs/wire-format.md shows it."""
    match = re.search(r"```lua\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert match is not None
    return match.group(1)


def test_documented_script_is_the_one_the_enqueuer_runs() -> None:
    """The doc and the code cannot drift apart."""
    assert documented_script().strip() == ENQUEUE_SCRIPT.strip()


async def raw_enqueue(
    redis: Redis,
    payload: bytes | str,
    *,
    score: int | None = None,
    job_id: str | None = None,
    lane: str = "arq:queue",
) -> str:
    """Enqueue the way docs/wire-format.md tells a Ruby service to: EVAL of the documented script."""
    job_id = job_id or uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    added = await redis.eval(
        documented_script(),
        3,
        f"arq:job:{job_id}",
        f"arq:result:{job_id}",
        lane,
        payload,
        now_ms if score is None else score,
        1_209_600_000,
        job_id,
    )
    assert added == 1
    return job_id


async def test_raw_redis_job_runs(harness: Harness, redis: Redis) -> None:
    """A job written with plain Redis commands and no arq code runs and leaves a JSON result."""
    now_ms = int(time.time() * 1000)
    payload = json.dumps(
        {
            "f": "Diagnostics::EchoJob",
            "a": [{"from": "rails"}],
            "k": {},
            "et": now_ms,
            "t": None,
            "q": "critical",
        }
    )
    async with harness() as h:
        job_id = await raw_enqueue(redis, payload)
        await h.drain()
    result = json.loads(await redis.get(f"arq:result:{job_id}"))
    assert result["s"] is True
    assert result["r"] == {"from": "rails"}
    assert result["f"] == "Diagnostics::EchoJob"


async def test_plain_set_and_zadd_also_work(harness: Harness, redis: Redis) -> None:
    """Without the script, SET plus ZADD (the two writes it makes) is enough."""
    job_id = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    await redis.set(
        f"arq:job:{job_id}", json.dumps({"f": "Diagnostics::EchoJob", "a": [7], "k": {}, "et": now_ms})
    )
    await redis.zadd("arq:queue", {job_id: now_ms})
    async with harness() as h:
        await h.drain()
        assert (await h.result(job_id)).result == 7


async def test_duplicate_job_id_is_refused(harness: Harness) -> None:
    """A second enqueue with the same id is a no-op while the first is queued or its result is kept."""
    async with harness() as h:
        assert await h.enqueuer.enqueue("Diagnostics::EchoJob", [1], job_id="once") == "once"
        assert await h.enqueuer.enqueue("Diagnostics::EchoJob", [2], job_id="once") is None
        await h.drain()
        assert await h.enqueuer.enqueue("Diagnostics::EchoJob", [3], job_id="once") is None
        assert (await h.result("once")).result == 1


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (b"{definitely not json", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (b'{"f": "Diagnostics::EchoJob", "a": "oops", "k": {}, "et": 1}', "'a'"),
    ],
)
async def test_malformed_payload_then_good_job(
    harness: Harness, redis: Redis, payload: bytes, problem: str
) -> None:
    """A malformed payload is logged once, dead-set with its raw text, and the next job still runs."""
    async with harness() as h:
        bad = await raw_enqueue(redis, payload, score=int(time.time() * 1000) - 1000)
        good = await h.enqueue("Diagnostics::EchoJob", ["after"])
        with capture_logs() as logs:
            await h.drain()
        assert (await h.result(good)).result == "after"
        entry = await h.runtime.dead.get(bad)
    assert entry is not None
    assert entry.error_class == "MalformedPayload"
    assert problem in entry.message
    assert entry.raw_payload == payload.decode()
    assert not entry.retryable
    errors = [e for e in logs if e["log_level"] == "error"]
    assert [e["event"] for e in errors] == ["job.malformed_payload"]


async def test_unknown_job_is_dead_set_and_retryable(harness: Harness, redis: Redis) -> None:
    """An unknown name is dead-set under that name; once such a job exists, a retry runs it."""
    payload = json.dumps({"f": "Missing::Job", "a": [1], "k": {"x": 2}, "et": 1, "q": "mcp"})
    async with harness() as h:
        job_id = await raw_enqueue(redis, payload)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
        assert entry is not None
        assert (entry.name, entry.args, entry.kwargs, entry.queue) == ("Missing::Job", [1], {"x": 2}, "mcp")
        assert entry.error_class == "UnknownJob"
        assert "Missing::Job" in entry.message


async def test_wrong_argument_types_are_dead_set(harness: Harness, redis: Redis) -> None:
    """Arguments of the wrong type from another service fail permanently, naming the field."""
    payload = json.dumps({"f": "Diagnostics::SleepJob", "a": ["soon"], "k": {}, "et": 1})
    async with harness() as h:
        job_id = await raw_enqueue(redis, payload)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert entry is not None
    assert entry.error_class == "InvalidArguments"
    assert "seconds" in entry.message


async def test_weight_three_job_overtakes_a_weight_one_backlog(harness: Harness, redis: Redis) -> None:
    """With one slot and a backlog of weight-1 jobs, a weight-3 job enqueued after them starts next."""
    async with harness(worker_concurrency=1) as h:
        for i in range(30):
            await h.enqueue("Test::RecordJob", [f"backlog-{i}"])
        await h.enqueue("Test::RecordJob", ["urgent"], queue="critical")
        await h.drain()
    order = [x.decode() for x in await redis.lrange(ORDER_KEY, 0, -1)]
    assert len(order) == 31
    assert order[0] == "urgent"
    assert sorted(order[1:]) == sorted(f"backlog-{i}" for i in range(30))


async def test_ageing_bounds_the_wait_of_low_weight_jobs(harness: Harness, redis: Redis) -> None:
    """A weight-1 job that has waited longer than the bounded boost runs before new weight-3 jobs."""
    old_clock = FakeClock(start=time.time() - 61)
    async with harness(worker_concurrency=1) as h:
        router = QueueRouter(priority_step_ms=30_000)
        old_enqueuer = type(h.enqueuer)(
            h.runtime.redis, router, {"Test::RecordJob": "maintenance"}, clock=old_clock
        )
        await old_enqueuer.enqueue("Test::RecordJob", ["old-low"])
        for i in range(5):
            await h.enqueue("Test::RecordJob", [f"new-high-{i}"], queue="critical")
        await h.drain()
    order = [x.decode() for x in await redis.lrange(ORDER_KEY, 0, -1)]
    assert order[0] == "old-low"


def test_score_offsets_are_bounded() -> None:
    """The boost is at most 2 steps and deferred jobs are never scored before their due time."""
    router = QueueRouter(priority_step_ms=30_000)
    assert weight_of("critical") == 3
    assert weight_of("email") == 2
    assert weight_of("maintenance") == 1
    assert weight_of("never-heard-of-it") == 1
    assert router.score("critical", 1_000_000) == 940_000
    assert router.score("email", 1_000_000) == 970_000
    assert router.score("critical", 1_000_000, due_ms=1_005_000) == 1_005_000


async def test_deferred_job_waits_for_its_time(harness: Harness) -> None:
    """A deferred job is not started before its due time, whatever its weight."""
    async with harness() as h:
        job_id = await h.enqueue("Diagnostics::EchoJob", [1], defer_s=60)
        await h.drain()
        score = await h.score(job_id)
        assert score is not None
        assert 59 <= score / 1000 - time.time() <= 60
        await h.make_due(job_id)
        await h.drain()
        assert (await h.result(job_id)).result == 1


async def test_lanes_route_queues_to_dedicated_workers(harness: Harness, redis: Redis) -> None:
    """With QUEUE_LANES the email queue goes to its own lane, served only by that lane's worker."""
    async with harness(queue_lanes="email=mail") as general:
        mail_job = await general.enqueue("Test::EmailLike", ["abc"])
        other_job = await general.enqueue("Diagnostics::EchoJob", [1])
        await general.drain()
        assert await redis.zscore("arq:queue:mail", mail_job) is not None
        assert await redis.exists(f"arq:result:{other_job}")
    async with harness(queue_lanes="email=mail", worker_lane="mail") as mail:
        await mail.drain()
        assert (await mail.result(mail_job)).result == "abc"


async def test_claim_verdicts_do_not_pile_up(harness: Harness) -> None:
    """A claimed job that turns out to be unknown leaves no verdict behind in the worker."""
    from powerworker.runner import CLAIMS

    async with harness() as h:
        job_id = await h.enqueuer.enqueue("Missing::Job", [1], check_name=False)
        good = await h.enqueue("Diagnostics::EchoJob", [2])
        await h.drain()
        assert h.worker is not None
        assert h.worker.ctx.get(CLAIMS) == {}
        assert await h.runtime.dead.get(job_id or "") is not None
        assert (await h.result(good)).result == 2
