"""Circuit breakers: one per client or target, built on aiobreaker with its faults fixed.

aiobreaker supplies the state machine we keep: its state objects and their transitions (closed --threshold-->
open, half-open --failure--> open, half-open --success--> closed), the failure counter, exclusions and
listeners. `Breaker` subclasses it and replaces what dependencies.md found wrong:

- **One probe in half-open.** The first caller after the open period becomes the probe; every other caller
  fails fast with `CircuitOpenError` until the probe's outcome closes or reopens the breaker.
- **One transition per event.** Each call remembers the generation (number of transitions so far) it was
  admitted in; an outcome only counts if no transition happened since. Ten concurrent failures with a
  threshold of three open the breaker once, not eight times.
- **The tripping error surfaces as itself**, never as aiobreaker's `CircuitBreakerError`.
- **Time comes from the Clock**: the open period is measured on the monotonic clock, and `opened_at` and
  `reopen_at` are aware UTC datetimes from the wall clock, right whatever the host's time zone.
- **4xx neither count nor reset** the failure count (aiobreaker treats an excluded error as a success).
- **No blocking Redis.** State goes to Redis through redis.asyncio, from `BreakerRegistry.publish` and after
  each transition in a background task.

Admission and outcome handling contain no `await`, so on the event loop each is atomic without a lock.
Only timeouts, connection errors and 5xx responses count as failures (`is_counted_failure`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, ParamSpec, TypedDict, TypeVar

import aiobreaker
import aiohttp
import structlog
from aiobreaker import CircuitBreakerError, CircuitBreakerListener, CircuitBreakerState
from redis.asyncio import Redis
from redis.exceptions import RedisError

from powerworker import keys
from powerworker.clock import Clock, system_clock
from powerworker.errors import ApiError, CircuitOpenError

__all__ = [
    "AI_PROVIDER_PREFIX",
    "BREAKER_CONFIGS",
    "BREAKER_STATE_TTL_S",
    "Breaker",
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerSnapshot",
    "Ticket",
    "breaker_state_key",
    "is_counted_failure",
]

P = ParamSpec("P")
T = TypeVar("T")
log = structlog.get_logger(__name__)

StateName = Literal["closed", "open", "half_open"]
#: What `Breaker.admit` hands out: the generation the call was admitted in, and whether it is the probe.
Ticket = tuple[int, bool]


@dataclass(frozen=True)
class BreakerConfig:
    """How a breaker trips and recovers.

    Args:
        fail_max: consecutive counted failures that open the breaker.
        reset_timeout_s: how long it stays open before admitting one probe.
        call_timeout_s: wall-clock limit of one guarded call; exceeding it raises `TimeoutError` (counted).
    """

    fail_max: int
    reset_timeout_s: float
    call_timeout_s: float


#: Names and settings of the breakers the worker uses (from the original worker, `web_auth_api` renamed).
BREAKER_CONFIGS: Mapping[str, BreakerConfig] = {
    "backend_api": BreakerConfig(fail_max=15, reset_timeout_s=60, call_timeout_s=120),
    "web_auth": BreakerConfig(fail_max=10, reset_timeout_s=60, call_timeout_s=15),
    "mission_execution": BreakerConfig(fail_max=5, reset_timeout_s=120, call_timeout_s=600),
}
#: Direct calls to an AI provider use the breaker `ai_provider:<provider name>`.
AI_PROVIDER_PREFIX = "ai_provider:"
AI_PROVIDER_CONFIG = BreakerConfig(fail_max=5, reset_timeout_s=120, call_timeout_s=600)
#: Used for a name that is neither listed nor an AI provider.
DEFAULT_CONFIG = BreakerConfig(fail_max=5, reset_timeout_s=60, call_timeout_s=30)

#: Seconds the published hash lives unless refreshed; a dead worker's breakers vanish from the dashboard.
BREAKER_STATE_TTL_S = 60


def breaker_state_key(worker_id: str) -> str:
    """Hash of one worker's breakers: field = breaker name, value = `BreakerSnapshot` as JSON, EX 60.

    Written by `BreakerRegistry.publish` (periodically and after each transition); read by the dashboard.
    """
    return keys.breakers(worker_id)


def config_for(name: str) -> BreakerConfig:
    """The settings of the breaker called `name`."""
    if name in BREAKER_CONFIGS:
        return BREAKER_CONFIGS[name]
    if name.startswith(AI_PROVIDER_PREFIX):
        return AI_PROVIDER_CONFIG
    return DEFAULT_CONFIG


def is_counted_failure(error: BaseException) -> bool:
    """Whether `error` is a sign the target is unwell: a timeout, a connection failure or a 5xx.

    An `ApiError` counts by its status (408 is how timeouts reach jobs; 5xx includes the 503 of a failed
    connection). A 4xx is the caller's fault and does not count; nor does another breaker refusing a call.
    """
    if isinstance(error, CircuitOpenError):
        return False
    if isinstance(error, ApiError):
        return error.status is not None and (error.status == 408 or error.status >= 500)
    return isinstance(
        error, TimeoutError | aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | ConnectionError
    )


class BreakerSnapshot(TypedDict):
    """What the dashboard sees of one breaker (times are ISO 8601 UTC, or None)."""

    name: str
    state: StateName
    failures: int
    fail_max: int
    reset_timeout_s: float
    opened_at: str | None
    reopen_at: str | None
    updated_at: str


_STATE_NAMES: dict[CircuitBreakerState, StateName] = {
    CircuitBreakerState.CLOSED: "closed",
    CircuitBreakerState.OPEN: "open",
    CircuitBreakerState.HALF_OPEN: "half_open",
}


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


class _Transitions(CircuitBreakerListener):  # type: ignore[misc]
    """Routes aiobreaker's state-change notifications to `Breaker._transitioned`."""

    def state_change(self, breaker: Breaker, old: Any, new: Any) -> None:
        breaker._transitioned(old.state if old is not None else None, new.state)


class Breaker(aiobreaker.CircuitBreaker):  # type: ignore[misc]
    """An aiobreaker circuit breaker made safe for concurrent asyncio callers (see the module docstring).

    Guard a coroutine with `await breaker.call(func, *args)`, or a call already bounded in time with
    `admit()` and `record()`.
    """

    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Clock = system_clock,
        counts: Callable[[BaseException], bool] = is_counted_failure,
        on_transition: Callable[[Breaker], None] | None = None,
    ) -> None:
        self.config = config or config_for(name)
        super().__init__(
            fail_max=self.config.fail_max,
            timeout_duration=timedelta(seconds=self.config.reset_timeout_s),
            exclude=[lambda error: not counts(error)],
            listeners=[_Transitions()],
            name=name,
        )
        self._clock = clock
        self._on_transition = on_transition
        self._generation = 0
        self._probe_in_flight = False
        self._reopen_mono: float | None = None  # when the probe may go, on the monotonic clock
        self._opened_wall: float | None = None
        self._changed_wall = clock.time()
        self._closed = True  # mirrors the state, for the fast path of `admit`
        self._closed_ticket: Ticket = (0, False)

    # -- what the breaker is doing ---------------------------------------------------------------------------
    @property
    def state_name(self) -> StateName:
        """`closed`, `open` or `half_open`."""
        return _STATE_NAMES[self.current_state]

    @property
    def failures(self) -> int:
        """Consecutive counted failures since the last success or transition."""
        return int(self.fail_counter)

    @property
    def opened_at(self) -> datetime | None:
        """When the breaker last opened (aware UTC), while it is open or half-open."""
        return None if self._opened_wall is None else _utc(self._opened_wall)

    @property
    def reopen_at(self) -> datetime | None:
        """When an open breaker will admit its probe (aware UTC); None unless open."""
        if self.current_state is not CircuitBreakerState.OPEN or self._opened_wall is None:
            return None
        return _utc(self._opened_wall + self.config.reset_timeout_s)

    @property
    def opens_at(self) -> datetime | None:
        """aiobreaker's name for `reopen_at` (its own mixes naive UTC and local time)."""
        return self.reopen_at

    @property
    def time_until_open(self) -> timedelta | None:
        """Time left until the probe is admitted, or None when not open."""
        if self.current_state is not CircuitBreakerState.OPEN or self._reopen_mono is None:
            return None
        left = self._reopen_mono - self._clock.monotonic()
        return timedelta(seconds=max(left, 0.0))

    def snapshot(self) -> BreakerSnapshot:
        """The breaker's state as the dashboard shows it."""
        opened, reopen = self.opened_at, self.reopen_at
        return {
            "name": self.name,
            "state": self.state_name,
            "failures": self.failures,
            "fail_max": self.config.fail_max,
            "reset_timeout_s": self.config.reset_timeout_s,
            "opened_at": opened.isoformat() if opened else None,
            "reopen_at": reopen.isoformat() if reopen else None,
            "updated_at": _utc(self._changed_wall).isoformat(),
        }

    # -- calling through the breaker -------------------------------------------------------------------------
    async def call(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run `func(*args, **kwargs)` if the breaker admits it, within the wall-clock limit.

        Raises:
            CircuitOpenError: the breaker is open, or half-open with its probe under way; `func` did not run.
            TimeoutError: the call ran past `config.call_timeout_s`.
            Exception: whatever `func` raised, as itself, after the breaker has recorded it.
        """
        ticket = self.admit()
        try:
            async with asyncio.timeout(self.config.call_timeout_s):
                result = await func(*args, **kwargs)
        except BaseException as error:
            self.record(ticket, error)
            raise
        self.record(ticket)
        return result

    async def call_async(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """aiobreaker's name for `call`."""
        return await self.call(func, *args, **kwargs)

    def admit(self) -> Ticket:
        """Admit one call now, or raise `CircuitOpenError`; hand the ticket to `record` when the call ends.

            ticket = breaker.admit()
            try:
                reply = await send()
            except BaseException as error:
                breaker.record(ticket, error)   # counted if it is a timeout, connection error or 5xx
                raise
            breaker.record(ticket)

        Unlike `call`, this sets no timer: it is for calls already bounded by `config.call_timeout_s` or less,
        such as an HTTP request with a timeout no longer than that. The HTTP clients use it so that the event
        loop is spared a second timer per request (about 10 us of CPU each) and a coroutine frame.
        """
        if self._closed:  # the common case, decided without aiobreaker's chain of properties
            return self._closed_ticket
        return self._admit()

    def record(self, ticket: Ticket, error: BaseException | None = None) -> None:
        """Record how an admitted call ended: `error` None for a success."""
        generation, probe = ticket
        if error is not None:
            self._record_failure(error, generation, probe)
        elif ticket is not self._closed_ticket or self._state_storage.counter:
            self._record_success(generation, probe)

    def _admit(self) -> tuple[int, bool]:
        """Decide, without awaiting, whether a call may run; returns (generation, is_probe)."""
        state = self.current_state
        if state is CircuitBreakerState.OPEN:
            assert self._reopen_mono is not None
            if self._clock.monotonic() < self._reopen_mono:
                raise CircuitOpenError(self.name, self.reopen_at)
            self.half_open()
            state = CircuitBreakerState.HALF_OPEN
        if state is CircuitBreakerState.HALF_OPEN:
            if self._probe_in_flight:
                raise CircuitOpenError(self.name, None)
            self._probe_in_flight = True
            return self._generation, True
        return self._generation, False

    def _record_failure(self, error: BaseException, generation: int, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
        # Cancellation and 4xx say nothing about the target's health: no count, no reset.
        if not isinstance(error, Exception) or not self.is_system_error(error):
            return
        stale = generation != self._generation
        log.warning(
            "circuit_failure",
            breaker=self.name,
            error=repr(error),
            failures=self.failures + (0 if stale else 1),
            fail_max=self.fail_max,
            stale=stale,
        )
        if stale:  # admitted before the last transition: its verdict is already in
            return
        self._inc_counter()
        for listener in self.listeners:
            listener.failure(self, error)
        # aiobreaker decides (threshold reached, or the probe failed) and opens; it then raises its own
        # CircuitBreakerError, which we drop so the caller sees the original error.
        with suppress(CircuitBreakerError):
            self.state.on_failure(error)

    def _record_success(self, generation: int, probe: bool) -> None:
        if probe:
            self._probe_in_flight = False
        if generation != self._generation:
            return
        if probe or self._state_storage.counter:  # a closed breaker with no failures has nothing to record
            self.state._handle_success()  # aiobreaker: reset the count; half-open -> closed

    # -- transitions (aiobreaker calls these; we stamp time from the Clock) ----------------------------------
    def open(self) -> None:
        # Stored as a deadline (not compared as a difference) so a clock moved by exactly the open period admits
        # the probe despite float rounding.
        self._reopen_mono = self._clock.monotonic() + self.config.reset_timeout_s
        self._opened_wall = self._clock.time()
        self._state_storage.opened_at = _utc(self._opened_wall)
        self._move_to(CircuitBreakerState.OPEN)

    def half_open(self) -> None:
        self._move_to(CircuitBreakerState.HALF_OPEN)

    def close(self) -> None:
        self._reopen_mono = self._opened_wall = None
        self._move_to(CircuitBreakerState.CLOSED)

    def reset(self) -> None:
        """Close the breaker and clear its count (operators and tests)."""
        self._probe_in_flight = False
        if self.current_state is CircuitBreakerState.CLOSED:
            self._state_storage.reset_counter()
        else:
            self.close()

    def _move_to(self, state: CircuitBreakerState) -> None:
        self._generation += 1
        self._changed_wall = self._clock.time()
        self._closed = state is CircuitBreakerState.CLOSED
        self._closed_ticket = (self._generation, False)
        self._state_storage.state = state
        self.state = state  # aiobreaker builds the state object and notifies listeners

    def _transitioned(self, old: CircuitBreakerState | None, new: CircuitBreakerState) -> None:
        fields = {
            "breaker": self.name,
            "from_state": old.name.lower() if old else None,
            "to_state": new.name.lower(),
            "failures": self.failures,
        }
        if new is CircuitBreakerState.OPEN:
            log.warning("circuit_opened", **fields, reopen_at=str(self.reopen_at))
        else:
            log.info("circuit_" + new.name.lower(), **fields)
        if self._on_transition is not None:
            self._on_transition(self)


class BreakerRegistry:
    """The process's breakers by name, and their publication to Redis.

    The first `get(name)` creates the breaker with `config_for(name)` (or the config given) and fixes it;
    later callers share that breaker. If `redis` is given, every transition schedules a write of the breakers'
    state.

    Args:
        clock: the clock every breaker uses.
        redis: where to publish state after transitions; None publishes only on `publish(redis)`.
        worker_id: names the Redis hash (`breaker_state_key(worker_id)`).
        ttl_s: life of the hash, refreshed on each publish.
    """

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        redis: Redis | None = None,
        worker_id: str = "",
        ttl_s: float = BREAKER_STATE_TTL_S,
    ) -> None:
        self._clock = clock
        self._redis = redis
        self._key = breaker_state_key(worker_id or "unknown")
        self._ttl_s = ttl_s
        self._breakers: dict[str, Breaker] = {}
        self._dirty = False
        self._flusher: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        """The Redis hash this registry publishes to."""
        return self._key

    def get(self, name: str, config: BreakerConfig | None = None) -> Breaker:
        """The breaker called `name`, created on first use."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = Breaker(name, config, clock=self._clock, on_transition=self._transitioned)
            self._breakers[name] = breaker
        return breaker

    def __iter__(self) -> Iterator[Breaker]:
        return iter(list(self._breakers.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._breakers

    def snapshot(self) -> list[BreakerSnapshot]:
        """Every breaker's state, sorted by name."""
        return [self._breakers[name].snapshot() for name in sorted(self._breakers)]

    async def publish(self, redis: Redis | None = None) -> bool:
        """Write every breaker's state to the hash and refresh its TTL; False (logged) if Redis failed.

        Call it periodically (e.g. every 15-30 s) so the hash outlives its TTL while the worker lives.
        """
        client = redis or self._redis
        if client is None:
            raise ValueError("no Redis client to publish to")
        fields = {s["name"]: json.dumps(s, separators=(",", ":")) for s in self.snapshot()}
        if not fields:
            return True
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key, mapping=fields)
                pipe.expire(self._key, int(self._ttl_s))
                await pipe.execute()
        except (RedisError, OSError) as error:
            log.warning("breaker_publish_failed", key=self._key, error=repr(error))
            return False
        return True

    async def drain(self) -> None:
        """Wait until state changes scheduled so far have been written."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Write pending state changes; call before closing the Redis client."""
        await self.drain()

    def _transitioned(self, breaker: Breaker) -> None:
        if self._redis is None:
            return
        self._dirty = True
        if self._flusher is None or self._flusher.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # a transition forced from sync code: the next publish() writes it
                return
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        # One writer at a time, always writing the latest state: bursts of transitions coalesce.
        while self._dirty:
            self._dirty = False
            try:
                await self.publish()
            except Exception as error:  # a background task must not die silently
                log.warning("breaker_publish_failed", key=self._key, error=repr(error))
