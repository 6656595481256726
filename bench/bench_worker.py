"""Worker throughput benchmark: powerworker's base layer against bare arq, stock arq and SAQ.

    .venv/bin/python bench/bench_worker.py                 # N = 10,000 jobs per case, one run (~2-3 min)
    .venv/bin/python bench/bench_worker.py --repeat 3      # median of 3 runs per case
    .venv/bin/python bench/bench_worker.py --quick         # N = 2,000: a smoke run

Method (the same for every case):

1. FLUSHDB the dedicated benchmark database (db 13 by default; db 0 and 1 are refused).
2. Pre-enqueue all N jobs from this process in pipelined batches of 1,000, each job with one argument, a
   unique hex token. powerworker jobs go through the real `Enqueuer` (its Lua script, queued on a pipeline);
   arq jobs are written as `arq.ArqRedis.enqueue_job` writes them (SET payload PX + ZADD); SAQ jobs through
   `Queue.enqueue` (its own Lua script). Enqueueing is not timed.
3. Start the worker in a separate process (multiprocessing "spawn"); it runs in burst mode until the queue is
   empty. Every job function records `time.perf_counter()` when it starts and when it ends; the child reports
   the first start, the last end and the number of jobs that ran. jobs/s = N / (last end - first start).
   The child process's start-up (imports, Redis connection, on_startup) is therefore not measured.
4. The parent checks that exactly N jobs ran, none failed or was retried, and the queue is empty.

The unique token matters for powerworker: its runaway detector keys jobs by name and arguments, and the 6th
start of one key within 60 s disables the key for 300 s. `Diagnostics::NoopJob` takes no arguments, so all
N of its runs share one key: 5 run and the rest are deferred (the burst worker would then wait 300 s).
The bench therefore registers, in the worker process, `Bench::NoopJob(ctx, token)` (no annotations, so no
pydantic model: like `Diagnostics::NoopJob`) and `Bench::SleepJob(ctx, token, seconds)` (annotated like
`Diagnostics::SleepJob`, so its arguments are validated by pydantic; it sleeps on the worker's clock).
The other systems get the same token argument so every payload has the same shape.

powerworker's cron scheduler is switched off (`scheduler_enabled=False`) unless --scheduler is given: its
entries fire every minute and enqueue jobs (some not yet ported, which fail as unknown) into the measured
queue, so runs would differ by which minute boundaries they cross.

Cases: bare arq with powerworker's settings (poll_delay 0.05, max_jobs = --concurrency, keep_result 3600,
health check every 10 s, JSON payloads: the same compact `json.dumps` as
`powerworker.serialization.serialize`, copied so that process imports no powerworker, and `json.loads`;
WARNING logging); powerworker built by `build_worker_settings(load_settings(worker_env="test", ...,
log_level="WARNING"))`; arq with its stock defaults (poll_delay 0.5, max_jobs 10, pickle); SAQ with
concurrency 10 (JSON, its defaults otherwise).

Also measured, on an idle worker (not in burst mode): pickup latency, from just before each of --latency-jobs
enqueue calls (one at a time, 5-25 ms apart, random) to the job function's first line, plus arq's own
`start_time - enqueue_time` read from the kept results; and the worker process's VmRSS one second after
start-up (and again after the latency jobs).

The table is printed and written to bench/results/worker.md (gitignored).
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "worker.md"

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
DEFAULT_JOBS = 10_000
QUICK_JOBS = 2_000
DEFAULT_CONCURRENCY = 100
SAQ_CONCURRENCY = 10
SLEEP_S = 0.01
ENQUEUE_BATCH = 1_000

#: powerworker's own defaults, mirrored by the bare arq case.
PW_POLL_DELAY_S = 0.05
PW_KEEP_RESULT_S = 3600
PW_HEALTH_CHECK_S = 10

# Targets (from the brief).
TARGET_NOOP_RATIO = 0.85
TARGET_SLEEP_RATIO = 0.95
TARGET_NOOP_ABSOLUTE = 1_500
TARGET_VS_STOCK = 8.0


# -- timing marks, recorded inside each job function in the worker process ----------------------------------
class _Marks:
    __slots__ = ("count", "cpu_at_first_start", "first_start", "last_end")

    def __init__(self) -> None:
        self.first_start = 0.0
        self.cpu_at_first_start = 0.0
        self.last_end = 0.0
        self.count = 0

    def start(self) -> None:
        if not self.first_start:
            self.first_start = time.perf_counter()
            self.cpu_at_first_start = time.process_time()

    def end(self) -> None:
        self.last_end = time.perf_counter()
        self.count += 1


MARKS = _Marks()


def json_serialize(value: Any) -> bytes:
    """The bare arq case's job serializer: the same compact JSON as `powerworker.serialization.serialize`.

    A copy rather than an import, so the bare arq worker process imports nothing of powerworker.
    """
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# -- job functions: bare arq and SAQ (module level: arq registers them by name below) -----------------------
async def arq_noop(ctx: dict[str, Any], token: str) -> None:
    MARKS.start()
    MARKS.end()


async def arq_sleep10(ctx: dict[str, Any], token: str) -> None:
    MARKS.start()
    await asyncio.sleep(SLEEP_S)
    MARKS.end()


async def arq_latency(ctx: dict[str, Any], token: str) -> float:
    return time.time()


async def saq_noop(ctx: dict[str, Any], *, token: str) -> None:
    MARKS.start()
    MARKS.end()


async def saq_sleep10(ctx: dict[str, Any], *, token: str) -> None:
    MARKS.start()
    await asyncio.sleep(SLEEP_S)
    MARKS.end()


PW_NOOP = "Bench::NoopJob"
PW_SLEEP = "Bench::SleepJob"
PW_LATENCY = "Bench::LatencyJob"


def register_powerworker_jobs() -> None:
    """Register the bench jobs with powerworker (in the worker process, before build_worker_settings).

    Defined here rather than at module level so that the arq and SAQ worker processes (which re-import this
    module) do not import powerworker or pydantic.
    """
    from typing import Annotated

    from pydantic import Field

    from powerworker.context import JobContext
    from powerworker.jobs.base import REGISTRY, job

    if PW_NOOP in REGISTRY:
        return

    @job(PW_NOOP, queue="default")
    async def bench_noop(ctx: JobContext, token) -> None:
        """Like Diagnostics::NoopJob (no argument model), with a unique token so its job key is unique."""
        MARKS.start()
        MARKS.end()

    @job(PW_SLEEP, queue="default")
    async def bench_sleep(
        ctx: JobContext, token: str, seconds: Annotated[float, Field(ge=0, le=3600)]
    ) -> None:
        """Like Diagnostics::SleepJob (validated arguments, sleeps on the worker's clock)."""
        MARKS.start()
        await ctx.clock.sleep(seconds)
        MARKS.end()

    @job(PW_LATENCY, queue="default")
    async def bench_latency(ctx: JobContext, token) -> float:
        """Returns the wall-clock time at which the job function started."""
        return time.time()


# -- cases ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    key: str
    label: str
    system: str  # "arq" (powerworker's settings), "arq-stock", "powerworker", "saq"
    kind: str  # "noop" or "sleep10"
    concurrency: int


def make_cases(concurrency: int) -> list[Case]:
    return [
        Case(
            "arq-noop", f"bare arq (poll 0.05 s, max_jobs {concurrency}), no-op", "arq", "noop", concurrency
        ),
        Case(
            "pw-noop",
            f"powerworker base layer (concurrency {concurrency}), no-op",
            "powerworker",
            "noop",
            concurrency,
        ),
        Case(
            "arq-sleep",
            f"bare arq (poll 0.05 s, max_jobs {concurrency}), 10 ms",
            "arq",
            "sleep10",
            concurrency,
        ),
        Case(
            "pw-sleep",
            f"powerworker base layer (concurrency {concurrency}), 10 ms",
            "powerworker",
            "sleep10",
            concurrency,
        ),
        Case(
            "stock-noop",
            "arq stock defaults (poll 0.5 s, max_jobs 10, pickle), no-op",
            "arq-stock",
            "noop",
            10,
        ),
        Case(
            "saq-noop",
            f"SAQ {_saq_version()} (concurrency {SAQ_CONCURRENCY}), no-op",
            "saq",
            "noop",
            SAQ_CONCURRENCY,
        ),
        Case(
            "saq-sleep",
            f"SAQ {_saq_version()} (concurrency {SAQ_CONCURRENCY}), 10 ms",
            "saq",
            "sleep10",
            SAQ_CONCURRENCY,
        ),
    ]


def _saq_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("saq")
    except PackageNotFoundError:
        return "?"


# -- worker construction (in the child process) --------------------------------------------------------------
def _powerworker_settings(redis_url: str, concurrency: int, scheduler: bool = False) -> Any:
    """The brief's settings; the cron scheduler is off unless --scheduler (see the module docstring)."""
    from powerworker.settings import load_settings

    return load_settings(
        worker_env="test",
        redis_url=redis_url,
        worker_concurrency=concurrency,
        log_level="WARNING",
        scheduler_enabled=scheduler,
    )


def _bare_arq_worker(redis_url: str, concurrency: int, *, burst: bool, stock: bool) -> Any:
    import logging

    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    logging.basicConfig(level=logging.WARNING)
    functions = [
        func(arq_noop, name="noop"),
        func(arq_sleep10, name="sleep10"),
        func(arq_latency, name="latency"),
    ]
    if stock:
        return Worker(
            functions=functions,
            redis_settings=RedisSettings.from_dsn(redis_url),
            burst=burst,
            handle_signals=False,
        )
    return Worker(
        functions=functions,
        redis_settings=RedisSettings.from_dsn(redis_url),
        burst=burst,
        handle_signals=False,
        max_jobs=concurrency,
        poll_delay=PW_POLL_DELAY_S,
        keep_result=PW_KEEP_RESULT_S,
        health_check_interval=PW_HEALTH_CHECK_S,
        job_serializer=json_serialize,
        job_deserializer=json.loads,
    )


def _powerworker_worker(redis_url: str, concurrency: int, *, burst: bool, scheduler: bool) -> Any:
    register_powerworker_jobs()
    from powerworker.worker import build_worker_settings, create_worker

    settings_cls = build_worker_settings(_powerworker_settings(redis_url, concurrency, scheduler))
    return create_worker(settings_cls, burst=burst, handle_signals=False)


async def _close(worker: Any, system: str) -> None:
    if system == "powerworker":
        from powerworker.worker import close_worker

        await close_worker(worker)
        return
    # Bare arq: what close_worker does, minus powerworker's on_shutdown (arq's own Worker.close() uses a call
    # that redis-py 5 deprecates).
    for task in worker.tasks.values():
        task.cancel()
    if worker._pool is not None:
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await worker.pool.delete(worker.health_check_key)
        await worker.pool.aclose(close_connection_pool=True)
        worker._pool = None


# -- child process: one burst run ----------------------------------------------------------------------------
def throughput_child(
    system: str, kind: str, concurrency: int, redis_url: str, scheduler: bool, conn: Connection
) -> None:
    try:
        report = asyncio.run(_throughput(system, kind, concurrency, redis_url, scheduler))
    except BaseException as exc:
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    conn.send(report)
    conn.close()


async def _throughput(
    system: str, kind: str, concurrency: int, redis_url: str, scheduler: bool = False
) -> dict[str, Any]:
    if system == "saq":
        return await _throughput_saq(kind, concurrency, redis_url)
    if system == "powerworker":
        worker = _powerworker_worker(redis_url, concurrency, burst=True, scheduler=scheduler)
    else:
        worker = _bare_arq_worker(redis_url, concurrency, burst=True, stock=system == "arq-stock")
    began = time.perf_counter()
    try:
        await worker.async_run()
        cpu_s = time.process_time() - MARKS.cpu_at_first_start
    finally:
        await _close(worker, system)
    return {
        "ran": MARKS.count,
        "first_start": MARKS.first_start,
        "last_end": MARKS.last_end,
        "process_s": time.perf_counter() - began,
        "cpu_s": cpu_s,
        "complete": worker.jobs_complete,
        "failed": worker.jobs_failed,
        "retried": worker.jobs_retried,
        "pid": os.getpid(),
    }


async def _throughput_saq(kind: str, concurrency: int, redis_url: str) -> dict[str, Any]:
    import logging

    from saq import Queue, Worker

    logging.basicConfig(level=logging.WARNING)
    # A burst stop cancels SAQ's idle upkeep tasks and warns; its per-job lines are INFO either way.
    logging.getLogger("saq").setLevel(logging.ERROR)
    queue = Queue.from_url(redis_url)
    fn = saq_noop if kind == "noop" else saq_sleep10
    worker = Worker(queue, functions=[(kind, fn)], concurrency=concurrency, burst=True, dequeue_timeout=0.5)
    began = time.perf_counter()
    try:
        await worker.start()
        cpu_s = time.process_time() - MARKS.cpu_at_first_start
    finally:
        await queue.disconnect()
    return {
        "ran": MARKS.count,
        "first_start": MARKS.first_start,
        "last_end": MARKS.last_end,
        "process_s": time.perf_counter() - began,
        "cpu_s": cpu_s,
        "complete": queue.complete,
        "failed": queue.failed,
        "retried": queue.retried,
        "pid": os.getpid(),
    }


# -- child process: an idle worker for pickup latency and RSS ------------------------------------------------
def idle_child(system: str, concurrency: int, redis_url: str, scheduler: bool, conn: Connection) -> None:
    asyncio.run(_idle(system, concurrency, redis_url, scheduler, conn))
    conn.close()


async def _idle(system: str, concurrency: int, redis_url: str, scheduler: bool, conn: Connection) -> None:
    if system == "powerworker":
        worker = _powerworker_worker(redis_url, concurrency, burst=False, scheduler=scheduler)
        ready_key = "runtime"  # set by powerworker's on_startup
    else:
        worker = _bare_arq_worker(redis_url, concurrency, burst=False, stock=False)
        ready_key = "redis"  # set by arq once connected
    task = asyncio.create_task(worker.async_run())
    while ready_key not in worker.ctx:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)  # let on_startup finish and the first polls happen
    conn.send({"ready": True, "pid": os.getpid()})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(conn.fileno(), stop.set)  # no helper thread: the RSS reading stays the worker's own
    await stop.wait()
    loop.remove_reader(conn.fileno())
    conn.recv()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await _close(worker, system)


# -- parent: enqueueing --------------------------------------------------------------------------------------
def _token() -> str:
    return uuid.uuid4().hex


async def _flush(redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def _enqueue_all(case: Case, n: int, redis_url: str, concurrency: int) -> None:
    """Put n due jobs in the queue, pipelined; returns when they are all in Redis."""
    if case.system == "saq":
        await _enqueue_saq(case, n, redis_url)
        return
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        if case.system == "powerworker":
            await _enqueue_powerworker(redis, case, n, redis_url, concurrency)
        else:
            await _enqueue_arq(redis, case, n)
        queued = await redis.zcard("arq:queue")  # powerworker's default lane is arq's default queue
        if queued != n:
            raise RuntimeError(f"{case.key}: {queued} jobs queued, expected {n}")
    finally:
        await redis.aclose()


async def _enqueue_powerworker(redis: Any, case: Case, n: int, redis_url: str, concurrency: int) -> None:
    from powerworker.enqueue import Enqueuer
    from powerworker.worker import router_for

    router = router_for(_powerworker_settings(redis_url, concurrency))
    name = PW_NOOP if case.kind == "noop" else PW_SLEEP
    kwargs = {} if case.kind == "noop" else {"seconds": SLEEP_S}
    for start in range(0, n, ENQUEUE_BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            # The Enqueuer's script call on a pipeline queues the EVALSHA instead of sending it.
            enqueuer = Enqueuer(pipe, router, {name: "default"})
            for _ in range(start, min(start + ENQUEUE_BATCH, n)):
                await enqueuer.enqueue(name, [_token()], kwargs)
            results = await pipe.execute()
        if not all(r == 1 for r in results):
            raise RuntimeError(f"{case.key}: the enqueue script refused a job")


async def _enqueue_arq(redis: Any, case: Case, n: int) -> None:
    from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix
    from arq.jobs import serialize_job

    serializer = None if case.system == "arq-stock" else json_serialize  # None: arq's default, pickle
    for start in range(0, n, ENQUEUE_BATCH):
        now_ms = int(time.time() * 1000)
        async with redis.pipeline(transaction=False) as pipe:
            for _ in range(start, min(start + ENQUEUE_BATCH, n)):
                job_id = _token()
                payload = serialize_job(case.kind, (_token(),), {}, None, now_ms, serializer=serializer)
                pipe.psetex(job_key_prefix + job_id, expires_extra_ms, payload)
                pipe.zadd(default_queue_name, {job_id: now_ms})
            await pipe.execute()


async def _enqueue_saq(case: Case, n: int, redis_url: str) -> None:
    from saq import Queue

    queue = Queue.from_url(redis_url)
    try:
        await queue.connect()
        for start in range(0, n, ENQUEUE_BATCH):
            jobs = await asyncio.gather(
                *(
                    queue.enqueue(case.kind, token=_token())
                    for _ in range(start, min(start + ENQUEUE_BATCH, n))
                )
            )
            if any(j is None for j in jobs):
                raise RuntimeError(f"{case.key}: SAQ refused a job")
        queued = await queue.count("queued")
        if queued != n:
            raise RuntimeError(f"{case.key}: {queued} jobs queued, expected {n}")
    finally:
        await queue.disconnect()


# -- parent: running cases -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    rate: float  # jobs/s
    process_s: float  # the worker process's wall time from async_run to exit (Redis connect, start-up, drain)
    worker_cpu_us: float  # worker process CPU per job, from the first job start to the end of the run
    redis_cpu_us: float  # Redis server CPU per job over the worker's run


@dataclass
class Outcome:
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [r.rate for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.runs else float("nan")

    def median_of(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs) if self.runs else float("nan")


def run_case(
    ctx: multiprocessing.context.SpawnContext,
    case: Case,
    n: int,
    redis_url: str,
    concurrency: int,
    scheduler: bool,
) -> Run:
    """One burst run of `case`."""
    asyncio.run(_flush(redis_url))
    asyncio.run(_enqueue_all(case, n, redis_url, concurrency))
    redis_cpu_before = asyncio.run(_redis_cpu_s(redis_url))
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=throughput_child,
        args=(case.system, case.kind, case.concurrency, redis_url, scheduler, child),
        name=f"bench-{case.key}",
    )
    proc.start()
    child.close()
    timeout_s = 60 + n / 50
    try:
        if not parent.poll(timeout_s):
            raise RuntimeError(f"{case.key}: no report after {timeout_s:.0f} s")
        report = parent.recv()
        redis_cpu_s = asyncio.run(_redis_cpu_s(redis_url)) - redis_cpu_before
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if "error" in report:
        raise RuntimeError(f"{case.key}: worker failed: {report['error']}")
    if report["ran"] != n or (not scheduler and (report["failed"] or report["retried"])):
        raise RuntimeError(
            f"{case.key}: {report['ran']} of {n} jobs ran, {report['failed']} failed, "
            f"{report['retried']} retried"
        )
    if not scheduler:  # cron entries may enqueue jobs of their own
        asyncio.run(_check_drained(case, redis_url))
    elapsed = report["last_end"] - report["first_start"]
    return Run(n / elapsed, report["process_s"], report["cpu_s"] / n * 1e6, redis_cpu_s / n * 1e6)


async def _redis_cpu_s(redis_url: str) -> float:
    """CPU seconds the Redis server has used (all clients: an approximation on a shared server)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        info = await redis.info("cpu")
    finally:
        await redis.aclose()
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def _check_drained(case: Case, redis_url: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        key = "saq:default:queued" if case.system == "saq" else "arq:queue"
        left = await (redis.llen(key) if case.system == "saq" else redis.zcard(key))
        if left:
            raise RuntimeError(f"{case.key}: {left} jobs left in the queue")
    finally:
        await redis.aclose()


# -- parent: pickup latency and RSS --------------------------------------------------------------------------
@dataclass
class IdleReport:
    system: str
    rss_idle_kib: int
    rss_after_kib: int
    to_job_ms: list[float]
    to_arq_start_ms: list[float]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run_idle(
    ctx: multiprocessing.context.SpawnContext,
    system: str,
    redis_url: str,
    concurrency: int,
    jobs: int,
    scheduler: bool,
) -> IdleReport:
    asyncio.run(_flush(redis_url))
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=idle_child,
        args=(system, concurrency, redis_url, scheduler, child),
        name=f"bench-idle-{system}",
    )
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError(f"idle {system} worker did not start")
        hello = parent.recv()
        time.sleep(1.0)
        rss_idle = _rss_kib(hello["pid"])
        to_job, to_start = asyncio.run(_latency(system, redis_url, concurrency, jobs))
        rss_after = _rss_kib(hello["pid"])
        parent.send("stop")
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return IdleReport(system, rss_idle, rss_after, to_job, to_start)


async def _latency(
    system: str, redis_url: str, concurrency: int, jobs: int
) -> tuple[list[float], list[float]]:
    """Enqueue `jobs` jobs one at a time, 5-25 ms apart; returns enqueue->job and enqueue->arq start (ms)."""
    from arq.connections import RedisSettings, create_pool
    from arq.jobs import Job

    pool = await create_pool(
        RedisSettings.from_dsn(redis_url), job_serializer=json_serialize, job_deserializer=json.loads
    )
    rng = random.Random(1234)
    sent: list[tuple[str, float]] = []
    try:
        if system == "powerworker":
            from powerworker.enqueue import Enqueuer
            from powerworker.worker import router_for

            enqueuer = Enqueuer(
                pool, router_for(_powerworker_settings(redis_url, concurrency)), {PW_LATENCY: "default"}
            )

            async def enqueue() -> str | None:
                return await enqueuer.enqueue(PW_LATENCY, [_token()])
        else:

            async def enqueue() -> str | None:
                job = await pool.enqueue_job("latency", _token())
                return None if job is None else job.job_id

        for _ in range(jobs):
            before = time.time()
            job_id = await enqueue()
            if job_id is None:
                raise RuntimeError("duplicate job id")
            sent.append((job_id, before))
            await asyncio.sleep(rng.uniform(0.005, 0.025))
        deadline = time.monotonic() + 30
        to_job: list[float] = []
        to_start: list[float] = []
        for job_id, before in sent:
            while True:
                info = await Job(job_id, pool, _deserializer=json.loads).result_info()
                if info is not None:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no result for latency job {job_id}")
                await asyncio.sleep(0.05)
            if not info.success:
                raise RuntimeError(f"latency job {job_id} failed: {info.result}")
            to_job.append((float(info.result) - before) * 1000)
            to_start.append((info.start_time - info.enqueue_time).total_seconds() * 1000)
        return to_job, to_start
    finally:
        await pool.aclose()


# -- report --------------------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _fmt_rate(value: float) -> str:
    return "—" if value != value else f"{value:,.0f}"


def _fmt_ratio(value: float, suffix: str = "") -> str:
    return "—" if value != value else f"{value:.2f}{suffix}"


def _git_state() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "--short", "HEAD").strip() or "?"
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return f"{head}" + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else " (src clean)")


THROUGHPUT_METHOD = (
    "jobs/s = N / (last job end - first job start), timed inside the job functions of a burst worker "
    "running in its own process; all N jobs pre-enqueued (pipelined) before the worker starts. Worker "
    "CPU: the worker process's CPU time from the first job start to the end of its run, per job. Redis "
    "CPU: the server's used_cpu_sys + used_cpu_user over the worker's run, per job (other clients of the "
    "server count too). Worker process s: wall time of the worker's run including connecting and "
    "on_startup (not the imports). Payloads "
    "are compact JSON (powerworker's `serialize`; bare arq uses a copy of it and `json.loads`) except "
    "stock arq (pickle, its default). Each job has one argument, a unique token (powerworker's runaway "
    "detector would otherwise disable the job after its 5th start in 60 s)."
)
IDLE_METHOD = (
    "one at a time, 5-25 ms apart. *to job* = from just before the enqueue call to the job function's "
    "first line; *to arq start* = arq's `start_time - enqueue_time` from the kept result (ms resolution). "
    "RSS = /proc/<pid>/status VmRSS 1 s after start-up, and after the latency jobs."
)


def render(
    cases: list[Case],
    outcomes: dict[str, Outcome],
    idle: list[IdleReport],
    args: argparse.Namespace,
    started: float,
) -> str:
    lines = [
        "# Worker benchmark",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M:%S')}; N = {args.jobs:,} jobs per case, "
        f"median of {args.repeat} run(s); Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"Redis {args.redis_url}; powerworker at {_git_state()}; "
        f"wall time {time.monotonic() - started:.0f} s.",
        "",
        THROUGHPUT_METHOD,
        "",
        "| case | jobs/s (median) | runs | worker CPU µs/job | Redis CPU µs/job | worker process s |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for case in cases:
        out = outcomes[case.key]
        runs = ", ".join(_fmt_rate(r) for r in out.rates) or "; ".join(out.errors) or "—"
        lines.append(
            f"| {case.label} | {_fmt_rate(out.median)} | {runs} | {out.median_of('worker_cpu_us'):.0f} | "
            f"{out.median_of('redis_cpu_us'):.0f} | {out.median_of('process_s'):.1f} |"
        )

    def med(key: str) -> float:
        return outcomes[key].median if key in outcomes else float("nan")

    def check(value: float, target: float) -> str:
        if value != value:
            return "—"
        return "yes" if value >= target else "**no**"

    noop_ratio = med("pw-noop") / med("arq-noop")
    sleep_ratio = med("pw-sleep") / med("arq-sleep")
    vs_stock = med("pw-noop") / med("stock-noop")
    lines += [
        "",
        "| measure | value | target | met |",
        "|---|---:|---:|---|",
        f"| powerworker / bare arq, no-op | {_fmt_ratio(noop_ratio)} | >= {TARGET_NOOP_RATIO} | "
        f"{check(noop_ratio, TARGET_NOOP_RATIO)} |",
        f"| powerworker / bare arq, 10 ms | {_fmt_ratio(sleep_ratio)} | >= {TARGET_SLEEP_RATIO} | "
        f"{check(sleep_ratio, TARGET_SLEEP_RATIO)} |",
        f"| powerworker no-op, jobs/s | {_fmt_rate(med('pw-noop'))} | >= {TARGET_NOOP_ABSOLUTE:,} | "
        f"{check(med('pw-noop'), TARGET_NOOP_ABSOLUTE)} |",
        f"| powerworker / stock arq, no-op | {_fmt_ratio(vs_stock, 'x')} | >= {TARGET_VS_STOCK:g}x | "
        f"{check(vs_stock, TARGET_VS_STOCK)} |",
        f"| powerworker / SAQ (c={SAQ_CONCURRENCY}), no-op | {_fmt_ratio(med('pw-noop') / med('saq-noop'))} | "
        "reference | |",
        f"| powerworker / SAQ (c={SAQ_CONCURRENCY}), 10 ms | {_fmt_ratio(med('pw-sleep') / med('saq-sleep'))} | "
        "reference | |",
    ]
    if idle:
        lines += [
            "",
            f"Idle worker (not burst), concurrency {args.concurrency}: {args.latency_jobs} jobs enqueued "
            + IDLE_METHOD,
            "",
            "| worker | to job p50 / p99 / max (ms) | to arq start p50 / p99 (ms) | RSS idle (MiB) | "
            "RSS after jobs (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for rep in idle:
            name = "powerworker" if rep.system == "powerworker" else "bare arq (poll 0.05 s)"
            lines.append(
                f"| {name} | {_pct(rep.to_job_ms, 0.5):.1f} / {_pct(rep.to_job_ms, 0.99):.1f} / "
                f"{max(rep.to_job_ms):.1f} | {_pct(rep.to_arq_start_ms, 0.5):.0f} / "
                f"{_pct(rep.to_arq_start_ms, 0.99):.0f} | {rep.rss_idle_kib / 1024:.1f} | "
                f"{rep.rss_after_kib / 1024:.1f} |"
            )
    return "\n".join(lines) + "\n"


# -- main ----------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help="jobs per case (default 10,000)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_JOBS:,} jobs per case")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="max_jobs / WORKER_CONCURRENCY of bare arq and powerworker (default 100)",
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help="a dedicated database: it is flushed")
    parser.add_argument("--cases", default="all", help="comma-separated case keys (arq-noop, pw-noop, ...)")
    parser.add_argument("--latency-jobs", type=int, default=300, help="jobs for the pickup latency (0: skip)")
    parser.add_argument(
        "--scheduler",
        action="store_true",
        help="leave powerworker's cron scheduler on (off by default: its entries fire every minute)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown file to write")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs = QUICK_JOBS
        args.latency_jobs = min(args.latency_jobs, 100)
    if args.jobs < 1 or args.repeat < 1:
        parser.error("--jobs and --repeat must be positive")
    from redis.asyncio.connection import parse_url

    db = int(parse_url(args.redis_url).get("db", 0))
    if db in (0, 1):
        parser.error(f"refusing to flush Redis db {db} (the default and powerworker's default database)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    cases = make_cases(args.concurrency)
    if args.cases != "all":
        wanted = {c.strip() for c in args.cases.split(",")}
        unknown = wanted - {c.key for c in cases}
        if unknown:
            print(f"unknown case(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.key in wanted]
    outcomes = {case.key: Outcome() for case in cases}
    for run in range(1, args.repeat + 1):
        for case in cases:
            try:
                result = run_case(ctx, case, args.jobs, args.redis_url, args.concurrency, args.scheduler)
            except RuntimeError as exc:
                outcomes[case.key].errors.append(str(exc))
                print(f"[run {run}] {case.key}: FAILED: {exc}", file=sys.stderr, flush=True)
                continue
            outcomes[case.key].runs.append(result)
            print(
                f"[run {run}] {case.key:<11} {result.rate:8,.0f} jobs/s  worker CPU "
                f"{result.worker_cpu_us:4.0f} µs/job  Redis CPU {result.redis_cpu_us:4.0f} µs/job",
                flush=True,
            )
    idle: list[IdleReport] = []
    if args.latency_jobs > 0:
        for system in ("powerworker", "arq"):
            rep = run_idle(ctx, system, args.redis_url, args.concurrency, args.latency_jobs, args.scheduler)
            idle.append(rep)
            print(
                f"[idle] {system:<11} pickup p50 {_pct(rep.to_job_ms, 0.5):.1f} ms, p99 "
                f"{_pct(rep.to_job_ms, 0.99):.1f} ms; RSS {rep.rss_idle_kib / 1024:.1f} MiB",
                flush=True,
            )
    asyncio.run(_flush(args.redis_url))
    table = render(cases, outcomes, idle, args, started)
    print()
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(f"written to {args.output}")
    return 1 if any(o.errors for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
