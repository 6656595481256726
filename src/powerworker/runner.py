"""powerworker's arq `Worker`: the same worker, with a one-round-trip job claim that takes the lease.

arq claims each due job with WATCH, EXISTS, ZSCORE and MULTI/PSETEX/EXEC: three round trips, with an
in-progress key that lives `job_timeout + 10 s`. `PowerworkerWorker.start_jobs` claims with one Lua call that
checks the same conditions atomically and sets the in-progress key to the job's lease (at most 30 s, renewed
while the job runs by `resilience.lease`), so a crashed worker's jobs are picked up again within the lease.

arq's command line has no option to choose the worker class, so when `arq powerworker.WorkerSettings` loads
the settings, `install()` makes arq's `create_worker` build this class. Nothing else of arq changes.
"""

from __future__ import annotations

import inspect
from typing import Any

import arq.worker
import structlog
from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix
from arq.utils import timestamp_ms

from powerworker.clock import system_clock
from powerworker.tracking import (
    DISABLE_S,
    EXECUTIONS_KEPT,
    EXECUTIONS_TTL_S,
    RECENT_WINDOW_S,
    RUNNING_TTL_S,
    SLOW_AT_TOTAL,
    TOTAL_WINDOW_S,
    TRIP_AT_RECENT,
    Start,
    StartVerdict,
)

__all__ = ["CLAIMS", "PowerworkerWorker", "install"]

log = structlog.get_logger("powerworker.job")

#: Key of arq's ctx where the worker leaves the runaway verdict of each job it claimed, for the base layer.
CLAIMS = "_powerworker_claims"

# KEYS: in-progress, lane, payload, running hash, try counter.
# ARGV: job id, now (ms, the queue's clock), lease (ms), now (s, the tracking clock).
# Returns false (not claimed), or {score, start, recent, total, retry_in_s, reason, name}. start is -1 when the
# payload carries no job key (the base layer then checks the runaway detector itself), else a tracking.Start.
# The job-key keys are derived inside the script (job_executions:<jk>, job_disabled:<jk>): fine on a single
# Redis, which is all arq supports.
_CLAIM = f"""
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
local raw = redis.call('GET', KEYS[3])
local ok, job = false, nil
if raw then ok, job = pcall(cjson.decode, raw) end
if not (ok and type(job) == 'table' and type(job['jk']) == 'string') then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
  return {{score, -1, 0, 0, 0, '', ''}}
end
local jk, name = job['jk'], tostring(job['f'])
local dkey = 'job_disabled:' .. jk
local disabled = redis.call('GET', dkey)
if disabled and disabled ~= '' then
  local ttl = redis.call('TTL', dkey)
  if ttl < 1 then ttl = 1 end
  redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + ttl * 1000, ARGV[1])
  return {{score, 1, 0, 0, ttl, disabled, name}}
end
local ekey = 'job_executions:' .. jk
local now = tonumber(ARGV[4])
local recent, total = 0, 0
for _, value in ipairs(redis.call('LRANGE', ekey, 0, -1)) do
  local ts = tonumber(value)
  if ts then
    if now - ts <= {RECENT_WINDOW_S} then recent = recent + 1 end
    if now - ts <= {TOTAL_WINDOW_S} then total = total + 1 end
  end
end
if recent >= {TRIP_AT_RECENT} then
  redis.call('SET', dkey, 'runaway_loop_detected', 'EX', {DISABLE_S})
  redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + {DISABLE_S * 1000}, ARGV[1])
  return {{score, 2, recent, total, {DISABLE_S}, 'runaway_loop_detected', name}}
end
redis.call('LPUSH', ekey, ARGV[4])
redis.call('LTRIM', ekey, 0, {EXECUTIONS_KEPT - 1})
redis.call('EXPIRE', ekey, {EXECUTIONS_TTL_S})
local queue = job['q']
if type(queue) ~= 'string' then queue = 'default' end
local try = tonumber(redis.call('GET', KEYS[5]) or '0') + 1
redis.call('HSET', KEYS[4], ARGV[1], cjson.encode({{name = name, queue = queue, try = try,
  started_at = now, job_key = jk}}))
redis.call('EXPIRE', KEYS[4], {RUNNING_TTL_S})
redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
local start = 0
if total >= {SLOW_AT_TOTAL} then start = 3 end
return {{score, start, recent, total, 0, '', name}}
"""


class PowerworkerWorker(arq.worker.Worker):
    """arq's Worker with a single-call job claim.

    Args:
        lease_s: how long a claimed job's in-progress key lives before it is renewed (or expires with a
            dead worker); all other arguments are arq's.
    """

    def __init__(self, *args: Any, lease_s: float = 30.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease_ms = int(lease_s * 1000)
        self._claim: Any = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """For each job id: claim it (not running elsewhere, due, in the queue) and start it in a task.

        The claim also runs the runaway-loop check when the payload carries its job key: a disabled or
        tripping job is deferred without starting (and without using a try), and the verdict for a started job
        is handed to the base layer in `ctx[CLAIMS]`, sparing it a call.
        """
        if self._claim is None:
            self._claim = self.pool.register_script(_CLAIM)
        runtime = self.ctx.get("runtime")
        clock = runtime.clock if runtime is not None else system_clock
        running_key = runtime.tracker.running_key if runtime is not None else "powerworker:running:unknown"
        claims: dict[str, StartVerdict] = self.ctx.setdefault(CLAIMS, {})
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            claimed = await self._claim(
                keys=[
                    in_progress_key_prefix + job_id,
                    self.queue_name,
                    job_key_prefix + job_id,
                    running_key,
                    retry_key_prefix + job_id,
                ],
                args=[job_id, timestamp_ms(), self.lease_ms, repr(clock.time())],
            )
            if claimed is not None:
                score, start, recent, total, retry_in_s, reason, name = claimed
                if start in (Start.DISABLED, Start.TRIPPED):
                    _log_deferred(
                        job_id, _text(name), Start(start), int(recent), int(retry_in_s), _text(reason)
                    )
                    claimed = None
                elif start >= 0:
                    claims[job_id] = StartVerdict(Start(start), int(recent), int(total))
            if claimed is None:  # running elsewhere, finished, deferred again, or deferred by the check
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _log_deferred(job_id: str, name: str, start: Start, recent: int, retry_in_s: int, reason: str) -> None:
    if start is Start.TRIPPED:
        log.error(
            "job.runaway_loop_detected",
            job_id=job_id,
            job=name,
            starts_in_60s=recent,
            disabled_for_s=retry_in_s,
        )
    else:
        log.warning("job.disabled", job_id=job_id, job=name, reason=reason, retry_in_s=retry_in_s)


# arq's `create_worker` keeps only the settings that name a parameter of the worker class's signature.
_ARQ_SIGNATURE = inspect.signature(arq.worker.Worker)
PowerworkerWorker.__signature__ = _ARQ_SIGNATURE.replace(  # type: ignore[attr-defined]
    parameters=[
        *_ARQ_SIGNATURE.parameters.values(),
        inspect.Parameter("lease_s", inspect.Parameter.KEYWORD_ONLY, default=30.0),
    ]
)


def install() -> None:
    """Make arq's `create_worker` (used by the `arq` command) build `PowerworkerWorker`."""
    arq.worker.Worker = PowerworkerWorker  # type: ignore[misc]
