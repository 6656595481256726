"""The dashboard's login client (the original's WebAuthApiClient).

Same request building and error handling as every client, but its own breaker (`web_auth`: 10 failures, 60 s
open, 15 s per call) and `User-Agent: PowernodeWorker-WebAuth/1.0`, so login trouble never opens the
`backend_api` breaker that jobs depend on. Replies are the server envelope; `data` holds `valid`,
`session_token`, `user_email`, `expires_at` (and `permissions` for a password login).
"""

from __future__ import annotations

from typing import Any

from powerworker.api.base import ApiClient

__all__ = ["WEB_AUTH_USER_AGENT", "WebAuthApiClient", "WorkerAuthCalls"]

WEB_AUTH_USER_AGENT = "PowernodeWorker-WebAuth/1.0"


class WorkerAuthCalls(ApiClient):
    """The server's `/api/v1/worker_auth/*` endpoints (also on BackendApiClient, as in the original)."""

    async def authenticate_user(self, email: str, password: str) -> Any:
        """Email and password login; the server answers with a 24 h session token."""
        return await self.post(
            "/api/v1/worker_auth/authenticate_user", {"email": email, "password": password}
        )

    async def verify_platform_token(self, token: str) -> Any:
        """Login with a platform access token (single sign-on link or pasted token)."""
        return await self.post("/api/v1/worker_auth/verify_platform_token", {"token": token})

    async def verify_session(self, session_token: str) -> Any:
        """Whether a dashboard session is still valid (the server re-checks the user's permissions)."""
        return await self.post("/api/v1/worker_auth/verify_session", {"session_token": session_token})


class WebAuthApiClient(WorkerAuthCalls):
    """Checks dashboard logins and sessions; built with the `web_auth` breaker and user agent."""
