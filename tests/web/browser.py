"""Helpers of the browser tests: Debian's chromium under Playwright, and the dashboard served from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from playwright.async_api import Browser, Playwright

from powerworker.settings import Settings
from powerworker.web import build_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def launch(playwright: Playwright) -> Browser:
    """Debian's chromium (Playwright's own browser download is not used)."""
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    """The dashboard as `powerworker web` builds it, on a free port of 127.0.0.1; yields its base URL."""
    runner = web.AppRunner(await build_app(settings, version="test"), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
