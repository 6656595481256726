"""Take the overview screenshot for the docs: `TEST_REDIS_URL=redis://127.0.0.1:6379/10 python -m
tests.web.screenshot docs/dashboard-overview.png` (flushes that Redis database first)."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from playwright.async_api import async_playwright
from redis.asyncio import Redis

from powerworker.dead import DeadSet
from powerworker.enqueue import Enqueuer
from powerworker.settings import load_settings
from powerworker.testing.fake_backend import FakeBackend
from powerworker.worker import router_for
from tests.web import demo
from tests.web.browser import launch, serve
from tests.web.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


async def main(path: str, page_path: str = "/") -> None:
    redis_url = os.environ["TEST_REDIS_URL"]
    settings = load_settings(
        worker_env="test", redis_url=redis_url, worker_id="screenshot", scheduler_enabled=False
    )
    redis: Redis = Redis.from_url(redis_url)
    await redis.flushdb()
    now = time.time()
    enqueuer = Enqueuer(redis, router_for(settings), {})
    await demo.seed_queue(enqueuer)
    await demo.seed_throughput(redis, now)
    await demo.seed_dead(DeadSet(redis, enqueuer=enqueuer), now)
    await demo.seed_activity(redis, now)
    async with FakeBackend.for_settings(settings) as backend:
        backend.add_user(ADMIN_EMAIL, ADMIN_PASSWORD)
        async with (
            serve(settings.model_copy(update={"backend_api_url": backend.url})) as url,
            async_playwright() as pw,
        ):
            browser = await launch(pw)
            page = await browser.new_page(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
            await page.goto(url + "/login")
            await page.fill("#email", ADMIN_EMAIL)
            await page.fill("#password", ADMIN_PASSWORD)
            await page.click("#password-submit")
            await page.wait_for_selector("#sign-out")
            await page.goto(url + page_path)
            await page.screenshot(path=path, full_page=os.environ.get("FULL_PAGE", "1") == "1")
            await browser.close()
    await redis.flushdb()
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], *(sys.argv[2:3])))
