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
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms

__all__ = ["PowerworkerWorker", "install"]

# KEYS: in-progress key, lane.  ARGV: job id, now (ms), lease (ms).  Returns the job's score, or nil.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then return false end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[3])
return score
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
        """For each job id: claim it (not running elsewhere, due, in the queue) and start it in a task."""
        if self._claim is None:
            self._claim = self.pool.register_script(_CLAIM)
        for job_id_b in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            job_id = job_id_b.decode()
            score = await self._claim(
                keys=[in_progress_key_prefix + job_id, self.queue_name],
                args=[job_id, timestamp_ms(), self.lease_ms],
            )
            if score is None:  # running elsewhere, finished, or deferred again meanwhile
                self.job_counter -= 1
                self.sem.release()
                continue
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task


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
