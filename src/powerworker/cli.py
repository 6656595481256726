"""The `powerworker` command: enqueue jobs, probe a live worker, and manage the dead set.

powerworker enqueue NAME --args JSON [--kwargs JSON] [--defer S] [--job-id ID] [--queue Q]
powerworker ping [--timeout S]
powerworker dead list|retry|delete
powerworker worker            (the same as `arq powerworker.WorkerSettings`)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click
from arq.jobs import Job
from redis.asyncio import Redis

from powerworker.errors import ConfigurationError, UnknownJob
from powerworker.jobs.base import load_jobs
from powerworker.logs import configure_logging
from powerworker.scheduler import Scheduler, load_schedule
from powerworker.serialization import make_job_deserializer
from powerworker.settings import Settings, load_settings
from powerworker.worker import build_queue_tools

__all__ = ["main"]

T = TypeVar("T")


class Env:
    """What every command needs, built from the settings once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.specs = load_jobs()
        self.redis: Redis = Redis.from_url(settings.redis_url)
        self.enqueuer, self.dead = build_queue_tools(settings, self.redis, specs=self.specs)


def _async(fn: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command body with a fresh Env, closing its Redis client afterwards."""

    @wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        ctx = click.get_current_context()
        settings: Settings = ctx.obj

        async def body() -> T:
            env = Env(settings)
            try:
                return await fn(env, *args, **kwargs)
            finally:
                await env.redis.aclose()

        coro: Coroutine[Any, Any, T] = body()
        return asyncio.run(coro)

    return run


def _json_arg(value: str | None, what: str, kind: type) -> Any:
    if value is None:
        return kind()
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint=what) from None
    if not isinstance(parsed, kind):
        raise click.BadParameter(f"must be a JSON {'array' if kind is list else 'object'}", param_hint=what)
    return parsed


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """powerworker: the Powernode background-job runner."""
    try:
        ctx.obj = load_settings()
        ctx.obj.lanes  # noqa: B018 - validate QUEUE_LANES up front
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    if ctx.invoked_subcommand != "worker":  # commands print their results; only warnings are logged
        configure_logging(ctx.obj.model_copy(update={"log_level": "WARNING"}), cache=False)


@main.command()
@click.argument("name")
@click.option("--args", "args_json", help="Positional arguments as a JSON array.")
@click.option("--kwargs", "kwargs_json", help="Keyword arguments as a JSON object.")
@click.option(
    "--defer", "defer_s", type=click.FloatRange(min=0), help="Run no sooner than S seconds from now."
)
@click.option("--job-id", help="A job id; a second enqueue with the same id is refused.")
@click.option("--queue", help="The logical queue (defaults to the job's own).")
@_async
async def enqueue(
    env: Env,
    name: str,
    args_json: str | None,
    kwargs_json: str | None,
    defer_s: float | None,
    job_id: str | None,
    queue: str | None,
) -> None:
    """Enqueue job NAME."""
    args = _json_arg(args_json, "--args", list)
    kwargs = _json_arg(kwargs_json, "--kwargs", dict)
    try:
        new_id = await env.enqueuer.enqueue(name, args, kwargs, queue=queue, defer_s=defer_s, job_id=job_id)
    except UnknownJob as exc:
        known = ", ".join(sorted(n for n, s in env.specs.items() if not s.internal))
        raise click.ClickException(f"{exc}. Registered jobs: {known}") from None
    if new_id is None:
        raise click.ClickException(f"a job with id {job_id} is already queued, running or has a kept result")
    click.echo(new_id)


@main.command()
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=10.0, show_default=True)
@_async
async def ping(env: Env, timeout_s: float) -> None:
    """Enqueue Diagnostics::EchoJob and wait for its result: an end-to-end liveness probe."""
    token = uuid.uuid4().hex
    started = time.monotonic()
    job_id = await env.enqueuer.enqueue("Diagnostics::EchoJob", [token])
    assert job_id is not None
    job = Job(job_id, env.redis, _deserializer=make_job_deserializer(env.specs.keys()))
    try:
        result = await job.result(timeout=timeout_s, poll_delay=0.02)
    except TimeoutError:
        raise click.ClickException(f"no worker answered within {timeout_s:g}s (job {job_id})") from None
    if result != token:
        raise click.ClickException(f"worker answered {result!r}, expected {token!r}")
    click.echo(f"pong in {(time.monotonic() - started) * 1000:.0f} ms (job {job_id})")


@main.group()
def dead() -> None:
    """Inspect, retry and delete dead jobs."""


@dead.command("list")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@_async
async def dead_list(env: Env, limit: int, offset: int, as_json: bool) -> None:
    """List dead jobs, newest first."""
    entries = await env.dead.list(offset, limit)
    total = await env.dead.size()
    for entry in entries:
        if as_json:
            click.echo(entry.to_json())
            continue
        when = datetime.fromtimestamp(entry.failed_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(
            f"{entry.job_id}  {when}  {entry.name}  tries={entry.tries}  "
            f"{entry.error_class}: {entry.message[:100]}"
        )
    if not as_json:
        click.echo(f"{len(entries)} of {total} dead jobs shown", err=True)


def _ids_or_all(job_ids: tuple[str, ...], all_: bool) -> None:
    if bool(job_ids) == all_:
        raise click.UsageError("give job ids or --all, not both or neither")


@dead.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Retry every dead job.")
@_async
async def dead_retry(env: Env, job_ids: tuple[str, ...], all_: bool) -> None:
    """Enqueue dead jobs again under their ids."""
    _ids_or_all(job_ids, all_)
    ids = await env.dead.all_ids() if all_ else list(job_ids)
    failures = 0
    for job_id in ids:
        try:
            done = await env.dead.retry(job_id)
        except ValueError as exc:
            click.echo(f"{job_id}: {exc}", err=True)
            failures += 1
            continue
        if not done:
            click.echo(f"{job_id}: no such dead job", err=True)
            failures += 1
        else:
            click.echo(f"{job_id}: retried")
    if failures:
        sys.exit(1)


@dead.command("delete")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Delete every dead job.")
@_async
async def dead_delete(env: Env, job_ids: tuple[str, ...], all_: bool) -> None:
    """Delete dead jobs."""
    _ids_or_all(job_ids, all_)
    ids = await env.dead.all_ids() if all_ else list(job_ids)
    missing = [job_id for job_id in ids if not await env.dead.delete(job_id)]
    click.echo(f"deleted {len(ids) - len(missing)}")
    for job_id in missing:
        click.echo(f"{job_id}: no such dead job", err=True)
    if missing:
        sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--burst", is_flag=True, help="Exit once no job is due.")
def worker(burst: bool) -> None:
    """Run a worker (the same as `arq powerworker.WorkerSettings`)."""
    from arq.worker import run_worker

    import powerworker

    run_worker(powerworker.WorkerSettings, **({"burst": True} if burst else {}))


def _scheduler(env: Env) -> Scheduler:
    return Scheduler(
        env.redis, env.enqueuer, load_schedule(env.settings.schedule), timezone=env.settings.cron_timezone
    )


@main.group(invoke_without_command=True)
@click.pass_context
def schedule(ctx: click.Context) -> None:
    """List the schedule (no subcommand), or enable, disable or run an entry."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(schedule_list)


@schedule.command("list")
@_async
async def schedule_list(env: Env) -> None:
    """Every entry: expression, queue, next run, last run and state."""
    rows = await _scheduler(env).rows()
    width = max(len(row.entry.name) for row in rows)
    click.echo(f"{'NAME':<{width}}  {'CRON':<15} {'QUEUE':<18} {'NEXT RUN':<20} {'LAST RUN':<20} STATE")
    for row in rows:
        last = row.last_run.strftime("%Y-%m-%d %H:%M:%S") if row.last_run else "-"
        click.echo(
            f"{row.entry.name:<{width}}  {row.entry.cron:<15} {row.entry.queue:<18} "
            f"{row.next_run.strftime('%Y-%m-%d %H:%M:%S'):<20} {last:<20} "
            f"{'enabled' if row.enabled else 'DISABLED'}"
        )


def _schedule_action(name: str, action: Callable[[Scheduler, str], Awaitable[object]]) -> Callable[..., None]:
    @schedule.command(name)
    @click.argument("schedule_name")
    @_async
    async def command(env: Env, schedule_name: str) -> None:
        try:
            outcome = await action(_scheduler(env), schedule_name)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        click.echo(f"{schedule_name}: {outcome}")

    command.__doc__ = {
        "enable": "Enable a schedule on every worker.",
        "disable": "Disable a schedule on every worker.",
        "run": "Enqueue a schedule's job now, once.",
    }[name]
    return command


async def _enable(s: Scheduler, name: str) -> str:
    await s.set_enabled(name, True)
    return "enabled"


async def _disable(s: Scheduler, name: str) -> str:
    await s.set_enabled(name, False)
    return "disabled"


async def _run(s: Scheduler, name: str) -> str:
    return f"enqueued {await s.trigger(name)}"


_schedule_action("enable", _enable)
_schedule_action("disable", _disable)
_schedule_action("run", _run)


@main.command()
@click.option("--host", help="Address to listen on (default WEB_HOST, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default WEB_PORT, 4567).")
@click.pass_context
def web(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the dashboard (a separate process from the worker)."""
    from powerworker import __version__
    from powerworker.web import serve

    settings: Settings = ctx.obj
    try:
        settings.check_for_web()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings)
    serve(settings, host or settings.web_host, port or settings.web_port, version=__version__)
