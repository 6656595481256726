"""Every Redis key powerworker reads or writes, in one place, with who writes and who reads it.

The job-tracking keys keep the original worker's names and TTLs so that a Ruby and a Python worker can share
one Redis during a migration. The `arq:*` keys are arq's own; the `powerworker:*` keys are new.
"""

from __future__ import annotations

from arq.constants import (
    default_queue_name,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)

# -- arq's keys (written by producers and arq's worker) ---------------------------------------------------------
#: Lane sorted set: job id -> score (ms). Producers ZADD, workers poll. The default lane is arq's default queue.
DEFAULT_LANE_KEY = default_queue_name
#: Job payload (JSON). Producers write, the worker reads and deletes when the job ends.
JOB_PREFIX = job_key_prefix
#: Lease of a running job; arq sets it, powerworker shortens it and renews it while the job runs.
IN_PROGRESS_PREFIX = in_progress_key_prefix
#: Result of a finished job (JSON), kept `keep_result_s`. Written by the worker, read by `powerworker ping`.
RESULT_PREFIX = result_key_prefix
#: Try counter, INCR'd by arq when a job starts.
RETRY_PREFIX = retry_key_prefix


def lane_key(lane: str) -> str:
    """The sorted set holding a lane's jobs (`default` is arq's own `arq:queue`)."""
    return DEFAULT_LANE_KEY if lane == "default" else f"{DEFAULT_LANE_KEY}:{lane}"


# -- the original worker's keys (shared with a Ruby worker) -----------------------------------------------------
def job_executions(job_key: str) -> str:
    """List of start times (epoch floats), newest first, 21 kept, EX 360. Runaway detector reads and writes."""
    return f"job_executions:{job_key}"


def job_disabled(job_key: str) -> str:
    """Non-empty string = key disabled (`runaway_loop_detected`, EX 300). Detector writes; ops may delete."""
    return f"job_disabled:{job_key}"


def job_success(job_key: str) -> str:
    """Epoch float of the last success, EX 300. Written after each success; read by humans and the dashboard."""
    return f"job_success:{job_key}"


def job_failures(job_key: str) -> str:
    """List of the last 10 failures as JSON, EX 3600. Written after each failed try."""
    return f"job_failures:{job_key}"


def job_metrics(name: str) -> str:
    """List of the last 1,000 metric points as JSON, EX 86400. Jobs write; the dashboard reads."""
    return f"job_metrics:{name}"


def idempotency(key: str) -> str:
    """Marker that work identified by `key` is done (epoch float). Jobs write and read."""
    return f"idempotency:{key}"


# -- powerworker's own keys -------------------------------------------------------------------------------------
#: Dead set index: sorted set job id -> failed_at. The worker adds and trims; the CLI and dashboard read and act.
DEAD_INDEX = "powerworker:dead"
#: Dead set entries: hash job id -> JSON entry. Kept in step with DEAD_INDEX by one Lua script.
DEAD_ENTRIES = "powerworker:dead:entries"
#: Live worker processes: sorted set instance id -> last heartbeat (epoch s). Workers write; dashboard reads.
WORKERS = "powerworker:workers"
#: Throughput per minute: hash {processed, failed}, EX 2 h. Workers write; dashboard reads.
STATS_MINUTE_PREFIX = "powerworker:stats:minute:"
#: Totals per job: hash `<job name>|processed` / `<job name>|failed` -> count. Workers write; /metrics reads.
STATS_JOBS = "powerworker:stats:jobs"


def worker_info(instance_id: str) -> str:
    """Hash describing one worker process (host, pid, lane, concurrency, started_at), EX 60."""
    return f"powerworker:worker:{instance_id}"


def running(instance_id: str) -> str:
    """Hash job id -> JSON {name, queue, try, started_at} of jobs running in one process, EX 60."""
    return f"powerworker:running:{instance_id}"


def stats_minute(epoch_s: float) -> str:
    """The per-minute throughput hash for the minute containing `epoch_s`."""
    return f"{STATS_MINUTE_PREFIX}{int(epoch_s // 60)}"


def breakers(instance_id: str) -> str:
    """Hash breaker name -> JSON state of one worker process, EX 60. Written by `BreakerRegistry.publish`
    (every heartbeat and after each transition); read by the dashboard and /metrics."""
    return f"powerworker:breakers:{instance_id}"


# -- the dashboard's keys (written and read by the web process only) ----------------------------------------------
#: Failed sign-ins per client address, counted over the rate-limit window.
WEB_LOGIN_IP_PREFIX = "powerworker:web:login:ip:"
#: Failed sign-ins per account (SHA-256 of the e-mail), counted over the rate-limit window.
WEB_LOGIN_ACCOUNT_PREFIX = "powerworker:web:login:account:"
#: Signed-out sessions (SHA-256 of the session token), kept until the cookie could have expired.
WEB_REVOKED_PREFIX = "powerworker:web:revoked:"
