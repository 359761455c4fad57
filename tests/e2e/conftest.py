"""Browser journeys: Playwright driving Debian's chromium against pytest-django's
``live_server``.

Playwright cannot download its own browser on our machines (see DESIGN.md, "Known
traps"), so every launch uses /usr/bin/chromium with the flags below.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

# Playwright's sync API keeps an asyncio event loop in the main thread for the whole
# session, so Django refuses ORM calls made from test code ("You cannot call this from
# an async context"). The test code is synchronous; the check is a false alarm here.
# Set at import (not per test) because the browser outlives the e2e tests: tests
# collected after them run with the same loop.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("PORTICO_CHROMIUM", "/usr/bin/chromium"))
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

# Waits are explicit (expect/auto-waiting locators); this only bounds them.
expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/ensure-chromium (or set PORTICO_CHROMIUM)",
            pytrace=False,
        )
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(autouse=True)
def _browser_settings(settings, live_server):
    """The dev mailbox keeps the messages (the admin reads them in the browser) and
    links in emails point at the live server. Both are read at call time."""
    settings.MAILERS = {"default": {"BACKEND": "portico.core.mail.CaptureBackend"}}
    settings.PORTICO_MAILBOX = True
    settings.BASE_URL = live_server.url
    settings.STATIC_URL = "/static/"


@pytest.fixture
def page(page: Page) -> Page:
    page.set_default_timeout(10_000)
    return page


def sign_in(page, base_url: str, *, email: str, password: str) -> None:
    """Sign in through the sign-in page."""
    page.goto(f"{base_url}/accounts/sign-in/")
    form = page.locator("main form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def nav(page, name: str) -> None:
    """Follow a link of the main navigation."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()
