"""`/metrics` in the Prometheus text format (0.0.4): queue depths, dead-set size, per-job totals, breakers.

Readable with the dashboard session, or without one with `Authorization: Bearer <WEB_METRICS_TOKEN>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiohttp import web

from powerworker.web import activity_data, queue_data
from powerworker.web.auth import METRICS, requires
from powerworker.web.state import DEPS

__all__ = ["exposition", "metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BREAKER_STATES = ("closed", "open", "half_open")

Sample = tuple[Mapping[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def exposition(families: Iterable[tuple[str, str, str, list[Sample]]]) -> str:
    """Metric families `(name, type, help, samples)` as Prometheus text."""
    lines = []
    for name, kind, help_text, samples in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines += [f"{name}{_labels(labels)} {value:g}" for labels, value in samples]
    return "\n".join(lines) + "\n"


@requires(METRICS)
async def metrics(request: web.Request) -> web.Response:
    """GET /metrics."""
    deps = request.app[DEPS]
    now = deps.clock.time()
    lanes = await queue_data.lanes(deps.redis, deps.config.lanes)
    depths = await queue_data.depths(deps.redis, lanes, int(now * 1000))
    totals = await activity_data.job_totals(deps.redis)
    breakers, _ = await activity_data.breakers(deps.redis)
    live = await activity_data.workers(deps.redis, now)
    lane_samples: list[Sample] = []
    for lane, (ready, scheduled) in depths.lane_totals.items():
        lane_samples += [
            ({"lane": lane, "state": "ready"}, ready),
            ({"lane": lane, "state": "scheduled"}, scheduled),
        ]
    queue_samples: list[Sample] = []
    for row in depths.queues:
        queue_samples += [
            ({"queue": row.queue, "lane": row.lane, "state": "ready"}, row.ready),
            ({"queue": row.queue, "lane": row.lane, "state": "scheduled"}, row.scheduled),
        ]
    text = exposition(
        [
            ("powerworker_lane_jobs", "gauge", "Jobs waiting in a lane (ready = due now).", lane_samples),
            (
                "powerworker_queue_jobs",
                "gauge",
                "Jobs waiting per logical queue (read from at most 10000 jobs per lane).",
                queue_samples,
            ),
            ("powerworker_dead_jobs", "gauge", "Jobs in the dead set.", [({}, await deps.dead.size())]),
            (
                "powerworker_job_processed_total",
                "counter",
                "Jobs that ended successfully, per job.",
                [({"job": name}, p) for name, (p, _) in totals.items()],
            ),
            (
                "powerworker_job_failed_total",
                "counter",
                "Job tries that failed, per job.",
                [({"job": name}, f) for name, (_, f) in totals.items()],
            ),
            (
                "powerworker_circuit_breaker_state",
                "gauge",
                "1 for the state each breaker of each worker is in.",
                [
                    ({"worker": b.worker_id, "breaker": b.name, "state": state}, float(b.state == state))
                    for b in breakers
                    for state in BREAKER_STATES
                ],
            ),
            (
                "powerworker_circuit_breaker_failures",
                "gauge",
                "Consecutive counted failures of each breaker.",
                [({"worker": b.worker_id, "breaker": b.name}, b.failures) for b in breakers],
            ),
            (
                "powerworker_workers_alive",
                "gauge",
                "Workers with a heartbeat in the last minute.",
                [({}, len(live))],
            ),
            (
                "powerworker_running_jobs",
                "gauge",
                "Jobs running now, over all workers.",
                [({}, sum(len(w.running) for w in live))],
            ),
        ]
    )
    return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})
