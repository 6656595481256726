"""The primary client: every read and write of jobs to the Powernode server (the original's §4.2).

Most jobs call the raw verbs (`get`, `post`, `put`, `patch`, `delete`) with a path; the named helpers below
are the original's, one typed method each. Replies are the parsed JSON (the server envelope, string keys);
`get_data`/`post_data`/... unwrap the envelope's `data` and raise `ApiError` when it says `success: false`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from powerworker.api.envelope import data_of
from powerworker.api.web_auth import WorkerAuthCalls
from powerworker.resilience.breaker import Breaker

__all__ = ["BackendApiClient", "JsonObject"]

JsonObject = dict[str, Any]
Id = str | int


def _seg(value: Id) -> str:
    """One path segment, escaped."""
    return quote(str(value), safe="")


class BackendApiClient(WorkerAuthCalls):
    """The worker's client of the Powernode server (breaker `backend_api`, `User-Agent:
    PowernodeWorker/1.0`)."""

    # -- envelope helpers ------------------------------------------------------------------------------------
    async def request_data(self, method: str, path: str, data: Any = None, **options: Any) -> Any:
        """Send a request and return the envelope's `data` (raises `ApiError` on `success: false`)."""
        return data_of(await self.request(method, path, data, **options), service=self.service)

    async def get_data(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """GET and unwrap the envelope."""
        return await self.request_data("GET", path, params, **options)

    async def post_data(self, path: str, data: Any = None, **options: Any) -> Any:
        """POST and unwrap the envelope."""
        return await self.request_data("POST", path, data, **options)

    async def put_data(self, path: str, data: Any = None, **options: Any) -> Any:
        """PUT and unwrap the envelope."""
        return await self.request_data("PUT", path, data, **options)

    async def patch_data(self, path: str, data: Any = None, **options: Any) -> Any:
        """PATCH and unwrap the envelope."""
        return await self.request_data("PATCH", path, data, **options)

    async def delete_data(self, path: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """DELETE and unwrap the envelope."""
        return await self.request_data("DELETE", path, params, **options)

    async def post_with_circuit_breaker(
        self, path: str, data: Any = None, *, breaker: Breaker, timeout_s: float | None = None
    ) -> Any:
        """POST through another breaker (e.g. `mission_execution`) with its longer wall-clock limit.

        The try's HTTP timeout defaults to the breaker's `call_timeout_s` (the original set 3600 s and let the
        breaker's limit decide).
        """
        return await self.request(
            "POST", path, data, breaker=breaker, timeout_s=timeout_s or breaker.config.call_timeout_s
        )

    # -- accounts, analytics, reports ------------------------------------------------------------------------
    async def get_account(self, account_id: Id) -> Any:
        """GET /api/v1/accounts/:id."""
        return await self.get(f"/api/v1/accounts/{_seg(account_id)}")

    async def get_account_subscription(self, account_id: Id) -> Any:
        """The account's `subscription` (read from the envelope's data; the original read the top level)."""
        body = await self.get_account(account_id)
        if not isinstance(body, Mapping):
            return None
        data = body.get("data")
        if isinstance(data, Mapping) and "subscription" in data:
            return data["subscription"]
        return body.get("subscription")

    async def get_analytics(self, analytics_type: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET /api/v1/analytics/:type."""
        return await self.get(f"/api/v1/analytics/{_seg(analytics_type)}", params)

    async def create_report(self, data: Mapping[str, Any]) -> Any:
        """POST /api/v1/reports."""
        return await self.post("/api/v1/reports", data)

    async def get_scheduled_reports(self, params: Mapping[str, Any] | None = None) -> Any:
        """GET /api/v1/reports/scheduled."""
        return await self.get("/api/v1/reports/scheduled", params)

    async def update_scheduled_report(self, report_id: Id, data: Mapping[str, Any]) -> Any:
        """PUT /api/v1/reports/scheduled/:id."""
        return await self.put(f"/api/v1/reports/scheduled/{_seg(report_id)}", data)

    async def get_report_request(self, request_id: Id) -> Any:
        """GET /api/v1/reports/requests/:id."""
        return await self.get(f"/api/v1/reports/requests/{_seg(request_id)}")

    async def update_report_request_status(self, request_id: Id, status: str) -> Any:
        """PATCH /api/v1/reports/requests/:id {status}."""
        return await self.patch(f"/api/v1/reports/requests/{_seg(request_id)}", {"status": status})

    async def complete_report_request(
        self, request_id: Id, *, file_path: str, file_size: int, file_url: str | None = None
    ) -> Any:
        """Mark a report request completed with its file."""
        return await self.patch(
            f"/api/v1/reports/requests/{_seg(request_id)}",
            {
                "status": "completed",
                "file_path": file_path,
                "file_size": file_size,
                "file_url": file_url,
                "completed_at": self._now(),
            },
        )

    async def fail_report_request(self, request_id: Id, error_message: str) -> Any:
        """Mark a report request failed."""
        return await self.patch(
            f"/api/v1/reports/requests/{_seg(request_id)}",
            {"status": "failed", "error_message": error_message, "completed_at": self._now()},
        )

    async def get_report_data(
        self, report_type: str, account_id: Id | None = None, parameters: Mapping[str, Any] | None = None
    ) -> Any:
        """GET /api/v1/analytics/export {report_type, parameters, account_id?}."""
        params: JsonObject = {"report_type": report_type, "parameters": dict(parameters or {})}
        if account_id is not None:
            params["account_id"] = account_id
        return await self.get("/api/v1/analytics/export", params)

    async def generate_pdf_report(
        self, report_type: str, *, account_id: Id, start_date: str, end_date: str, user_id: Id | None = None
    ) -> Any:
        """POST /api/v1/reports/generate for one PDF report."""
        return await self.post(
            "/api/v1/reports/generate",
            {
                "reports": [{"type": report_type, "format": "pdf"}],
                "account_id": account_id,
                "start_date": start_date,
                "end_date": end_date,
                "user_id": user_id,
            },
        )

    # -- service auth and health -----------------------------------------------------------------------------
    async def verify_service_token(self) -> Any:
        """POST /api/v1/service/verify (no body)."""
        return await self.post("/api/v1/service/verify", {})

    async def health_check(self) -> Any:
        """GET /api/v1/health."""
        return await self.get("/api/v1/health")

    # -- billing ---------------------------------------------------------------------------------------------
    async def get_subscription_data(self, *, account_id: Id | None = None, status: str | None = None) -> Any:
        """GET /api/v1/subscriptions filtered by account and status."""
        return await self.get("/api/v1/subscriptions", _compact(account_id=account_id, status=status))

    async def update_subscription_status(
        self, subscription_id: Id, status: str, metadata: Mapping[str, Any] | None = None
    ) -> Any:
        """PATCH /api/v1/subscriptions/:id {status, metadata}."""
        return await self.patch(
            f"/api/v1/subscriptions/{_seg(subscription_id)}",
            {"status": status, "metadata": dict(metadata or {})},
        )

    async def get_invoice_data(
        self, *, account_id: Id | None = None, status: str | None = None, **extra: Any
    ) -> Any:
        """GET /api/v1/invoices filtered by account, status and any extra parameters."""
        return await self.get("/api/v1/invoices", _compact(account_id=account_id, status=status, **extra))

    async def create_invoice(self, subscription_id: Id, line_items: list[Mapping[str, Any]]) -> Any:
        """POST /api/v1/invoices."""
        return await self.post(
            "/api/v1/invoices", {"subscription_id": subscription_id, "line_items": list(line_items)}
        )

    async def update_webhook_event(self, event_id: Id, status: str, error: str | None = None) -> Any:
        """PATCH /api/v1/webhooks/events/:id {status, error_message?}."""
        return await self.patch(
            f"/api/v1/webhooks/events/{_seg(event_id)}", _compact(status=status, error_message=error)
        )

    # -- file processing -------------------------------------------------------------------------------------
    async def get_file_processing_job(self, job_id: Id) -> Any:
        """GET /api/v1/worker/processing_jobs/:id."""
        return await self.get(f"/api/v1/worker/processing_jobs/{_seg(job_id)}")

    async def update_file_processing_job(self, job_id: Id, data: Mapping[str, Any]) -> Any:
        """PATCH /api/v1/worker/processing_jobs/:id."""
        return await self.patch(f"/api/v1/worker/processing_jobs/{_seg(job_id)}", data)

    async def complete_file_processing_job(self, job_id: Id, result_data: Mapping[str, Any]) -> Any:
        """Mark a processing job completed with its result."""
        return await self.update_file_processing_job(
            job_id, {"status": "completed", "result_data": dict(result_data), "completed_at": self._now()}
        )

    async def fail_file_processing_job(
        self, job_id: Id, error_message: str, details: Mapping[str, Any] | None = None
    ) -> Any:
        """Mark a processing job failed; `details` join the message in `error_details`."""
        return await self.update_file_processing_job(
            job_id,
            {
                "status": "failed",
                "error_details": {"error_message": error_message, **dict(details or {})},
                "completed_at": self._now(),
            },
        )

    async def get_file_object(self, file_id: Id) -> Any:
        """GET /api/v1/worker/files/:id."""
        return await self.get(f"/api/v1/worker/files/{_seg(file_id)}")

    async def update_file_object(self, file_id: Id, data: Mapping[str, Any]) -> Any:
        """PATCH /api/v1/worker/files/:id."""
        return await self.patch(f"/api/v1/worker/files/{_seg(file_id)}", data)

    async def download_file_content(self, file_id: Id) -> bytes:
        """The raw bytes of a stored file (GET /api/v1/worker/files/:id/download).

        Unlike the original this goes through the breaker and retries like any GET.
        """
        content: bytes = await self.request("GET", f"/api/v1/worker/files/{_seg(file_id)}/download", raw=True)
        return content

    async def upload_processed_file(
        self, file_id: Id, content: bytes, metadata: Mapping[str, Any] | None = None
    ) -> Any:
        """POST /api/v1/worker/files/:id/processed with the content base64-encoded."""
        return await self.post(
            f"/api/v1/worker/files/{_seg(file_id)}/processed",
            {"file_content": base64.b64encode(content).decode("ascii"), "metadata": dict(metadata or {})},
        )

    async def quarantine_file(self, file_id: Id, data: Mapping[str, Any]) -> Any:
        """POST /api/v1/worker/files/:id/quarantine."""
        return await self.post(f"/api/v1/worker/files/{_seg(file_id)}/quarantine", data)

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock.time(), tz=UTC).isoformat()


def _compact(**values: Any) -> JsonObject:
    """The given values without the Nones."""
    return {key: value for key, value in values.items() if value is not None}
