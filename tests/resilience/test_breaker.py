"""Circuit breakers on aiobreaker, with its concurrency, clock and error-surfacing faults fixed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import aiobreaker
import aiohttp
import pytest
from redis.asyncio import Redis
from structlog.testing import capture_logs

from powerworker.errors import ApiError, CircuitOpenError
from powerworker.resilience import breaker as breaker_module
from powerworker.resilience.breaker import (
    BREAKER_CONFIGS,
    Breaker,
    BreakerConfig,
    BreakerRegistry,
    breaker_state_key,
    config_for,
    is_counted_failure,
)
from powerworker.testing import FakeClock
from tests.helpers_logs import fresh_loggers

FIVE = BreakerConfig(fail_max=5, reset_timeout_s=60, call_timeout_s=30)


@pytest.fixture(autouse=True)
def _capturable_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let capture_logs see INFO transitions whatever logging setup earlier tests left."""
    yield from fresh_loggers(monkeypatch, breaker_module)


async def ok() -> str:
    return "ok"


async def fail_with(error: BaseException) -> None:
    raise error


def server_error() -> ApiError:
    return ApiError("Backend server error", status=503)


async def trip(breaker: Breaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ApiError):
            await breaker.call(fail_with, server_error())


def test_breaker_is_an_aiobreaker_circuit_breaker(clock: FakeClock) -> None:
    """The breaker subclasses aiobreaker and keeps its configuration."""
    breaker = Breaker("backend_api", clock=clock)
    assert isinstance(breaker, aiobreaker.CircuitBreaker)
    assert (breaker.fail_max, breaker.timeout_duration.total_seconds()) == (15, 60)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("backend_api", (15, 60, 120)),
        ("web_auth", (10, 60, 15)),
        ("mission_execution", (5, 120, 600)),
        ("ai_provider:openai", (5, 120, 600)),
    ],
)
def test_named_breaker_settings(name: str, expected: tuple[int, float, float]) -> None:
    """Each named breaker has the original's threshold, open period and wall-clock limit."""
    config = config_for(name)
    assert (config.fail_max, config.reset_timeout_s, config.call_timeout_s) == expected
    assert set(BREAKER_CONFIGS) == {"backend_api", "web_auth", "mission_execution"}


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (ApiError("x", status=500), True),
        (ApiError("x", status=503), True),
        (ApiError("timeout", status=408), True),
        (TimeoutError(), True),
        (aiohttp.ServerDisconnectedError(), True),
        (ConnectionRefusedError(), True),
        (ApiError("x", status=404), False),
        (ApiError("x", status=422), False),
        (ApiError("x", status=429), False),
        (ApiError("x", status=None), False),
        (CircuitOpenError("other", None), False),
        (ValueError("bug"), False),
    ],
)
def test_what_counts_as_a_failure(error: BaseException, counted: bool) -> None:
    """Only timeouts, connection errors and 5xx count; 4xx and another breaker's refusal do not."""
    assert is_counted_failure(error) is counted


async def test_trips_after_n_counted_failures(clock: FakeClock) -> None:
    """Four failures leave it closed; the fifth opens it, and the next call is refused without running."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 4)
    assert (breaker.state_name, breaker.failures) == ("closed", 4)
    await trip(breaker, 1)
    assert breaker.state_name == "open"
    ran = False

    async def spy() -> None:
        nonlocal ran
        ran = True

    with pytest.raises(CircuitOpenError) as caught:
        await breaker.call(spy)
    assert not ran
    assert caught.value.name == "t"
    assert caught.value.status == 503


async def test_4xx_neither_counts_nor_resets(clock: FakeClock) -> None:
    """A 404 between failures leaves the count where it was (aiobreaker alone would reset it)."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 4)
    with pytest.raises(ApiError):
        await breaker.call(fail_with, ApiError("gone", status=404))
    assert breaker.failures == 4
    await trip(breaker, 1)
    assert breaker.state_name == "open"


async def test_success_resets_the_count(clock: FakeClock) -> None:
    """Failures must be consecutive: a success sets the count back to zero."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 4)
    assert await breaker.call(ok) == "ok"
    assert breaker.failures == 0


async def test_tripping_error_surfaces_as_itself(clock: FakeClock) -> None:
    """The call that opens the breaker raises its own error, not aiobreaker's CircuitBreakerError."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 4)
    error = server_error()
    with pytest.raises(ApiError) as caught:
        await breaker.call(fail_with, error)
    assert caught.value is error
    assert breaker.state_name == "open"


async def test_concurrent_failures_open_once(clock: FakeClock) -> None:
    """Ten calls failing together with a threshold of three cause one transition, and each raises its error."""
    breaker = Breaker("t", BreakerConfig(3, 60, 30), clock=clock)
    gate = asyncio.Event()
    errors = [server_error() for _ in range(10)]

    async def fail_later(error: ApiError) -> None:
        await gate.wait()
        raise error

    with capture_logs() as logs:
        calls = [asyncio.create_task(breaker.call(fail_later, e)) for e in errors]
        await asyncio.sleep(0)
        gate.set()
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert outcomes == errors
    assert [e["event"] for e in logs].count("circuit_opened") == 1
    assert breaker.failures == 3
    assert breaker.opened_at == datetime.fromtimestamp(clock.time(), tz=UTC)


async def test_half_open_admits_exactly_one_probe(clock: FakeClock) -> None:
    """After the open period one caller probes; concurrent callers fail fast until it succeeds."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 5)
    clock.advance(60)
    release = asyncio.Event()
    ran: list[int] = []

    async def slow_ok(n: int) -> int:
        ran.append(n)
        await release.wait()
        return n

    probe = asyncio.create_task(breaker.call(slow_ok, 0))
    await asyncio.sleep(0)
    assert breaker.state_name == "half_open"
    others = await asyncio.gather(*(breaker.call(slow_ok, n) for n in range(1, 6)), return_exceptions=True)
    assert all(isinstance(o, CircuitOpenError) for o in others)
    assert ran == [0]
    release.set()
    assert await probe == 0
    assert breaker.state_name == "closed"
    assert await breaker.call(ok) == "ok"


async def test_probe_is_admitted_exactly_at_the_reopen_time(clock: FakeClock) -> None:
    """Moving the clock by exactly the open period admits the probe, whatever the float rounding."""
    breaker = Breaker("t", FIVE, clock=clock)
    for offset in (0.1, 9.652133, 1234.567891):
        clock.advance(offset)
        breaker.reset()
        await trip(breaker, 5)
        clock.advance(60)
        assert await breaker.call(ok) == "ok"


async def test_failed_probe_reopens_for_another_period(clock: FakeClock) -> None:
    """A failed probe reopens the breaker with a fresh reopen time; a success from a stale call changes nothing."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 5)
    clock.advance(60)
    with capture_logs() as logs:
        await trip(breaker, 1)
    assert [
        (e["event"], e.get("to_state")) for e in logs if e["event"].startswith("circuit_") and "to_state" in e
    ] == [
        ("circuit_half_open", "half_open"),
        ("circuit_opened", "open"),
    ]
    assert breaker.reopen_at == datetime.fromtimestamp(clock.time() + 60, tz=UTC)
    clock.advance(59)
    with pytest.raises(CircuitOpenError):
        await breaker.call(ok)


async def test_4xx_probe_leaves_half_open_and_frees_the_slot(clock: FakeClock) -> None:
    """A probe answered with a 4xx neither closes nor reopens; the next caller becomes the probe."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 5)
    clock.advance(60)
    with pytest.raises(ApiError):
        await breaker.call(fail_with, ApiError("nope", status=404))
    assert breaker.state_name == "half_open"
    assert await breaker.call(ok) == "ok"
    assert breaker.state_name == "closed"


async def test_cancelled_probe_frees_the_slot(clock: FakeClock) -> None:
    """A probe cancelled mid-call does not count and lets the next caller probe."""
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 5)
    clock.advance(60)
    never = asyncio.Event()
    probe = asyncio.create_task(breaker.call(never.wait))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert await breaker.call(ok) == "ok"


async def test_wall_clock_limit_counts_as_a_failure(clock: FakeClock) -> None:
    """A call running past the breaker's limit raises TimeoutError, which counts."""
    breaker = Breaker("t", BreakerConfig(fail_max=1, reset_timeout_s=60, call_timeout_s=0.01), clock=clock)
    never = asyncio.Event()
    with pytest.raises(TimeoutError):
        await breaker.call(never.wait)
    assert breaker.state_name == "open"


@pytest.fixture
def los_angeles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the test with the process in America/Los_Angeles."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("los_angeles")
async def test_reopen_time_is_right_on_a_non_utc_host(clock: FakeClock) -> None:
    """With TZ=America/Los_Angeles, opened_at and reopen_at are the true instants, in UTC."""
    assert time.localtime().tm_gmtoff != 0
    breaker = Breaker("t", FIVE, clock=clock)
    await trip(breaker, 5)
    opened = datetime.fromtimestamp(clock.time(), tz=UTC)
    assert breaker.opened_at == opened
    assert breaker.reopen_at == datetime.fromtimestamp(clock.time() + 60, tz=UTC)
    assert breaker.opens_at == breaker.reopen_at
    with pytest.raises(CircuitOpenError) as caught:
        await breaker.call(ok)
    assert caught.value.reopen_at == breaker.reopen_at
    assert breaker.snapshot()["reopen_at"] == "2023-11-14T22:14:20+00:00"
    clock.advance(30)
    assert breaker.time_until_open is not None and breaker.time_until_open.total_seconds() == 30


async def test_admit_and_record(clock: FakeClock) -> None:
    """`admit()` hands out a ticket; `record` counts a failure, resets on success; refusal once open."""
    breaker = Breaker("t", BreakerConfig(fail_max=2, reset_timeout_s=60, call_timeout_s=30), clock=clock)
    breaker.record(breaker.admit(), server_error())
    assert breaker.failures == 1
    breaker.record(breaker.admit(), ApiError("nope", status=404))
    assert breaker.failures == 1
    breaker.record(breaker.admit())
    assert breaker.failures == 0
    for _ in range(2):
        breaker.record(breaker.admit(), server_error())
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    clock.advance(60)
    probe = breaker.admit()
    assert probe[1] is True
    with pytest.raises(CircuitOpenError):
        breaker.admit()
    breaker.record(probe)
    assert breaker.state_name == "closed"


async def test_forced_transition_outside_the_loop_is_published_later(redis: Redis, clock: FakeClock) -> None:
    """A breaker opened from synchronous code (an operator) is written by the next publish."""
    registry = BreakerRegistry(clock=clock, redis=redis, worker_id="w-9")
    breaker = registry.get("backend_api")
    await asyncio.to_thread(breaker.open)
    await registry.drain()
    assert await registry.publish()
    stored = json.loads(await redis.hget(breaker_state_key("w-9"), "backend_api"))
    assert stored["state"] == "open"


def test_never_opened_breaker_reports_no_times(clock: FakeClock) -> None:
    """A fresh breaker has no open or reopen time (aiobreaker's opens_at would raise TypeError)."""
    breaker = Breaker("t", FIVE, clock=clock)
    assert (breaker.opened_at, breaker.reopen_at, breaker.opens_at, breaker.time_until_open) == (
        None,
        None,
        None,
        None,
    )


async def test_transitions_are_logged(clock: FakeClock) -> None:
    """Each transition logs its breaker, from and to state."""
    breaker = Breaker("t", FIVE, clock=clock)
    with capture_logs() as logs:
        await trip(breaker, 5)
        clock.advance(60)
        await breaker.call(ok)
    transitions = [(e["event"], e["from_state"], e["to_state"]) for e in logs if "to_state" in e]
    assert transitions == [
        ("circuit_opened", "closed", "open"),
        ("circuit_half_open", "open", "half_open"),
        ("circuit_closed", "half_open", "closed"),
    ]
    assert all(e["breaker"] == "t" for e in logs)


def test_registry_first_creation_fixes_the_options(clock: FakeClock) -> None:
    """Later callers get the same breaker, whatever options they pass."""
    registry = BreakerRegistry(clock=clock)
    first = registry.get("ai_provider:groq")
    assert registry.get("ai_provider:groq", BreakerConfig(99, 1, 1)) is first
    assert first.config.fail_max == 5
    assert "ai_provider:groq" in registry
    assert [b.name for b in registry] == ["ai_provider:groq"]


async def test_state_is_published_to_redis_on_transition(redis: Redis, clock: FakeClock) -> None:
    """With a Redis client, each transition writes the breaker's state to the worker's hash with a TTL."""
    registry = BreakerRegistry(clock=clock, redis=redis, worker_id="w-7")
    breaker = registry.get("backend_api")
    registry.get("web_auth")
    await trip(breaker, 15)
    await registry.drain()
    key = breaker_state_key("w-7")
    assert key == "powerworker:breakers:w-7"
    stored = {k.decode(): json.loads(v) for k, v in (await redis.hgetall(key)).items()}
    assert stored["backend_api"] == {
        "name": "backend_api",
        "state": "open",
        "failures": 15,
        "fail_max": 15,
        "reset_timeout_s": 60,
        "opened_at": "2023-11-14T22:13:20+00:00",
        "reopen_at": "2023-11-14T22:14:20+00:00",
        "updated_at": "2023-11-14T22:13:20+00:00",
    }
    assert stored["web_auth"]["state"] == "closed"
    assert 0 < await redis.ttl(key) <= 60


async def test_publish_writes_every_breaker_and_refreshes_the_ttl(redis: Redis, clock: FakeClock) -> None:
    """`publish(redis)` writes all breakers (for the worker's periodic call) and resets the TTL."""
    registry = BreakerRegistry(clock=clock, worker_id="w-8")
    registry.get("backend_api")
    registry.get("ai_provider:anthropic")
    assert await registry.publish(redis)
    key = breaker_state_key("w-8")
    await redis.expire(key, 5)
    assert await registry.publish(redis)
    assert set((await redis.hgetall(key)).keys()) == {b"backend_api", b"ai_provider:anthropic"}
    assert await redis.ttl(key) > 5


async def test_publish_failure_is_logged_not_raised(clock: FakeClock) -> None:
    """An unreachable Redis makes `publish` return False and log, never fail the caller."""
    unreachable = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    registry = BreakerRegistry(clock=clock, worker_id="w")
    registry.get("backend_api")
    with capture_logs() as logs:
        assert await registry.publish(unreachable) is False
    await unreachable.aclose()
    assert logs[-1]["event"] == "breaker_publish_failed"
