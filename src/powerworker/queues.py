"""Logical queues, their weights, lanes, and the priority score a job is enqueued with.

Every job keeps the original's logical queue (`email`, `ai_agents`, ...). arq polls one Redis sorted set per
worker, ordered by score, so priority is expressed in the score:

    score_ms = enqueue_ms - (weight - 1) * priority_step_ms          (a job due now)
    score_ms = due_ms                                                  (a deferred job or a retry)

A weight-3 job therefore starts ahead of weight-1 jobs enqueued up to 2 x priority_step_s (60 s by default)
before it, and a weight-1 job that has waited longer than that is ahead of any newly enqueued job: the offset
is bounded, so waiting ages every job into first place and no stream of high-weight jobs starves the rest.
A deferred job is scored at its due time, never earlier: deferral is exact, and once due it ranks as a job
that has been waiting since then.

Lanes dedicate workers: `QUEUE_LANES="email=mail"` routes the `email` queue to the lane `mail` (sorted set
`arq:queue:mail`), served by workers started with `WORKER_LANE=mail`. Unlisted queues use the `default` lane
(`arq:queue`), so by default one worker serves every queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from powerworker.keys import lane_key

__all__ = ["QUEUE_WEIGHTS", "QueueRouter", "weight_of"]

#: The original's 34 queues and their Sidekiq weights (original worker §8), plus the four it never consumed.
QUEUE_WEIGHTS: Mapping[str, int] = {
    **dict.fromkeys(
        [
            "critical",
            "high",
            "workflow_high_priority",
            "subscription_lifecycle",
            "ai_cancellations",
            "devops_high",
        ],
        3,
    ),
    **dict.fromkeys(
        [
            "ai_workflows",
            "ai_agents",
            "ai_conversations",
            "ai_execution",
            "ai_orchestration",
            "ai_workflow_health",
            "ai_workflow_schedules",
            "ai_workflow_nodes",
            "ai_testing",
            "devops_default",
            "devops_webhooks",
            "file_processing",
            "services",
            "billing",
            "billing_scheduler",
            "compliance",
            "email",
            "reports",
            "integrations",
            "mcp",
            "trading",
            "trading_learning",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "notifications",
            "analytics",
            "schedules",
            "webhooks",
            "maintenance",
            "default",
            "ai_maintenance",
            "marketing",
            "marketing_email",
            "marketing_social",
        ],
        1,
    ),
}


def weight_of(queue: str) -> int:
    """A queue's weight (1 to 3); queues the original did not list weigh 1."""
    return QUEUE_WEIGHTS.get(queue, 1)


@dataclass(frozen=True)
class QueueRouter:
    """Turns a logical queue into the lane key and score a job is enqueued with."""

    priority_step_ms: int = 30_000
    lanes: Mapping[str, str] = field(default_factory=dict)

    def lane_key(self, queue: str) -> str:
        """The sorted set the queue's jobs go to."""
        return lane_key(self.lanes.get(queue, "default"))

    def score(self, queue: str, now_ms: int, due_ms: int | None = None) -> int:
        """The score of a job enqueued at `now_ms`: boosted by weight if due now, its due time if deferred."""
        if due_ms is not None and due_ms > now_ms:
            return due_ms
        return now_ms - (weight_of(queue) - 1) * self.priority_step_ms
