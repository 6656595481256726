"""Plausible dashboard data for the browser test and the screenshot: queued jobs, an hour of throughput, dead
jobs, a live worker with running jobs, published breakers, a runaway-disabled key and a metric."""

from __future__ import annotations

import json
import math

from redis.asyncio import Redis

from powerworker import keys
from powerworker.dead import DeadEntry, DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.resilience.breaker import breaker_state_key

TRACEBACK = """Traceback (most recent call last):
  File "/app/src/powerworker/execution.py", line 88, in _run
    result = await spec.fn(ctx, *args, **kwargs)
  File "/app/src/powerworker/jobs/notifications.py", line 41, in email_delivery
    await ctx.api.post(f"/api/v1/emails/{email_id}/deliver")
powerworker.errors.ApiError: Service unavailable (503)
"""


async def seed_queue(enqueuer: Enqueuer) -> None:
    """Ready and deferred jobs across several logical queues."""
    for i in range(12):
        await enqueuer.enqueue(
            "Notifications::EmailDeliveryJob", [f"email-{i:04d}"], queue="email", check_name=False
        )
    for i in range(5):
        await enqueuer.enqueue(
            "AiAgentExecutionJob", [f"run-{i}"], {"agent_id": "a-7"}, queue="ai_agents", check_name=False
        )
    for i in range(3):
        await enqueuer.enqueue(
            "AiAgentExecutionJob", [f"later-{i}"], queue="ai_agents", defer_s=600 + i * 60, check_name=False
        )
    for i in range(7):
        await enqueuer.enqueue(
            "Webhooks::ProcessWebhookJob", [f"evt_{i}"], queue="webhooks", check_name=False
        )
    for i in range(4):
        await enqueuer.enqueue(
            "Reports::ScheduledReportJob",
            [f"report-{i}"],
            queue="reports",
            defer_s=3600 * (i + 1),
            check_name=False,
        )
    await enqueuer.enqueue("Billing::PaymentRetryJob", ["inv_1029"], queue="critical", check_name=False)


async def seed_throughput(redis: Redis, now: float, minutes: int = 60) -> None:
    """An hour of per-minute counters shaped like a working day, with a burst of failures."""
    async with redis.pipeline(transaction=False) as pipe:
        for back in range(minutes):
            start = now - back * 60
            processed = int(45 + 30 * math.sin(back / 7) + 12 * math.cos(back / 3))
            failed = 9 if 18 <= back <= 21 else (1 if back % 11 == 0 else 0)
            pipe.hset(keys.stats_minute(start), mapping={"processed": processed, "failed": failed})
            pipe.expire(keys.stats_minute(start), 7200)
        pipe.hset(
            keys.STATS_JOBS,
            mapping={
                "Notifications::EmailDeliveryJob|processed": 1840,
                "Notifications::EmailDeliveryJob|failed": 12,
                "AiAgentExecutionJob|processed": 310,
                "AiAgentExecutionJob|failed": 4,
            },
        )
        await pipe.execute()


async def seed_dead(dead: DeadSet, now: float) -> list[str]:
    """Three dead jobs; returns their ids, newest first."""
    entries = [
        DeadEntry(
            "dead-email-0042",
            "Notifications::EmailDeliveryJob",
            ["email-0042"],
            {},
            "email",
            "ApiError",
            "Service unavailable (503)",
            TRACEBACK,
            4,
            now - 3600,
            now - 3900,
        ),
        DeadEntry(
            "dead-webhook-0007",
            "Webhooks::ProcessWebhookJob",
            ["evt_7"],
            {"source": "stripe"},
            "webhooks",
            "InvalidArguments",
            "field 'payload' is required",
            "",
            1,
            now - 1800,
            now - 1800,
        ),
    ]
    for entry in entries:
        await dead.add(entry)
    return [entry.job_id for entry in reversed(entries)]


async def seed_activity(redis: Redis, now: float) -> None:
    """A live worker running two jobs, its breakers (one open), a disabled key and a metric."""
    instance = "worker-7f3a"
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zadd(keys.WORKERS, {instance: now - 4})
        pipe.hset(
            keys.worker_info(instance),
            mapping={
                "host": "jobs-1",
                "pid": 4242,
                "lane": "default",
                "concurrency": 25,
                "started_at": now - 3 * 86_400 - 5 * 3600,
                "beat_at": now - 4,
                "running": 2,
                "worker_id": "9b1f0c1e",
            },
        )
        for job_id, name, queue, started in (
            ("run-ai-1", "AiAgentExecutionJob", "ai_agents", now - 42),
            ("run-mail-9", "Notifications::EmailDeliveryJob", "email", now - 3),
        ):
            pipe.hset(
                keys.running(instance),
                job_id,
                json.dumps({"name": name, "queue": queue, "try": 1, "started_at": started}),
            )
        snapshots = {
            "backend_api": ("closed", 0, None),
            "web_auth": ("closed", 0, None),
            "ai_provider:openai": ("open", 5, "2026-03-15T10:02:00+00:00"),
        }
        for name, (state, failures, opened) in snapshots.items():
            pipe.hset(
                breaker_state_key("9b1f0c1e"),
                name,
                json.dumps(
                    {
                        "name": name,
                        "state": state,
                        "failures": failures,
                        "fail_max": 5,
                        "reset_timeout_s": 120,
                        "opened_at": opened,
                        "reopen_at": None,
                        "updated_at": "2026-03-15T10:02:00+00:00",
                    }
                ),
            )
        pipe.set(keys.job_disabled("AiRalphLoopRunAllJob:4f53cda18c2baa0c"), "runaway_loop_detected", ex=240)
        for i in range(5):
            pipe.lpush(
                keys.job_metrics("ai.tokens_used"),
                json.dumps(
                    {
                        "type": "counter",
                        "name": "ai.tokens_used",
                        "value": 1200 + i * 90,
                        "tags": {"provider": "openai"},
                        "job_class": "AiAgentExecutionJob",
                        "timestamp": now - i * 60,
                    }
                ),
            )
        await pipe.execute()
