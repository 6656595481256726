"""Running one job: the base layer every registered job is wrapped in.

For each try the base layer, in order: binds the job's log context; gives up on a job whose worker died on
every try it had (dead set); asks the runaway detector (one Lua call that also takes the job's lease);
checks the arguments; runs the job under its timeout; then records the outcome (one more Redis call).
A failure becomes a retry with the original's backoff, or a dead-set entry when the error is permanent or
the retries are spent. A job cancelled by a shutdown is handed back without using up a try.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from arq import Retry
from arq.worker import Function

from powerworker import keys
from powerworker.context import JobContext, Runtime, bound_logger
from powerworker.dead import DeadEntry
from powerworker.errors import JobDisabled, JobTimeout, MalformedPayload, UnknownJob, WorkerLost
from powerworker.jobs.base import JobSpec
from powerworker.resilience.retry import is_permanent, retry_delay_s
from powerworker.runner import CLAIMS
from powerworker.serialization import MALFORMED_JOB, QUEUE_KWARG, UNKNOWN_JOB
from powerworker.settings import Settings
from powerworker.tracking import SLOW_DELAY_S, Start, StartVerdict, job_key

__all__ = ["arq_functions", "internal_functions"]

#: arq's own per-try timeout sits this far above the base layer's, so the base layer's fires first.
ARQ_TIMEOUT_MARGIN_S = 10.0


def arq_functions(specs: Mapping[str, JobSpec], settings: Settings) -> list[Function]:
    """One arq function per registered job, wrapped by the base layer."""
    return [_arq_function(spec, settings) for spec in specs.values()]


def _arq_function(spec: JobSpec, settings: Settings) -> Function:
    retries = spec.retries_allowed(settings.default_retries)
    timeout_s = spec.timeout_s or settings.job_timeout_s

    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return await _run(spec, retries, timeout_s, ctx, args, kwargs)

    run.__qualname__ = run.__name__ = spec.name
    # Tries: 1 + retries, plus one run after a worker died, plus one in which the base layer records that the
    # worker died on every try. arq's own limit lies beyond them so the base layer always has the last word.
    return Function(spec.name, run, timeout_s + ARQ_TIMEOUT_MARGIN_S, spec.keep_result_s, None, retries + 4)


async def _run(
    spec: JobSpec,
    retries: int,
    timeout_s: float,
    ctx: dict[str, Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
) -> Any:
    runtime: Runtime = ctx["runtime"]
    job_id: str = ctx["job_id"]
    job_try: int = ctx["job_try"]
    queue = kwargs.pop(QUEUE_KWARG, None) or spec.queue
    log = bound_logger(job_id, spec.name, job_try, queue)
    key = job_key(spec.name, args, kwargs) if spec.runaway_check else f"{spec.name}:{job_id}"
    outcome = _Outcome(runtime, spec, job_id, job_try, queue, key, args, kwargs, ctx, log)

    if job_try > retries + 2:
        return await outcome.final(
            WorkerLost(f"the worker died on each of the {job_try - 1} tries of this job")
        )

    claims: dict[str, StartVerdict] = ctx.get(CLAIMS, {})
    verdict = claims.pop(job_id, None)  # checked in the claim when the payload carried the job key
    if verdict is None or not spec.runaway_check:
        verdict = await runtime.tracker.start(key, job_id, spec.name, queue, job_try)
    if verdict.start in (Start.DISABLED, Start.TRIPPED):
        disabled = JobDisabled(key, verdict.reason, verdict.retry_in_s)
        if verdict.start is Start.TRIPPED:
            log.error(
                "job.runaway_loop_detected",
                job_key=key,
                starts_in_60s=verdict.recent,
                disabled_for_s=verdict.retry_in_s,
            )
        else:
            log.warning("job.disabled", job_key=key, reason=verdict.reason, retry_in_s=verdict.retry_in_s)
        raise Retry(defer=verdict.retry_in_s) from disabled
    if verdict.start is Start.SLOW:
        log.warning("job.high_frequency", job_key=key, starts_in_300s=verdict.total, delay_s=SLOW_DELAY_S)
        await runtime.clock.sleep(SLOW_DELAY_S)

    runtime.running.add(job_id)
    log.debug("job.started", job_key=key)
    started = runtime.clock.monotonic()
    timer = asyncio.timeout(timeout_s)
    try:
        call_args, call_kwargs = spec.binder.bind(args, kwargs)
        context = JobContext(job_id, spec.name, job_try, queue, ctx.get("enqueue_time"), key, runtime, log)
        async with timer:
            result = await spec.fn(context, *call_args, **call_kwargs)
    except asyncio.CancelledError:
        await asyncio.shield(outcome.hand_back())
        raise
    except Retry as request:  # the job asked for a retry itself
        if job_try <= retries:
            await outcome.released()
            log.info("job.retry_requested", retry_in_s=(request.defer_score or 0) / 1000)
            raise
        return await outcome.final(request)
    except Exception as exc:
        error: BaseException = exc
        if isinstance(exc, TimeoutError) and timer.expired():
            error = JobTimeout(f"{spec.name} ran past its timeout of {timeout_s:g}s")
        if is_permanent(error) or job_try > retries:
            return await outcome.final(error)
        delay_s = retry_delay_s(job_try, error)
        await outcome.failed_try(error)
        log.warning(
            "job.retry",
            error=str(error),
            error_class=type(error).__name__,
            retry=job_try,
            retry_in_s=delay_s,
            duration_s=round(runtime.clock.monotonic() - started, 3),
        )
        raise Retry(defer=delay_s) from error
    else:
        runtime.tracker.succeeded(key, job_id, spec.name)
        log.info("job.completed", duration_s=round(runtime.clock.monotonic() - started, 4))
        return result
    finally:
        runtime.running.discard(job_id)


class _Outcome:
    """Records how a try ended."""

    def __init__(
        self,
        runtime: Runtime,
        spec: JobSpec,
        job_id: str,
        job_try: int,
        queue: str,
        key: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        ctx: Mapping[str, Any],
        log: Any,
    ) -> None:
        self.runtime, self.spec, self.job_id, self.job_try = runtime, spec, job_id, job_try
        self.queue, self.key, self.args, self.kwargs, self.ctx, self.log = queue, key, args, kwargs, ctx, log

    async def failed_try(self, error: BaseException) -> None:
        async with self.runtime.redis.pipeline(transaction=False) as pipe:
            self.runtime.tracker.failed(pipe, self.key, self.job_id, self.spec.name, error)
            await pipe.execute()

    async def released(self) -> None:
        async with self.runtime.redis.pipeline(transaction=False) as pipe:
            self.runtime.tracker.released(pipe, self.job_id)
            await pipe.execute()

    async def hand_back(self) -> None:
        """A shutdown cancelled the job: give its try back so the re-run is not counted against it."""
        async with self.runtime.redis.pipeline(transaction=False) as pipe:
            pipe.decr(keys.RETRY_PREFIX + self.job_id)
            self.runtime.tracker.released(pipe, self.job_id)
            await pipe.execute()
        self.log.info("job.handed_back")

    async def final(self, error: BaseException) -> Any:
        """The job will not run again on its own: dead set (or discard), failure marker, then re-raise."""
        keep = self.spec.keeps_dead
        async with self.runtime.redis.pipeline(transaction=False) as pipe:
            self.runtime.tracker.failed(pipe, self.key, self.job_id, self.spec.name, error)
            if keep:
                await self.runtime.dead.add_to(
                    pipe,
                    dead_entry(
                        self.runtime,
                        self.job_id,
                        self.spec.name,
                        self.args,
                        self.kwargs,
                        self.queue,
                        error,
                        self.job_try,
                        self.ctx,
                    ),
                )
            await pipe.execute()
        self.log.error(
            "job.dead" if keep else "job.discarded",
            error=str(error),
            error_class=type(error).__name__,
            permanent=is_permanent(error),
            exc_info=error,
        )
        raise error


def dead_entry(
    runtime: Runtime,
    job_id: str,
    name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    queue: str,
    error: BaseException,
    tries: int,
    ctx: Mapping[str, Any],
    raw_payload: str | None = None,
) -> DeadEntry:
    enqueued = ctx.get("enqueue_time")
    return DeadEntry(
        job_id=job_id,
        name=name,
        args=list(args),
        kwargs=dict(kwargs),
        queue=queue,
        error_class=type(error).__name__,
        message=str(error),
        traceback="".join(traceback.format_exception(error)),
        tries=tries,
        failed_at=runtime.clock.time(),
        enqueued_at=enqueued.timestamp() if enqueued else None,
        raw_payload=raw_payload,
    )


def internal_functions() -> list[Function]:
    """The jobs the deserializer routes unreadable payloads to: each records a dead-set entry."""

    async def malformed(ctx: dict[str, Any], raw: str, problem: str) -> None:
        ctx.get(CLAIMS, {}).pop(ctx["job_id"], None)
        runtime: Runtime = ctx["runtime"]
        error = MalformedPayload(problem)
        log = bound_logger(ctx["job_id"], MALFORMED_JOB, ctx["job_try"], "unknown")
        await runtime.dead.add(
            dead_entry(
                runtime,
                ctx["job_id"],
                MALFORMED_JOB,
                [],
                {},
                "unknown",
                error,
                ctx["job_try"],
                ctx,
                raw_payload=raw,
            )
        )
        log.error("job.malformed_payload", error=problem, payload_preview=raw[:200])
        raise error

    async def unknown(
        ctx: dict[str, Any], name: str, args: list[Any], kwargs: dict[str, Any], **meta: Any
    ) -> None:
        ctx.get(CLAIMS, {}).pop(ctx["job_id"], None)  # the claim's verdict is of no use here
        runtime: Runtime = ctx["runtime"]
        queue = meta.get(QUEUE_KWARG) or "default"
        error = UnknownJob(name)
        log = bound_logger(ctx["job_id"], name, ctx["job_try"], queue)
        await runtime.dead.add(
            dead_entry(runtime, ctx["job_id"], name, args, kwargs, queue, error, ctx["job_try"], ctx)
        )
        log.error("job.unknown", error=str(error))
        raise error

    return [
        Function(MALFORMED_JOB, malformed, 30.0, None, None, 3),
        Function(UNKNOWN_JOB, unknown, 30.0, None, None, 3),
    ]
