"""A headless Chromium for tests that look at what a person sees, and the server it visits.

The browser is Debian's `chromium` package (`.ci/run` installs it): Playwright drives it by
path and never downloads a browser of its own, which this machine could not fetch anyway.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from harness.server_process import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no sandbox (CI runs as root), no GPU, and none of the calls home
# (updates, sync, field trials) that would put requests to other hosts in the recording.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
async def browser():
    if not CHROMIUM.exists():  # noqa: ASYNC240 - one stat, once per session
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; .ci/run should have installed it")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def server():
    """The Procfile's web process, as a browser in production would meet it."""
    running = await asyncio.to_thread(ServerProcess().start)
    yield running
    await asyncio.to_thread(running.stop)
