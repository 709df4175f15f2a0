"""Real Chromium (Debian's, through Playwright's sync API) against pytest-django's live server.

Playwright's sync API runs an asyncio event loop in the test thread, so Django would refuse the ORM calls
the tests make while a browser is open (SynchronousOnlyOperation); the tests only use the ORM from the
test thread, one statement at a time, so allowing it is safe here.

Static files: with DEBUG off the app's WhiteNoise serves only STATIC_ROOT (filled by collectstatic). The
live server wraps the app in django.contrib.staticfiles' handler, which answers /static/ from the finders
first, so the stylesheet and htmx load even in a fresh clone without collectstatic; ``live_site`` checks
that they do (status 200) before any browser test runs, and runs collectstatic if they do not.
"""

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STYLESHEET = "/static/css/odr.css"
HTMX = "/static/django_htmx/htmx-2.min.js"


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (our own live server)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture(scope="session")
def live_site(live_server, django_db_blocker):
    """The live server's address, once its stylesheet and htmx are known to be served."""
    paths = (STYLESHEET, HTMX)
    # Every request, even for a static file, touches the database connection (request_started).
    with django_db_blocker.unblock():
        if any(_status(live_server.url + p) != 200 for p in paths):
            from django.core.management import call_command

            call_command("collectstatic", interactive=False, verbosity=0)
        for path in paths:
            assert _status(live_server.url + path) == 200, f"the live server does not serve {path}"
    return live_server.url


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module; missing: skip, or fail when ODR_REQUIRE_BROWSER=1 (CI)."""
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("ODR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"ODR_REQUIRE_BROWSER=1 but there is no browser at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Problems:
    """Console errors and uncaught page errors of one page (a CSP violation shows up here)."""

    def __init__(self, page):
        self.items = []
        page.on("console", lambda m: m.type == "error" and self.items.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"pageerror: {e}"))

    def unexpected(self, *allowed: str) -> list[str]:
        return [p for p in self.items if not any(a in p for a in allowed)]


@pytest.fixture
def new_page(browser, live_site, settings):
    """``new_page(width=1280)``: a page in a fresh browser context (its own cookies: one user each)."""
    from playwright.sync_api import expect

    # pytest-django's live server speaks HTTP only (WSGI): the pages' websocket for live notices is
    # switched off here; tests/notifications/test_consumer.py tests that websocket over ASGI.
    settings.ODR_LIVE_UPDATES = False

    expect.set_options(timeout=10_000)
    contexts = []

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=live_site,
            viewport={"width": width, "height": height},
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = Problems(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where the screenshots go (outside the repository); ODR_SCREENSHOT_DIR overrides."""
    path = Path(os.environ.get("ODR_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "odr-browser-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path
