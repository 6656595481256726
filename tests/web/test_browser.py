"""End to end in a real headless Chromium: sign in, retry a dead job and watch a real worker complete it,
disable a schedule, sign out, and sign in again through a platform link."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from playwright.async_api import async_playwright, expect
from redis.asyncio import Redis

from powerworker.dead import DeadEntry, DeadSet
from powerworker.scheduler import STATES_KEY
from powerworker.settings import Settings
from powerworker.testing.fake_backend import FakeBackend
from powerworker.testing.worker import WorkerHarness
from tests.web.browser import launch, serve
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, PLATFORM_TOKEN

Harness = Callable[..., AbstractAsyncContextManager[WorkerHarness]]
WAIT_MS = 15_000


@pytest.mark.browser
async def test_operator_session_in_chromium(settings: Settings, redis: Redis, harness: Harness) -> None:
    """An operator signs in, retries a dead job, sees it complete, disables a schedule and signs out."""
    await DeadSet(redis).add(
        DeadEntry(
            "echo-that-died",
            "Diagnostics::EchoJob",
            ["hello from the dead set"],
            {},
            "critical",
            "ApiError",
            "Service unavailable (503)",
            "Traceback (most recent call last):\n  ...\nApiError: Service unavailable (503)\n",
            4,
            time.time() - 600,
        )
    )
    async with (
        FakeBackend.for_settings(settings) as backend,
        harness() as worker,
        serve(settings.model_copy(update={"backend_api_url": backend.url})) as url,
        async_playwright() as playwright,
    ):
        backend.add_user(ADMIN_EMAIL, ADMIN_PASSWORD)
        backend.add_platform_token(PLATFORM_TOKEN, ADMIN_EMAIL)
        browser = await launch(playwright)
        try:
            page = await browser.new_page()
            expect.set_options(timeout=WAIT_MS)

            # Signing in with e-mail and password lands on the overview.
            await page.goto(url + "/")
            await expect(page.locator("h1")).to_have_text("Sign in to the worker dashboard")
            await page.fill("#email", ADMIN_EMAIL)
            await page.fill("#password", ADMIN_PASSWORD)
            await page.click("#password-submit")
            await expect(page.locator("#sign-out")).to_be_visible()
            await expect(page.locator("#stat-dead")).to_have_text("1")

            # The dead job is listed; its page shows the error and retries it.
            await page.click("nav >> text=Dead")
            await expect(page.locator("#dead-count")).to_have_text("1 job")
            await page.click("text=Diagnostics::EchoJob")
            await expect(page.locator("#job-state")).to_have_text("dead")
            await expect(page.locator("#job-error")).to_have_text("Service unavailable (503)")
            await page.click("#retry")
            await expect(page.locator(".notice")).to_have_text("1 dead job(s) enqueued again.")
            await expect(page.locator("#job-state")).to_have_text("ready")

            # A real worker runs it; the page, watching, shows it complete with its result.
            await worker.drain()
            await expect(page.locator("#job-state")).to_have_text("complete")
            await expect(page.locator("#job-result")).to_contain_text("hello from the dead set")
            assert await DeadSet(redis).size() == 0

            # Disabling a schedule shows at once and reaches every worker through Redis.
            await page.click("nav >> text=Schedule")
            row = page.locator("#schedule-devops_approval_expiry")
            await expect(row.locator(".state")).to_have_text("enabled")
            await row.locator("button.toggle").click()
            await expect(page.locator(".notice")).to_have_text("Schedule disabled on every worker.")
            await expect(row.locator(".state")).to_have_text("disabled")
            assert await redis.hget(STATES_KEY, "devops_approval_expiry") == b"disabled"

            # Signing out ends it: the dashboard asks for a login again.
            await page.click("#sign-out")
            await expect(page.locator(".notice")).to_have_text("You have signed out.")
            await page.goto(url + "/dead")
            await expect(page.locator("h1")).to_have_text("Sign in to the worker dashboard")
            await expect(page).to_have_url(re.compile(r"/dead$"))

            # A platform sign-in link opens the page it names, without its token in the address.
            await page.goto(url + f"/schedule?token={PLATFORM_TOKEN}")
            await expect(page).to_have_url(url + "/schedule")
            await expect(page.locator("#sign-out")).to_be_visible()
        finally:
            await browser.close()
