"""The dead set: trimming, retry, delete, and the CLI on top of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
import redis as sync_redis
from click.testing import CliRunner
from redis.asyncio import Redis

from powerworker import keys
from powerworker.cli import main
from powerworker.dead import DeadEntry, DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.queues import QueueRouter
from powerworker.testing import FakeClock
from powerworker.testing.worker import WorkerHarness
from tests.conftest import TEST_REDIS_URL

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]


def entry(job_id: str, failed_at: float, name: str = "Diagnostics::EchoJob") -> DeadEntry:
    return DeadEntry(
        job_id=job_id,
        name=name,
        args=[job_id],
        kwargs={},
        queue="critical",
        error_class="ApiError",
        message="down",
        traceback="Traceback ...",
        tries=4,
        failed_at=failed_at,
    )


async def test_trim_by_age_and_count(redis: Redis, clock: FakeClock) -> None:
    """Adding an entry drops those older than the retention and the oldest beyond the maximum."""
    dead = DeadSet(redis, retention_s=14 * 86_400, max_jobs=5, clock=clock)
    now = clock.time()
    await dead.add(entry("ancient", now - 15 * 86_400))
    for i in range(7):
        await dead.add(entry(f"j{i}", now - 100 + i))
    ids = await dead.all_ids()
    assert ids == ["j6", "j5", "j4", "j3", "j2"]
    assert await redis.hlen(keys.DEAD_ENTRIES) == 5


async def test_trim_keeps_index_and_entries_in_step_at_scale(redis: Redis, clock: FakeClock) -> None:
    """Trimming more than one batch at once (the 10,000-entry default) leaves no orphaned entries."""
    dead = DeadSet(redis, max_jobs=10, clock=clock)
    now = clock.time()
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(2500):
            pipe.zadd(keys.DEAD_INDEX, {f"x{i}": now - 10})
            pipe.hset(keys.DEAD_ENTRIES, f"x{i}", "{}")
        await pipe.execute()
    removed = await dead.add(entry("fresh", now))
    assert removed == 2491
    assert await redis.zcard(keys.DEAD_INDEX) == 10 == await redis.hlen(keys.DEAD_ENTRIES)


async def test_list_get_delete(redis: Redis, clock: FakeClock) -> None:
    """Entries list newest first with paging; delete removes exactly one."""
    dead = DeadSet(redis, clock=clock)
    for i in range(4):
        await dead.add(entry(f"j{i}", clock.time() + i))
    assert [e.job_id for e in await dead.list(1, 2)] == ["j2", "j1"]
    assert (await dead.get("j3")) == entry("j3", clock.time() + 3)
    assert await dead.delete("j3") is True
    assert await dead.delete("j3") is False
    assert await dead.size() == 3


async def test_retry_runs_the_job_again_under_its_id(harness: Harness) -> None:
    """Retry re-enqueues a dead job with its id, queue and arguments, and it runs."""
    async with harness() as h:
        job_id = await h.enqueue("Test::ApiFailJob", [404])
        await h.drain()
        assert await h.runtime.dead.retry(job_id) is True
        assert await h.runtime.dead.get(job_id) is None
        await h.drain()
        again = await h.runtime.dead.get(job_id)
        assert await h.runtime.dead.retry("no-such-job") is False
    assert again is not None
    assert again.tries == 1


async def test_retry_refuses_malformed_entries(redis: Redis, clock: FakeClock) -> None:
    """An entry holding an unreadable payload cannot be retried and stays put."""
    enqueuer = Enqueuer(redis, QueueRouter(), {}, clock=clock)
    dead = DeadSet(redis, enqueuer=enqueuer, clock=clock)
    await dead.add(entry("bad", clock.time(), name="powerworker:malformed"))
    with pytest.raises(ValueError, match="malformed"):
        await dead.retry("bad")
    assert await dead.retry_many(["bad"]) == 0
    assert await dead.size() == 1


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    monkeypatch.setenv("WORKER_ENV", "test")
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    client.close()
    return CliRunner()


def _seed_dead(entries: list[DeadEntry]) -> None:
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    for e in entries:
        client.zadd(keys.DEAD_INDEX, {e.job_id: e.failed_at})
        client.hset(keys.DEAD_ENTRIES, e.job_id, e.to_json())
    client.close()


def test_cli_dead_list_retry_delete(cli: CliRunner) -> None:
    """`powerworker dead list|retry|delete` act on the dead set and report what they did."""
    _seed_dead([entry("a1", 1_700_000_000), entry("b2", 1_700_000_100)])
    listed = cli.invoke(main, ["dead", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.index("b2") < listed.output.index("a1")
    assert "ApiError: down" in listed.output
    as_json = cli.invoke(main, ["dead", "list", "--json"])
    assert [json.loads(line)["job_id"] for line in as_json.output.splitlines()] == ["b2", "a1"]
    retried = cli.invoke(main, ["dead", "retry", "a1"])
    assert retried.exit_code == 0
    assert "a1: retried" in retried.output
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    assert client.zscore("arq:queue", "a1") is not None
    client.close()
    deleted = cli.invoke(main, ["dead", "delete", "b2", "zz"])
    assert deleted.exit_code == 1
    assert "deleted 1" in deleted.output
    assert cli.invoke(main, ["dead", "retry"]).exit_code == 2  # neither ids nor --all


def test_cli_retry_all_and_delete_all(cli: CliRunner) -> None:
    """--all acts on every entry."""
    _seed_dead([entry(f"j{i}", 1_700_000_000 + i) for i in range(3)])
    assert "j2: retried" in cli.invoke(main, ["dead", "retry", "--all"]).output
    _seed_dead([entry("k1", 1_700_000_000)])
    assert "deleted 1" in cli.invoke(main, ["dead", "delete", "--all"]).output


def test_cli_enqueue(cli: CliRunner) -> None:
    """`powerworker enqueue` validates its input and prints the new job id."""
    ok = cli.invoke(
        main, ["enqueue", "Diagnostics::EchoJob", "--args", '["x"]', "--job-id", "fixed", "--defer", "30"]
    )
    assert ok.exit_code == 0
    assert ok.output.strip() == "fixed"
    dup = cli.invoke(main, ["enqueue", "Diagnostics::EchoJob", "--job-id", "fixed"])
    assert dup.exit_code == 1
    assert "already queued" in dup.output
    unknown = cli.invoke(main, ["enqueue", "Nope::Job"])
    assert unknown.exit_code == 1
    assert "Diagnostics::EchoJob" in unknown.output
    bad = cli.invoke(main, ["enqueue", "Diagnostics::EchoJob", "--kwargs", "[1]"])
    assert bad.exit_code == 2
    assert "JSON object" in bad.output
    client = sync_redis.Redis.from_url(TEST_REDIS_URL)
    payload = json.loads(client.get("arq:job:fixed"))
    client.close()
    assert payload["f"] == "Diagnostics::EchoJob"
    assert payload["a"] == ["x"]
    assert payload["q"] == "critical"


def test_cli_ping_without_a_worker_times_out(cli: CliRunner) -> None:
    """With no worker running, ping fails with a clear message instead of hanging."""
    out = cli.invoke(main, ["ping", "--timeout", "0.2"])
    assert out.exit_code == 1
    assert "no worker answered" in out.output


def test_cli_refuses_bad_lanes(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed QUEUE_LANES stops the command with the variable named."""
    monkeypatch.setenv("QUEUE_LANES", "email")
    out = cli.invoke(main, ["dead", "list"])
    assert out.exit_code == 1
    assert "QUEUE_LANES" in out.output
