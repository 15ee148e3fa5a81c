"""The staff app in a real browser: Debian's Chromium driven by Playwright, against `ignis up`."""

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from ignis.contracts import subjects
from tests.conftest import drop_database, other_database
from tests.e2e.conftest import Running, ignis_env, ignis_up
from tests.fakes.sipgate import SMS_ID, TOKEN, TOKEN_ID, FakeSipgate

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",  # the alert's sound plays without a click first
]
# Screenshots of every page, to look at (gitignored).
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "staff_app"
PASSWORD = "Praxis-Passwort-1"


@dataclass
class Praxis:
    running: Running
    env: dict[str, str]
    database_url: str

    @property
    def url(self) -> str:
        return f"{self.running.base_url}/praxis"

    def add_account(self, name: str, role: str) -> str:
        """`ignis staff add`, as the operator runs it; the set-up link it prints."""
        added = subprocess.run(
            [sys.executable, "-m", "ignis.cli.main", "staff", "add", name, "--role", role],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert added.returncode == 0, added.stdout + added.stderr
        link = re.search(r"(http://\S+/praxis/einrichten/\S+)", added.stdout)
        assert link, added.stdout
        return link.group(1)


@pytest.fixture(scope="module")
async def praxis(
    nats_url: str,
    database_url: str,
    engine: AsyncEngine,
    sipgate_server: FakeSipgate,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Praxis]:
    """`ignis up` with SMS through the fake sipgate; one for the module (starting it takes a while).

    The session's NATS is shared: the streams earlier modules left behind (their bookings' events, say)
    are deleted first, or this stack's notifier would text about appointments of other tests."""
    connection = await nats.connect(nats_url)
    try:
        for stream in (subjects.EVENTS_STREAM, subjects.WEBHOOKS_STREAM, subjects.DEAD_LETTER_STREAM):
            with contextlib.suppress(NotFoundError):  # a first run
                await connection.jetstream().delete_stream(stream)
    finally:
        await connection.close()
    url = other_database(database_url, "ignis_praxis")
    home = tmp_path_factory.mktemp("praxis")
    env = ignis_env(
        home / "home",
        IGNIS_NATS_URL=nats_url,
        IGNIS_DATABASE_URL=url,
        IGNIS_SMS_PROVIDER="sipgate",
        IGNIS_SIPGATE_API_URL=sipgate_server.url,
        IGNIS_SIPGATE_TOKEN_ID=TOKEN_ID,
        IGNIS_SIPGATE_TOKEN=TOKEN,
        IGNIS_SIPGATE_SMS_ID=SMS_ID,
        IGNIS_STAFF_POLL_SECONDS="1",
    )
    starting = ignis_up(env, home / "ignis.log")
    running = await asyncio.to_thread(starting.__enter__)  # the fake sipgate keeps answering meanwhile
    try:
        yield Praxis(running, env, url)
    finally:
        await asyncio.to_thread(starting.__exit__, None, None, None)
        await drop_database(engine, "ignis_praxis")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is missing: `make browser` installs it (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies), at the size of a reception desk's screen."""
    made = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
    yield made
    await made.close()


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
async def browser_context_2(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A second person's browser, on a tablet."""
    made = await browser.new_context(viewport={"width": 1024, "height": 768}, locale="de-DE")
    yield made
    await made.close()
