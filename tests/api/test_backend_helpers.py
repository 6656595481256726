"""Every named helper of BackendApiClient sends the original's verb, path and data."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from powerworker.api import ApiClients, BackendApiClient
from powerworker.errors import ApiError
from powerworker.testing.fake_backend import FakeBackend, Reply

NOW = "2023-11-14T22:13:20+00:00"  # the FakeClock's start, as the helpers stamp it

Call = Callable[[BackendApiClient], Awaitable[Any]]
CASES: list[tuple[str, Call, str, str, dict[str, Any], Any]] = [
    ("get_account", lambda c: c.get_account("a1"), "GET", "/api/v1/accounts/a1", {}, None),
    (
        "get_analytics",
        lambda c: c.get_analytics("revenue", {"period": "month"}),
        "GET",
        "/api/v1/analytics/revenue",
        {"period": "month"},
        None,
    ),
    (
        "create_report",
        lambda c: c.create_report({"type": "sales"}),
        "POST",
        "/api/v1/reports",
        {},
        {"type": "sales"},
    ),
    (
        "get_scheduled_reports",
        lambda c: c.get_scheduled_reports({"due": True}),
        "GET",
        "/api/v1/reports/scheduled",
        {"due": "true"},
        None,
    ),
    (
        "update_scheduled_report",
        lambda c: c.update_scheduled_report(7, {"next_run_at": "x"}),
        "PUT",
        "/api/v1/reports/scheduled/7",
        {},
        {"next_run_at": "x"},
    ),
    (
        "get_report_request",
        lambda c: c.get_report_request("r1"),
        "GET",
        "/api/v1/reports/requests/r1",
        {},
        None,
    ),
    (
        "update_report_request_status",
        lambda c: c.update_report_request_status("r1", "processing"),
        "PATCH",
        "/api/v1/reports/requests/r1",
        {},
        {"status": "processing"},
    ),
    (
        "complete_report_request",
        lambda c: c.complete_report_request("r1", file_path="/f.pdf", file_size=10, file_url="http://f"),
        "PATCH",
        "/api/v1/reports/requests/r1",
        {},
        {
            "status": "completed",
            "file_path": "/f.pdf",
            "file_size": 10,
            "file_url": "http://f",
            "completed_at": NOW,
        },
    ),
    (
        "fail_report_request",
        lambda c: c.fail_report_request("r1", "boom"),
        "PATCH",
        "/api/v1/reports/requests/r1",
        {},
        {"status": "failed", "error_message": "boom", "completed_at": NOW},
    ),
    (
        "get_report_data",
        lambda c: c.get_report_data("sales", "a1", {"from": "2026-01-01"}),
        "GET",
        "/api/v1/analytics/export",
        {"report_type": "sales", "parameters": {"from": "2026-01-01"}, "account_id": "a1"},
        None,
    ),
    ("verify_service_token", lambda c: c.verify_service_token(), "POST", "/api/v1/service/verify", {}, None),
    (
        "authenticate_user",
        lambda c: c.authenticate_user("a@b.c", "pw"),
        "POST",
        "/api/v1/worker_auth/authenticate_user",
        {},
        {"email": "a@b.c", "password": "pw"},
    ),
    (
        "verify_platform_token",
        lambda c: c.verify_platform_token("tok"),
        "POST",
        "/api/v1/worker_auth/verify_platform_token",
        {},
        {"token": "tok"},
    ),
    (
        "verify_session",
        lambda c: c.verify_session("s1"),
        "POST",
        "/api/v1/worker_auth/verify_session",
        {},
        {"session_token": "s1"},
    ),
    ("health_check", lambda c: c.health_check(), "GET", "/api/v1/health", {}, None),
    (
        "get_subscription_data",
        lambda c: c.get_subscription_data(account_id="a1", status="active"),
        "GET",
        "/api/v1/subscriptions",
        {"account_id": "a1", "status": "active"},
        None,
    ),
    (
        "update_subscription_status",
        lambda c: c.update_subscription_status("s1", "canceled", {"why": "x"}),
        "PATCH",
        "/api/v1/subscriptions/s1",
        {},
        {"status": "canceled", "metadata": {"why": "x"}},
    ),
    (
        "get_invoice_data",
        lambda c: c.get_invoice_data(account_id="a1", status="open", page=2),
        "GET",
        "/api/v1/invoices",
        {"account_id": "a1", "status": "open", "page": "2"},
        None,
    ),
    (
        "create_invoice",
        lambda c: c.create_invoice("s1", [{"amount": 5}]),
        "POST",
        "/api/v1/invoices",
        {},
        {"subscription_id": "s1", "line_items": [{"amount": 5}]},
    ),
    (
        "generate_pdf_report",
        lambda c: c.generate_pdf_report(
            "sales", account_id="a1", start_date="d1", end_date="d2", user_id="u1"
        ),
        "POST",
        "/api/v1/reports/generate",
        {},
        {
            "reports": [{"type": "sales", "format": "pdf"}],
            "account_id": "a1",
            "start_date": "d1",
            "end_date": "d2",
            "user_id": "u1",
        },
    ),
    (
        "update_webhook_event",
        lambda c: c.update_webhook_event("e1", "failed", "bad sig"),
        "PATCH",
        "/api/v1/webhooks/events/e1",
        {},
        {"status": "failed", "error_message": "bad sig"},
    ),
    (
        "get_file_processing_job",
        lambda c: c.get_file_processing_job("j1"),
        "GET",
        "/api/v1/worker/processing_jobs/j1",
        {},
        None,
    ),
    (
        "update_file_processing_job",
        lambda c: c.update_file_processing_job("j1", {"progress": 50}),
        "PATCH",
        "/api/v1/worker/processing_jobs/j1",
        {},
        {"progress": 50},
    ),
    (
        "complete_file_processing_job",
        lambda c: c.complete_file_processing_job("j1", {"pages": 3}),
        "PATCH",
        "/api/v1/worker/processing_jobs/j1",
        {},
        {"status": "completed", "result_data": {"pages": 3}, "completed_at": NOW},
    ),
    (
        "fail_file_processing_job",
        lambda c: c.fail_file_processing_job("j1", "corrupt", {"stage": "scan"}),
        "PATCH",
        "/api/v1/worker/processing_jobs/j1",
        {},
        {
            "status": "failed",
            "error_details": {"error_message": "corrupt", "stage": "scan"},
            "completed_at": NOW,
        },
    ),
    ("get_file_object", lambda c: c.get_file_object("f1"), "GET", "/api/v1/worker/files/f1", {}, None),
    (
        "update_file_object",
        lambda c: c.update_file_object("f1", {"scanned": True}),
        "PATCH",
        "/api/v1/worker/files/f1",
        {},
        {"scanned": True},
    ),
    (
        "upload_processed_file",
        lambda c: c.upload_processed_file("f1", b"\x00data", {"kind": "thumb"}),
        "POST",
        "/api/v1/worker/files/f1/processed",
        {},
        {"file_content": base64.b64encode(b"\x00data").decode(), "metadata": {"kind": "thumb"}},
    ),
    (
        "quarantine_file",
        lambda c: c.quarantine_file("f1", {"reason": "virus"}),
        "POST",
        "/api/v1/worker/files/f1/quarantine",
        {},
        {"reason": "virus"},
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "json"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
async def test_helper_sends_the_original_request(
    clients: ApiClients,
    backend: FakeBackend,
    call: Call,
    method: str,
    path: str,
    query: dict[str, Any],
    json: Any,
) -> None:
    """The helper sends exactly this verb, path, query and JSON body."""
    with contextlib.suppress(
        ApiError
    ):  # worker_auth answers 401 for unknown users; the request is what counts
        await call(clients.backend)
    request = backend.requests[-1]
    assert (request.method, request.path, request.query, request.json) == (method, path, query, json)


async def test_ids_are_escaped_in_paths(clients: ApiClients, backend: FakeBackend) -> None:
    """An id with a slash or space stays one path segment."""
    await clients.backend.get_account("a/b c")
    assert backend.requests[-1].path == "/api/v1/accounts/a/b c" or backend.requests[-1].path.endswith(
        "a%2Fb c"
    )


async def test_account_subscription_is_read_from_the_envelope(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """`get_account_subscription` returns `data.subscription` (the original read a key that was never there)."""
    backend.route("GET", "/api/v1/accounts/a1", data={"id": "a1", "subscription": {"plan": "pro"}})
    assert await clients.backend.get_account_subscription("a1") == {"plan": "pro"}


async def test_download_returns_raw_bytes(clients: ApiClients, backend: FakeBackend) -> None:
    """`download_file_content` returns the body as bytes, whatever its content type."""
    backend.route("GET", "/api/v1/worker/files/f1/download", handler=lambda r: Reply(raw=b"\x89PNG..."))
    assert await clients.backend.download_file_content("f1") == b"\x89PNG..."


async def test_post_with_circuit_breaker_uses_the_named_breaker(
    clients: ApiClients, backend: FakeBackend
) -> None:
    """A long call goes through `mission_execution`, whose failures leave `backend_api` untouched."""
    mission = clients.breakers.get("mission_execution")
    backend.fail(status=503, times=1)
    with pytest.raises(ApiError, match="Backend server error"):
        await clients.backend.post_with_circuit_breaker(
            "/api/v1/ai/missions/m1/process", {"a": 1}, breaker=mission
        )
    assert (mission.failures, clients.backend.breaker.failures) == (1, 0)
    assert mission.config.call_timeout_s == 600
