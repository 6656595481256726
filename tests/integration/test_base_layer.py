"""The base layer end to end: a real arq worker, driven one poll step at a time, on a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from redis.asyncio import Redis
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from powerworker import keys
from powerworker.testing import FakeClock
from powerworker.testing.worker import WorkerHarness

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


def _delay_s(score: float | None) -> float:
    assert score is not None
    return score / 1000 - time.time()


async def test_success_result_and_markers(harness: Harness, redis: Redis) -> None:
    """A job runs, its result is kept, and the success marker and counters are written."""
    async with harness() as h:
        job_id = await h.enqueue("Test::EmailLike", ["3f2a-77"])
        await h.drain()
        result = await h.result(job_id)
    assert result.success
    assert result.result == "3f2a-77"
    assert await redis.exists(keys.job_success("Test::EmailLike:3f2a-77"))
    assert await redis.llen(keys.job_executions("Test::EmailLike:3f2a-77")) == 1
    assert await redis.hget(keys.STATS_JOBS, "Test::EmailLike|processed") == b"1"
    assert await redis.zscore(keys.DEFAULT_LANE_KEY, job_id) is None


async def test_every_log_line_in_a_job_is_bound(harness: Harness) -> None:
    """Lines logged inside a job carry its id, name, try and queue."""
    async with harness() as h:
        with capture_logs(processors=[merge_contextvars]) as logs:
            job_id = await h.enqueue("Test::EmailLike", ["abc"])
            await h.drain()
    done = next(entry for entry in logs if entry["event"] == "job.completed")
    assert done["job_id"] == job_id
    assert done["job"] == "Test::EmailLike"
    assert done["job_try"] == 1
    assert done["queue"] == "email"
    assert "duration_s" in done


async def test_api_error_backoff_ladder_then_dead(harness: Harness, redis: Redis) -> None:
    """A 503 is retried after 30, 60 and 180 s, then the job goes to the dead set with its details."""
    async with harness() as h:
        job_id = await h.enqueue("Test::ApiFailJob", [503])
        delays = []
        for _ in range(3):
            await h.drain()
            delays.append(_delay_s(await h.score(job_id)))
            await h.make_due(job_id)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert [round(d) for d in delays] == [30, 60, 180]
    assert entry is not None
    assert (entry.name, entry.args, entry.tries, entry.queue) == ("Test::ApiFailJob", [503], 4, "default")
    assert entry.error_class == "ApiError"
    assert entry.message == "backend said no"
    assert "Traceback" in entry.traceback
    assert "api_fail" in entry.traceback
    assert await redis.llen(keys.job_failures("Test::ApiFailJob:" + "12345"[:0] + _hash([503]))) == 4


def _hash(args: list[Any]) -> str:
    from powerworker.tracking import job_key

    return job_key("X", args).split(":", 1)[1]


async def test_generic_backoff_and_retry_count(harness: Harness) -> None:
    """Other errors wait count^4 + 15 + rand*(count+1) s; retries=2 means three tries in all."""
    async with harness() as h:
        job_id = await h.enqueue("Test::BoomJob")
        await h.drain()
        first = _delay_s(await h.score(job_id))
        await h.make_due(job_id)
        await h.drain()
        second = _delay_s(await h.score(job_id))
        await h.make_due(job_id)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert 15 <= first <= 75
    assert 30 <= second <= 119
    assert entry is not None
    assert entry.tries == 3
    assert entry.message == "boom"


async def test_flaky_job_succeeds_on_a_retry(harness: Harness) -> None:
    """A job that fails once and then succeeds ends successful, with no dead entry."""
    async with harness() as h:
        job_id = await h.enqueue("Test::FlakyJob", [2])
        await h.drain()
        await h.make_due(job_id)
        await h.drain()
        assert (await h.result(job_id)).result == 2
        assert await h.runtime.dead.size() == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_permanent_api_errors_go_straight_to_dead(harness: Harness, status: int) -> None:
    """4xx other than 408/429 are not retried."""
    async with harness() as h:
        job_id = await h.enqueue("Test::ApiFailJob", [status])
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
        assert await h.score(job_id) is None
    assert entry is not None
    assert entry.tries == 1


@pytest.mark.parametrize("status", [408, 429])
async def test_408_and_429_are_retried(harness: Harness, status: int) -> None:
    """Timeouts and throttling get the API backoff."""
    async with harness() as h:
        job_id = await h.enqueue("Test::ApiFailJob", [status])
        await h.drain()
        assert round(_delay_s(await h.score(job_id))) == 30


async def test_retries_false_discards_without_dead_entry(harness: Harness) -> None:
    """retries=False: one try, no retry, no dead entry, the failure still recorded."""
    async with harness() as h:
        with capture_logs() as logs:
            job_id = await h.enqueue("Test::NoRetryJob")
            await h.drain()
        assert await h.runtime.dead.size() == 0
        assert not (await h.result(job_id)).success
    assert any(e["event"] == "job.discarded" for e in logs)


async def test_dead_false_discards_after_last_retry(harness: Harness) -> None:
    """dead=False: the exhausted job is discarded."""
    async with harness() as h:
        await h.enqueue("Test::NoDeadJob")
        await h.drain()
        assert await h.runtime.dead.size() == 0


async def test_invalid_arguments_fail_permanently_naming_the_field(harness: Harness) -> None:
    """Wrong types or arity fail at once with an error naming the field."""
    async with harness() as h:
        bad_type = await h.enqueue("Test::TypedJob", ["three"])
        bad_arity = await h.enqueue("Test::TypedJob", [1, "a", "extra"])
        good = await h.enqueue("Test::TypedJob", ["2"], {"label": "ab"})
        await h.drain()
        type_entry = await h.runtime.dead.get(bad_type)
        arity_entry = await h.runtime.dead.get(bad_arity)
        assert (await h.result(good)).result == "abab"
    assert type_entry is not None
    assert type_entry.error_class == "InvalidArguments"
    assert "count" in type_entry.message
    assert type_entry.tries == 1
    assert arity_entry is not None
    assert "too many positional arguments" in arity_entry.message


async def test_args_model(harness: Harness) -> None:
    """A job with a pydantic model takes a hash, keywords or positionals; bad input names the field."""
    async with harness() as h:
        as_hash = await h.enqueue("Test::ModelJob", [{"email_id": "e1", "recipients": ["a", "b"]}])
        as_kwargs = await h.enqueue(
            "Test::ModelJob", [], {"email_id": "e2", "recipients": [], "priority": "3"}
        )
        bad = await h.enqueue("Test::ModelJob", [{"email_id": "", "recipients": "nope"}])
        await h.drain()
        assert (await h.result(as_hash)).result == {"email_id": "e1", "count": 2, "priority": 0}
        assert (await h.result(as_kwargs)).result == {"email_id": "e2", "count": 0, "priority": 3}
        entry = await h.runtime.dead.get(bad)
    assert entry is not None
    assert "email_id" in entry.message
    assert "recipients" in entry.message


async def test_job_requested_retry_then_exhausted(harness: Harness) -> None:
    """A job raising Retry is deferred as asked, and dead once its retries are spent."""
    async with harness() as h:
        job_id = await h.enqueue("Test::RetryRequestJob")
        for _ in range(2):
            await h.drain()
            assert 3 <= _delay_s(await h.score(job_id)) <= 5.5
            await h.make_due(job_id)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert entry is not None
    assert entry.error_class == "Retry"
    assert entry.tries == 3


async def test_timeout_becomes_a_retryable_job_timeout(harness: Harness) -> None:
    """A try that runs past its timeout is retried, then dead as JobTimeout."""
    async with harness() as h:
        job_id = await h.enqueue("Test::HangJob")
        await h.drain()
        assert _delay_s(await h.score(job_id)) >= 14
        await h.make_due(job_id)
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert entry is not None
    assert entry.error_class == "JobTimeout"
    assert "timeout" in entry.message


async def test_runaway_job_waits_instead_of_burning_retries(harness: Harness, redis: Redis) -> None:
    """The sixth start in a minute is deferred 300 s without using a try, and runs once re-enabled."""
    clock = FakeClock(start=time.time())
    async with harness(clock=clock) as h:
        ids = [await h.enqueue("Test::EmailLike", ["feed"]) for _ in range(6)]
        await h.drain()
        done = [(await redis.exists(keys.RESULT_PREFIX + i)) for i in ids]
        assert sum(done) == 5
        waiting = ids[done.index(0)]
        assert 290 <= _delay_s(await h.score(waiting)) <= 301
        assert await h.job_try_counter(waiting) == 0
        await redis.delete(keys.job_disabled("Test::EmailLike:feed"))
        clock.advance(301)
        await h.make_due(waiting)
        await h.drain()
        result = await h.result(waiting)
        assert await h.runtime.dead.size() == 0
    assert result.success
    assert result.job_try == 1


async def test_high_frequency_job_is_slowed_not_refused(harness: Harness, redis: Redis) -> None:
    """With 15 starts in the last 300 s (none in the last minute) a job waits 5 s on the clock, then runs."""
    clock = FakeClock(start=time.time())
    history = [repr(clock.time() - 70 - i * 10) for i in range(15)]
    await redis.rpush(keys.job_executions("Test::EmailLike:ab"), *history)
    async with harness(clock=clock) as h:
        job_id = await h.enqueue("Test::EmailLike", ["ab"])
        await h.drain()
        assert (await h.result(job_id)).success
    assert clock.sleeps == [5.0]


async def test_worker_lost_on_every_try_goes_dead(harness: Harness, redis: Redis) -> None:
    """A job whose earlier tries all died with their worker is recorded dead, not run again forever."""
    async with harness() as h:
        job_id = await h.enqueue("Test::BoomJob")  # retries=2: 3 tries + 1 crash re-run allowed
        await redis.set(keys.RETRY_PREFIX + job_id, 4)  # four starts that never concluded
        await h.drain()
        entry = await h.runtime.dead.get(job_id)
    assert entry is not None
    assert entry.error_class == "WorkerLost"
    assert entry.tries == 5


async def test_metrics_and_idempotency_helpers(harness: Harness, redis: Redis) -> None:
    """Metric points land in job_metrics:<name> (1,000 kept, 24 h); claim() is a check-and-set."""
    async with harness() as h:
        job_id = await h.enqueue("Test::MetricsJob")
        await h.drain()
        assert (await h.result(job_id)).result is True
    point = json.loads(await redis.lindex(keys.job_metrics("emails_sent"), 0))
    assert point["type"] == "counter"
    assert point["value"] == 1
    assert point["tags"] == {"provider": "smtp"}
    assert point["job_class"] == "Test::MetricsJob"
    assert await redis.exists(keys.job_metrics("render_ms"), keys.job_metrics("cleanup_deleted")) == 2
    assert 86_390 <= await redis.ttl(keys.job_metrics("emails_sent")) <= 86_400
    assert 86_390 <= await redis.ttl(keys.idempotency("unit-of-work")) <= 86_400


async def test_tracking_costs_at_most_two_round_trips(
    harness: Harness, private_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per job: one Lua claim that also runs the runaway check (in place of arq's WATCH/EXISTS/ZSCORE/MULTI/
    PSETEX/EXEC claim), and a share of one success write for all the jobs that finished together."""
    monkeypatch.setattr("powerworker.tracking.FLUSH_INTERVAL_S", 60.0)  # only the step's own flush writes
    async with harness(redis_url=private_redis_url, worker_concurrency=25) as h:
        await h.enqueue("Diagnostics::NoopJob")
        await h.enqueue("Test::TickJob", ["warm-up"])
        await h.step()  # the first jobs load the scripts into this fresh server
        for i in range(20):
            await h.enqueue("Diagnostics::EchoJob", [i])
        await h.enqueue("Test::TickJob", ["exempt"])  # exempt from the runaway check: one start call more
        redis = h.runtime.redis
        await redis.config_resetstat()
        await h.step()
        stats = await redis.info("commandstats")
    counts = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    assert counts["evalsha"] == 21 + 1 + 1  # claims, the exempt job's start, one success write for all 21
    assert counts["lpush"] == 21  # every start was recorded for the runaway detector
    assert "watch" not in counts  # arq's optimistic (WATCH ... MULTI/EXEC) claim is gone
    assert counts["multi"] == 42  # what arq still sends per job: its read and its finish pipelines
    assert "eval" not in counts  # the scripts were cached: no script body is resent per job
