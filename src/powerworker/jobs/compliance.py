"""GDPR jobs: account terminations after their grace period, and data-retention enforcement.

Both are implemented as the original intended: replies are read through string keys (the original's
`response[:success]` was always nil, so both phases of AccountTerminationJob returned right after their GETs).

Routes. AccountTerminationJob keeps the documented paths; the server lacks PATCH /internal/users/:id,
PATCH /internal/accounts/:id and the subscription anonymisation, and no other route does their work, so until it
has them each termination fails at its first missing route and is recorded with an `error` event in its log (the
documented per-termination handling). DataRetentionEnforcementJob keeps the documented `/internal/retention/*`
and policy PATCH paths (none exist; each policy then lands in `errors`), but writes its closing audit entry to
POST /api/v1/audit_logs, the route the inventory names for the missing POST /api/v1/internal/audit_logs.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from typing import Any

from powerworker.context import JobContext
from powerworker.errors import ApiError
from powerworker.jobs.base import job
from powerworker.jobs.support import as_list, as_map, dig, epoch_of, iso, now_iso, unwrap

__all__ = ["account_termination", "data_retention_enforcement"]

INTERNAL = "/api/v1/internal"
TERMINATIONS = f"{INTERNAL}/account_terminations"
NOTIFICATIONS = f"{INTERNAL}/notifications/send"

#: Per user, in order: (verb, path under /users/:id, body, termination-log event or None).
USER_STEPS: tuple[tuple[str, str, dict[str, Any] | None, str | None], ...] = (
    ("DELETE", "consents", None, "deleted_consents"),
    ("DELETE", "terms_acceptances", None, "deleted_terms_acceptances"),
    ("PATCH", "anonymize_audit_logs", {}, "anonymized_audit_logs"),
    ("DELETE", "password_histories", None, None),
    ("DELETE", "roles", None, None),
)
#: Per account, in order: (verb, path under /accounts/:id, termination-log event).
ACCOUNT_STEPS: tuple[tuple[str, str, str], ...] = (
    ("DELETE", "files", "deleted_files"),
    ("DELETE", "api_keys", "deleted_api_keys"),
    ("DELETE", "webhooks", "deleted_webhooks"),
    ("DELETE", "data_export_requests", "deleted_export_requests"),
    ("DELETE", "data_deletion_requests", "deleted_deletion_requests"),
    ("PATCH", "subscription/anonymize", "anonymized_subscription"),
)
#: Days before the end of the grace period on which the owner is reminded, and the reminder's name.
REMINDERS = {7: "7_days", 3: "3_days", 1: "1_day"}


def _anonymous_user() -> dict[str, Any]:
    return {
        "email": f"terminated_{secrets.token_hex(8)}@terminated.powernode.local",
        "name": "Terminated User",
        "password_digest": None,
        "status": "terminated",
        "two_factor_secret": None,
        "backup_codes": None,
        "last_login_ip": None,
        "preferences": {},
        "notification_preferences": {},
    }


@job("Compliance::AccountTerminationJob", queue="compliance", retries=3)
async def account_termination(ctx: JobContext, _unused: Any = None) -> dict[str, Any]:
    """Terminate accounts whose grace period ended, then remind owners 7, 3 and 1 days before the end."""
    results: dict[str, Any] = {"processed": 0, "reminders_sent": 0, "errors": []}
    due = as_list(
        unwrap(await ctx.api.get(TERMINATIONS, {"status": "grace_period", "grace_period_expired": True}))
    )
    for termination in map(as_map, due):
        try:
            await _terminate(ctx, termination)
        except ApiError as error:
            ctx.log.error("termination.failed", termination_id=termination.get("id"), error=error.message)
            results["errors"].append({"termination_id": termination.get("id"), "error": error.message})
        else:
            results["processed"] += 1
    pending = as_list(unwrap(await ctx.api.get(TERMINATIONS, {"status": "grace_period"})))
    for termination in map(as_map, pending):
        results["reminders_sent"] += await _remind(ctx, termination)
    ctx.log.info(
        "termination.completed",
        processed=results["processed"],
        reminders_sent=results["reminders_sent"],
        errors=len(results["errors"]),
    )
    await ctx.track_cleanup_metrics({"terminated_accounts": results["processed"]})
    return results


async def _terminate(ctx: JobContext, termination: Mapping[str, Any]) -> None:
    """Anonymise one account and its users; on failure, record the error in the termination's log and raise."""
    termination_id, account_id = termination.get("id"), termination.get("account_id")
    path = f"{TERMINATIONS}/{termination_id}"
    await ctx.api.patch(path, {"status": "processing", "processing_started_at": now_iso(ctx)})
    log: list[dict[str, Any]] = []
    try:
        users = as_list(unwrap(await ctx.api.get(f"{INTERNAL}/accounts/{account_id}/users")))
        for user_id in (as_map(user).get("id") for user in users):
            for method, step, body, event in USER_STEPS:
                await ctx.api.request(method, f"{INTERNAL}/users/{user_id}/{step}", body)
                if event:
                    log.append({"event": event, "user_id": user_id, "at": now_iso(ctx)})
            await ctx.api.patch(f"{INTERNAL}/users/{user_id}", _anonymous_user())
            log.append({"event": "anonymized_user", "user_id": user_id, "at": now_iso(ctx)})
        for method, step, event in ACCOUNT_STEPS:
            reply = unwrap(await ctx.api.request(method, f"{INTERNAL}/accounts/{account_id}/{step}", {}))
            entry: dict[str, Any] = {"event": event, "at": now_iso(ctx)}
            if step == "files":
                entry["count"] = dig(reply, "count") or 0
            log.append(entry)
        completed_at = now_iso(ctx)
        await ctx.api.patch(
            path, {"status": "completed", "completed_at": completed_at, "termination_log": log}
        )
        await ctx.api.patch(
            f"{INTERNAL}/accounts/{account_id}", {"status": "terminated", "terminated_at": completed_at}
        )
    except ApiError as error:
        failure = {"event": "error", "error": error.message, "at": now_iso(ctx)}
        try:
            await ctx.api.patch(path, {"termination_log": [*log, failure]})
        except ApiError as also:
            ctx.log.warning("termination.log_failed", termination_id=termination_id, error=also.message)
        raise
    ctx.log.info("termination.account_terminated", termination_id=termination_id, account_id=account_id)
    try:
        await ctx.api.post(
            NOTIFICATIONS,
            {
                "type": "account_termination_complete",
                "email": termination.get("owner_email"),
                "data": {"termination_id": termination_id, "completed_at": completed_at},
            },
        )
    except ApiError as error:
        ctx.log.warning("termination.notification_failed", termination_id=termination_id, error=error.message)


async def _remind(ctx: JobContext, termination: Mapping[str, Any]) -> int:
    """Send the 7/3/1-day reminder due for one termination, once; 1 if one was sent."""
    ends = epoch_of(termination.get("grace_period_ends_at"))
    if ends is None:
        ctx.log.warning("termination.bad_grace_period", termination_id=termination.get("id"))
        return 0
    days_remaining = math.ceil((ends - ctx.clock.time()) / 86_400)
    reminder = REMINDERS.get(days_remaining)
    log = as_list(termination.get("termination_log"))
    event = f"reminder_{reminder}_sent"
    if reminder is None or any(as_map(entry).get("event") == event for entry in log):
        return 0
    try:
        await ctx.api.post(
            NOTIFICATIONS,
            {
                "account_id": termination.get("account_id"),
                "type": "account_termination_reminder",
                "data": {
                    "termination_id": termination.get("id"),
                    "reminder_type": reminder,
                    "days_remaining": days_remaining,
                    "grace_period_ends_at": termination.get("grace_period_ends_at"),
                },
            },
        )
        await ctx.api.patch(
            f"{TERMINATIONS}/{termination.get('id')}",
            {"termination_log": [*log, {"event": event, "at": now_iso(ctx)}]},
        )
    except ApiError as error:
        ctx.log.warning(
            "termination.reminder_failed", termination_id=termination.get("id"), error=error.message
        )
        return 0
    return 1


# -- data retention ---------------------------------------------------------------------------------------------
RETENTION = f"{INTERNAL}/retention"
#: data_type -> action -> (verb, path under /internal/retention); "*" is any other action.
RETENTION_ROUTES: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "audit_logs": {
        "archive": ("POST", "audit_logs/archive"),
        "delete": ("POST", "audit_logs/archive"),
        "anonymize": ("PATCH", "audit_logs/anonymize"),
    },
    "user_activity": {"anonymize": ("PATCH", "activity/anonymize"), "*": ("DELETE", "activity")},
    "session_logs": {"*": ("DELETE", "sessions")},
    "email_logs": {"*": ("DELETE", "email_logs")},
    "webhook_logs": {"*": ("DELETE", "webhook_logs")},
    "api_request_logs": {"*": ("DELETE", "api_logs")},
    "analytics_data": {"anonymize": ("PATCH", "analytics/anonymize"), "*": ("DELETE", "analytics")},
    "file_uploads": {"*": ("DELETE", "files")},
}


@job("Compliance::DataRetentionEnforcementJob", queue="compliance", retries=None)
async def data_retention_enforcement(ctx: JobContext, _unused: Any = None) -> dict[str, Any]:
    """Apply every active retention policy, then write one audit entry with the results."""
    results: dict[str, Any] = {"policies_processed": 0, "records_processed": 0, "errors": []}
    policies = as_list(unwrap(await ctx.api.get(f"{INTERNAL}/data_retention_policies", {"active": True})))
    for policy in map(as_map, policies):
        try:
            count = await _enforce(ctx, policy)
        except (ApiError, ValueError) as error:
            ctx.log.error("retention.policy_failed", policy_id=policy.get("id"), error=str(error))
            results["errors"].append({"policy_id": policy.get("id"), "error": str(error)})
            continue
        results["policies_processed"] += 1
        results["records_processed"] += count
    await ctx.api.post(
        "/api/v1/audit_logs",
        {
            "action": "compliance_check",
            "resource_type": "DataRetentionPolicy",
            "resource_id": "enforcement_job",
            "source": "worker",
            "metadata": results,
        },
    )
    ctx.log.info(
        "retention.completed",
        policies_processed=results["policies_processed"],
        records_processed=results["records_processed"],
        errors=len(results["errors"]),
    )
    await ctx.track_cleanup_metrics({"retention_records": results["records_processed"]})
    return results


async def _enforce(ctx: JobContext, policy: Mapping[str, Any]) -> int:
    """Apply one policy; the number of records it touched."""
    data_type, action = policy.get("data_type"), policy.get("action")
    routes = RETENTION_ROUTES.get(str(data_type), {})
    route = routes.get(str(action)) or routes.get("*")
    if route is None:
        raise ValueError(f"No retention rule for data type {data_type!r} with action {action!r}")
    method, path = route
    cutoff = iso(ctx.clock.time() - float(policy.get("retention_days") or 0) * 86_400)
    reply = unwrap(
        await ctx.api.request(
            method, f"{RETENTION}/{path}", {"cutoff_date": cutoff, "account_id": policy.get("account_id")}
        )
    )
    count = int(dig(reply, "count") or 0)
    await ctx.api.patch(
        f"{INTERNAL}/data_retention_policies/{policy.get('id')}",
        {
            "last_enforced_at": now_iso(ctx),
            "records_processed_count": int(policy.get("records_processed_count") or 0) + count,
        },
    )
    return count
