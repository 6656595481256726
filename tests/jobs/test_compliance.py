"""Account terminations and data-retention enforcement against the fake backend."""

from __future__ import annotations

import re
from typing import Any

from powerworker.jobs.support import iso
from powerworker.testing import FakeBackend, FakeClock, RecordedRequest
from powerworker.testing.worker import WorkerHarness
from tests.jobs.conftest import delay_s, run_job

INTERNAL = "/api/v1/internal"
TERMINATIONS = f"{INTERNAL}/account_terminations"


def serve_terminations(backend: FakeBackend, clock: FakeClock) -> None:
    """One termination past its grace period; three in it, 6.5, 6.5 (already reminded) and 4.5 days from the end."""
    now = clock.time()
    pending = [
        {
            "id": "p1",
            "account_id": "a7",
            "grace_period_ends_at": iso(now + 6.5 * 86_400),
            "termination_log": [],
        },
        {
            "id": "p2",
            "account_id": "a8",
            "grace_period_ends_at": iso(now + 6.5 * 86_400),
            "termination_log": [{"event": "reminder_7_days_sent", "at": iso(now - 3600)}],
        },
        {
            "id": "p3",
            "account_id": "a9",
            "grace_period_ends_at": iso(now + 4.5 * 86_400),
            "termination_log": [],
        },
    ]
    due = [{"id": "t1", "account_id": "a1", "owner_email": "owner@example.com"}]

    def terminations(request: RecordedRequest) -> Any:
        return due if request.query.get("grace_period_expired") == "true" else pending

    backend.route("GET", TERMINATIONS, handler=terminations)
    backend.route("GET", f"{INTERNAL}/accounts/a1/users", data=[{"id": "u1"}])
    backend.route("DELETE", f"{INTERNAL}/accounts/a1/files", data={"count": 4})


async def test_termination_anonymises_and_reminds(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """A due termination runs every user and account step in order; one reminder is due and sent once."""
    serve_terminations(backend, clock)
    _, result = await run_job(worker, "Compliance::AccountTerminationJob")
    assert result is not None and result.result == {"processed": 1, "reminders_sent": 1, "errors": []}
    calls = [(r.method, r.path.removeprefix(INTERNAL)) for r in backend.requests]
    assert calls == [
        ("GET", "/account_terminations"),
        ("PATCH", "/account_terminations/t1"),
        ("GET", "/accounts/a1/users"),
        ("DELETE", "/users/u1/consents"),
        ("DELETE", "/users/u1/terms_acceptances"),
        ("PATCH", "/users/u1/anonymize_audit_logs"),
        ("DELETE", "/users/u1/password_histories"),
        ("DELETE", "/users/u1/roles"),
        ("PATCH", "/users/u1"),
        ("DELETE", "/accounts/a1/files"),
        ("DELETE", "/accounts/a1/api_keys"),
        ("DELETE", "/accounts/a1/webhooks"),
        ("DELETE", "/accounts/a1/data_export_requests"),
        ("DELETE", "/accounts/a1/data_deletion_requests"),
        ("PATCH", "/accounts/a1/subscription/anonymize"),
        ("PATCH", "/account_terminations/t1"),
        ("PATCH", "/accounts/a1"),
        ("POST", "/notifications/send"),
        ("GET", "/account_terminations"),
        ("POST", "/notifications/send"),
        ("PATCH", "/account_terminations/p1"),
    ]
    now = iso(clock.time())
    by_call = {(r.method, r.path): r.json for r in backend.requests}
    anonymous = by_call[("PATCH", f"{INTERNAL}/users/u1")]
    assert re.fullmatch(r"terminated_[0-9a-f]{16}@terminated\.powernode\.local", anonymous.pop("email"))
    assert anonymous == {
        "name": "Terminated User",
        "password_digest": None,
        "status": "terminated",
        "two_factor_secret": None,
        "backup_codes": None,
        "last_login_ip": None,
        "preferences": {},
        "notification_preferences": {},
    }
    completed = backend.requests[15].json
    assert (completed["status"], completed["completed_at"]) == ("completed", now)
    assert [e["event"] for e in completed["termination_log"]] == [
        "deleted_consents",
        "deleted_terms_acceptances",
        "anonymized_audit_logs",
        "anonymized_user",
        "deleted_files",
        "deleted_api_keys",
        "deleted_webhooks",
        "deleted_export_requests",
        "deleted_deletion_requests",
        "anonymized_subscription",
    ]
    assert completed["termination_log"][4]["count"] == 4
    assert by_call[("PATCH", f"{INTERNAL}/accounts/a1")] == {"status": "terminated", "terminated_at": now}
    assert backend.requests[17].json == {
        "type": "account_termination_complete",
        "email": "owner@example.com",
        "data": {"termination_id": "t1", "completed_at": now},
    }
    assert backend.requests[19].json == {
        "account_id": "a7",
        "type": "account_termination_reminder",
        "data": {
            "termination_id": "p1",
            "reminder_type": "7_days",
            "days_remaining": 7,
            "grace_period_ends_at": iso(clock.time() + 6.5 * 86_400),
        },
    }
    assert backend.requests[20].json == {"termination_log": [{"event": "reminder_7_days_sent", "at": now}]}


async def test_a_failing_step_is_logged_on_the_termination(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """A missing route stops that termination: the error joins its log and the results, no notification is sent."""
    serve_terminations(backend, clock)
    backend.route("PATCH", f"{INTERNAL}/users/{{id}}", status=404, body={"status": 404, "error": "Not Found"})
    _, result = await run_job(worker, "Compliance::AccountTerminationJob")
    assert result is not None and result.success
    assert result.result["processed"] == 0
    assert result.result["errors"] == [{"termination_id": "t1", "error": "Not Found"}]
    error_patch = backend.requests_to("PATCH", f"{TERMINATIONS}/t1")[-1].json
    assert [e["event"] for e in error_patch["termination_log"]] == [
        "deleted_consents",
        "deleted_terms_acceptances",
        "anonymized_audit_logs",
        "error",
    ]
    assert backend.requests_to("PATCH", f"{INTERNAL}/accounts/a1") == []
    assert all(r.json["type"] != "account_termination_complete" for r in backend.requests_to("POST"))


async def test_termination_list_failure_propagates(worker: WorkerHarness, backend: FakeBackend) -> None:
    """The list request failing with a 503 fails the try: retried after 30 s."""
    backend.fail(503, path=TERMINATIONS)
    job_id, result = await run_job(worker, "Compliance::AccountTerminationJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30


async def test_retention_applies_each_policy_and_audits(
    worker: WorkerHarness, backend: FakeBackend, clock: FakeClock
) -> None:
    """Each policy goes to its rule's route with its cutoff; counts add up; an unknown type is an error entry."""
    backend.route(
        "GET",
        f"{INTERNAL}/data_retention_policies",
        data=[
            {"id": "p1", "data_type": "audit_logs", "action": "archive", "retention_days": 365, "account_id": "a1", "records_processed_count": 10},
            {"id": "p2", "data_type": "session_logs", "action": "delete", "retention_days": 30, "account_id": "a2"},
            {"id": "p3", "data_type": "holograms", "action": "delete", "retention_days": 1},
        ],
    )  # fmt: skip
    backend.route("POST", f"{INTERNAL}/retention/audit_logs/archive", data={"count": 5})
    backend.route("DELETE", f"{INTERNAL}/retention/sessions", data={"count": 7})
    now = clock.time()
    _, result = await run_job(worker, "Compliance::DataRetentionEnforcementJob")
    assert result is not None
    summary = result.result
    assert (summary["policies_processed"], summary["records_processed"]) == (2, 12)
    assert [e["policy_id"] for e in summary["errors"]] == ["p3"]
    [policies] = backend.requests_to("GET")
    assert policies.query == {"active": "true"}
    [archive] = backend.requests_to("POST", f"{INTERNAL}/retention/audit_logs/archive")
    assert archive.json == {"cutoff_date": iso(now - 365 * 86_400), "account_id": "a1"}
    [sessions] = backend.requests_to("DELETE", f"{INTERNAL}/retention/sessions")
    assert (sessions.query, sessions.body) == (
        {"cutoff_date": iso(now - 30 * 86_400), "account_id": "a2"},
        b"",
    )
    [policy_update] = backend.requests_to("PATCH", f"{INTERNAL}/data_retention_policies/p1")
    assert policy_update.json == {"last_enforced_at": iso(now), "records_processed_count": 15}
    [audit] = backend.requests_to("POST", "/api/v1/audit_logs")
    assert audit.json == {
        "action": "compliance_check",
        "resource_type": "DataRetentionPolicy",
        "resource_id": "enforcement_job",
        "source": "worker",
        "metadata": summary,
    }


async def test_retention_audit_failure_propagates(worker: WorkerHarness, backend: FakeBackend) -> None:
    """The closing audit entry failing with a 503 fails the try, which the queue retries after 30 s."""
    backend.route("GET", f"{INTERNAL}/data_retention_policies", data=[])
    backend.fail(503, path="/api/v1/audit_logs")
    job_id, result = await run_job(worker, "Compliance::DataRetentionEnforcementJob")
    assert result is None
    assert round(delay_s(await worker.score(job_id))) == 30
