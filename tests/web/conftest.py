"""Fixtures of the dashboard tests: the fake backend with users, the dashboard on a test server, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from powerworker.api import build_clients
from powerworker.cron import ScheduleEntry, validate
from powerworker.dead import DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.scheduler import Scheduler
from powerworker.settings import Settings
from powerworker.testing import FakeClock
from powerworker.testing.fake_backend import FakeBackend
from powerworker.web import DashboardConfig, Deps, create_app
from powerworker.worker import router_for

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
PLATFORM_TOKEN = "platform-access-token-of-the-admin"
METRICS_TOKEN = "metrics-bearer-token"

TEST_SCHEDULE = validate(
    [
        ScheduleEntry(
            "nightly_cleanup",
            "0 3 * * *",
            "Test::RecordJob",
            "maintenance",
            args=("cleanup",),
            description="Removes what is old",
        ),
        ScheduleEntry("every_five_minutes", "*/5 * * * *", "Test::RecordJob", "default", args=("tick",)),
    ]
)

CONFIG = DashboardConfig(
    session_secret=b"a-test-session-secret-of-at-least-32-bytes",
    secure_cookies=False,
    metrics_token=METRICS_TOKEN,
    session_cache_s=10,
    login_attempts=3,
    login_ip_attempts=8,
    login_window_s=900,
    environment="test",
    version="test",
)

_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token embedded in a page's forms."""
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@dataclass
class Dashboard:
    """A dashboard on a test server, its fake backend and clock, and helpers that act like a browser."""

    client: TestClient[aiohttp.web.Request, aiohttp.web.Application]
    backend: FakeBackend
    clock: FakeClock
    redis: Redis
    deps: Deps
    enqueuer: Enqueuer
    csrf: str = ""

    @property
    def origin(self) -> str:
        return str(self.client.make_url("/")).rstrip("/")

    async def get(self, path: str, **options: Any) -> aiohttp.ClientResponse:
        options.setdefault("allow_redirects", False)
        return await self.client.get(path, **options)

    async def text(self, path: str, status: int = 200) -> str:
        """GET a page, check its status and return its HTML (remembering its CSRF token)."""
        response = await self.get(path)
        body = await response.text()
        assert response.status == status, body[:2000]
        if 'name="_csrf"' in body:
            self.csrf = csrf_of(body)
        return body

    async def post(
        self,
        path: str,
        data: Any = None,
        *,
        csrf: str | None = None,
        origin: str | None = "same",
        **options: Any,
    ) -> aiohttp.ClientResponse:
        """POST a form as the browser would: with the page's CSRF token and this site's Origin."""
        fields: list[tuple[str, str]] = list(data.items() if isinstance(data, dict) else data or [])
        fields.append(("_csrf", self.csrf if csrf is None else csrf))
        headers = dict(options.pop("headers", {}))
        if origin is not None:
            headers["Origin"] = self.origin if origin == "same" else origin
        options.setdefault("allow_redirects", False)
        return await self.client.post(path, data=fields, headers=headers, **options)

    async def login(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> aiohttp.ClientResponse:
        """Sign in with e-mail and password through the login form."""
        await self.text("/login")
        response = await self.post("/login", {"email": email, "password": password, "next": "/"})
        if response.status == 303:
            await self.text("/")  # pick up the new session's CSRF token
        return response

    def session_cookie(self) -> str | None:
        for cookie in self.client.session.cookie_jar:
            if cookie.key == "powerworker_session":
                return cookie.value
        return None


@pytest.fixture
async def backend(settings: Settings, clock: FakeClock) -> AsyncIterator[FakeBackend]:
    """The fake Powernode server with an admin (password and platform token) and a user without admin rights."""
    async with FakeBackend.for_settings(settings, clock=clock) as server:
        server.add_user(ADMIN_EMAIL, ADMIN_PASSWORD, permissions=("admin.access",))
        server.add_platform_token(PLATFORM_TOKEN, ADMIN_EMAIL)
        server.add_user("viewer@example.com", "viewer-password", permissions=("billing.read",))
        yield server


DashboardFactory = Callable[..., Awaitable[Dashboard]]


@pytest.fixture
async def make_dashboard(
    settings: Settings, redis: Redis, clock: FakeClock, backend: FakeBackend
) -> AsyncIterator[DashboardFactory]:
    """Factory: `await make_dashboard(**config_overrides)` serves a dashboard over the test Redis and backend."""
    sessions: list[aiohttp.ClientSession] = []
    clients: list[TestClient[aiohttp.web.Request, aiohttp.web.Application]] = []

    async def make(*, redis_client: Redis | None = None, **overrides: Any) -> Dashboard:
        api_settings = settings.model_copy(update={"backend_api_url": backend.url})
        session = aiohttp.ClientSession()
        sessions.append(session)
        api = build_clients(session, api_settings, clock=clock)
        store = redis_client or redis
        enqueuer = Enqueuer(store, router_for(api_settings), {}, clock=clock)
        deps = Deps(
            config=replace(CONFIG, **overrides),
            redis=store,
            auth=api.web_auth,
            dead=DeadSet(store, enqueuer=enqueuer, clock=clock),
            scheduler=Scheduler(store, enqueuer, TEST_SCHEDULE, clock=clock),
            clock=clock,
        )
        client = TestClient(TestServer(create_app(deps)))
        await client.start_server()
        clients.append(client)
        return Dashboard(client, backend, clock, redis, deps, enqueuer)

    yield make
    for client in clients:
        await client.close()
    for session in sessions:
        await session.close()


@pytest.fixture
async def dashboard(make_dashboard: DashboardFactory) -> Dashboard:
    """A dashboard nobody has signed in to yet."""
    return await make_dashboard()


@pytest.fixture
async def signed_in(dashboard: Dashboard) -> Dashboard:
    """A dashboard with the admin signed in."""
    response = await dashboard.login()
    assert response.status == 303
    return dashboard
