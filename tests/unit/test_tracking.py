"""Job keys, runaway-loop detection and markers, against a real Redis."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from powerworker import keys
from powerworker.testing import FakeClock
from powerworker.tracking import Start, Tracker, job_key


@pytest.mark.parametrize(
    ("args", "suffix"),
    [
        ([], "4f53cda18c2baa0c"),
        (["daily"], "e0a7468e743b344d"),
        (["550e8400-e29b-41d4-a716-446655440000", "x"], "550e8400-e29b-41d4-a716-446655440000"),
        (["2024-01-15"], "2024-01-15"),
        (["12345", {"a": 1}], "12345"),
        (["ABC-123"], None),  # upper case is not id-like: hashed
    ],
)
def test_job_key_parity(args: list[object], suffix: str | None) -> None:
    """Keys match the Ruby worker's: the id-like first argument, else a hash of the compact JSON args."""
    key = job_key("Some::Job", args)
    assert key.startswith("Some::Job:")
    if suffix is not None:
        assert key == f"Some::Job:{suffix}"
    else:
        assert len(key.split(":")[-1]) == 16


def test_job_key_hashes_raw_utf8() -> None:
    """Non-ASCII is hashed raw, as Ruby's JSON emits it, so keys agree across languages."""
    import hashlib

    expected = hashlib.sha256('["café"]'.encode()).hexdigest()[:16]
    assert job_key("J", ["café"]) == f"J:{expected}"


def test_job_key_includes_kwargs() -> None:
    """Keyword arguments change the key; their order does not."""
    assert job_key("J", [], {"a": 1, "b": 2}) == job_key("J", [], {"b": 2, "a": 1}) != job_key("J", [])


async def _start(tracker: Tracker, n: int = 1) -> list[Start]:
    return [(await tracker.start("J:k", f"job-{i}", "J", "default", 1)).start for i in range(n)]


async def test_sixth_start_within_a_minute_trips(redis: Redis, clock: FakeClock) -> None:
    """Five starts in 60 s run; the sixth disables the key for 300 s and is not recorded."""
    tracker = Tracker(redis, clock, "w1")
    for _ in range(5):
        assert await _start(tracker) == [Start.RUN]
        clock.advance(10)
    verdict = await tracker.start("J:k", "job-x", "J", "default", 1)
    assert verdict.start is Start.TRIPPED
    assert verdict.recent == 5
    assert verdict.retry_in_s == 300
    assert await redis.get(keys.job_disabled("J:k")) == b"runaway_loop_detected"
    assert 295 <= await redis.ttl(keys.job_disabled("J:k")) <= 300
    assert await redis.llen(keys.job_executions("J:k")) == 5
    again = await tracker.start("J:k", "job-y", "J", "default", 1)
    assert again.start is Start.DISABLED
    assert again.reason == "runaway_loop_detected"
    assert again.retry_in_s > 290


async def test_runaway_recovery(redis: Redis, clock: FakeClock) -> None:
    """When the disable key expires and the burst has aged out, the job runs again."""
    tracker = Tracker(redis, clock, "w1")
    await _start(tracker, 6)
    await redis.delete(keys.job_disabled("J:k"))  # what Redis does when the 300 s TTL runs out
    clock.advance(301)
    assert await _start(tracker) == [Start.RUN]


async def test_spaced_starts_never_trip_but_slow_down(redis: Redis, clock: FakeClock) -> None:
    """Starts 13 s apart never trip; from 15 in 300 s on they are slowed, not refused."""
    tracker = Tracker(redis, clock, "w1")
    outcomes = []
    for _ in range(25):
        outcomes.extend(await _start(tracker))
        clock.advance(13)
    assert Start.TRIPPED not in outcomes
    assert Start.DISABLED not in outcomes
    assert outcomes[:15] == [Start.RUN] * 15
    assert set(outcomes[15:]) == {Start.SLOW}
    assert await redis.llen(keys.job_executions("J:k")) == 21
    assert 355 <= await redis.ttl(keys.job_executions("J:k")) <= 360


async def test_start_lists_running(redis: Redis, clock: FakeClock) -> None:
    """A start lists the job as running in this process, for the dashboard."""
    tracker = Tracker(redis, clock, "w1")
    await tracker.start("J:k", "job-1", "J", "email", 2)
    running = json.loads(await redis.hget(keys.running("w1"), "job-1"))
    assert running["name"] == "J"
    assert running["queue"] == "email"
    assert running["try"] == 2


async def test_disabled_start_gives_the_try_back(redis: Redis, clock: FakeClock) -> None:
    """A start refused by the detector decrements arq's try counter: waiting is not failing."""
    tracker = Tracker(redis, clock, "w1")
    await redis.set(keys.job_disabled("J:k"), "runaway_loop_detected", ex=300)
    await redis.set(keys.RETRY_PREFIX + "job-1", 1)
    verdict = await tracker.start("J:k", "job-1", "J", "default", 1)
    assert verdict.start is Start.DISABLED
    assert await redis.get(keys.RETRY_PREFIX + "job-1") == b"0"


async def test_empty_disable_value_does_not_disable(redis: Redis, clock: FakeClock) -> None:
    """Only a non-empty value disables a key, as in the original."""
    await redis.set(keys.job_disabled("J:k"), "")
    assert await _start(Tracker(redis, clock, "w1")) == [Start.RUN]


async def test_success_and_failure_markers(redis: Redis, clock: FakeClock) -> None:
    """Success sets a 300 s marker; failures keep the last 10 as JSON for an hour; counters move."""
    tracker = Tracker(redis, clock, "w1")
    tracker.succeeded("J:k", "job-1", "J")
    await tracker.flush()
    assert float(await redis.get(keys.job_success("J:k"))) == clock.time()
    assert 295 <= await redis.ttl(keys.job_success("J:k")) <= 300
    for i in range(12):
        async with redis.pipeline(transaction=False) as pipe:
            tracker.failed(pipe, "J:k", f"job-{i}", "J", ValueError(f"bad {i}"))
            await pipe.execute()
    failures = [json.loads(x) for x in await redis.lrange(keys.job_failures("J:k"), 0, -1)]
    assert len(failures) == 10
    assert failures[0]["error_message"] == "bad 11"
    assert failures[0] == {
        "timestamp": clock.time(),
        "error_class": "ValueError",
        "error_message": "bad 11",
        "job_class": "J",
    }
    assert 3590 <= await redis.ttl(keys.job_failures("J:k")) <= 3600
    assert await redis.hgetall(keys.stats_minute(clock.time())) == {b"processed": b"1", b"failed": b"12"}
    assert await redis.hget(keys.STATS_JOBS, "J|failed") == b"12"
