"""The case chat live in real browsers: consumer, merchant and mediator on one case page each.

pytest-django's live server speaks WSGI only, so the pages come from a real ASGI server here: one
``uvicorn odr.asgi:application`` process (``tests.integration.conftest.AsgiServers``) on the test
database and the test Redis database, with the project's settings and STATIC_ROOT in a temporary folder
filled by collectstatic (``tests/browser/asgi_settings.py``). Needs PostgreSQL and Redis (the server is
another process) and Chromium; with ODR_REQUIRE_SERVICES=1 / ODR_REQUIRE_BROWSER=1 a missing one fails.
"""

import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect

from mediation.models import ChatMessage
from tests.browser.conftest import HTMX, STYLESHEET, Problems
from tests.factories import PASSWORD, Cast, case_in
from tests.integration.conftest import ROOT, asgi_servers, service_env  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

PHONE = {"width": 390, "height": 844}
#: The chat panel's list of messages (its only list; the class has changed with the styles).
MESSAGES = "#chat ol"


@pytest.fixture
def asgi_site(service_env, asgi_servers, tmp_path):  # noqa: F811 (the imported fixtures)
    """The address of one uvicorn process serving the app, its static files collected beforehand."""
    static_root = tmp_path / "static"
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.browser.asgi_settings",
        "ODR_TEST_STATIC_ROOT": str(static_root),
        # Plain http on 127.0.0.1: the session and CSRF cookies must not be Secure-only.
        "SECURE_COOKIES": "0",
        "ODR_LIVE_UPDATES": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT, env={**service_env, **env}, check=True, timeout=120,
    )  # fmt: skip
    (server,) = asgi_servers.start("web", **env)
    for path in (STYLESHEET, HTMX, "/static/js/chat.js"):
        with urllib.request.urlopen(server.url + path, timeout=10) as response:  # noqa: S310 (our server)
            assert response.status == 200, f"the ASGI server does not serve {path}"
    return server.url


def off_the_loop(fn, *args):
    """``fn(*args)`` in another thread: Playwright's sync API runs an event loop in this one, where the
    services' ``async_to_sync`` calls to the channel layer refuse to run."""

    def run():
        try:
            return fn(*args)
        finally:
            connections.close_all()  # that thread's connection, before the database is flushed

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def make_case():
    cast = Cast.make()
    return cast, case_in("mediation", cast)


def log_in(page, email: str) -> None:
    """Through the log-in page (labels may be in Chinese: the cast's merchant reads zh-hans)."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def chat_item(page, text: str):
    return page.locator(f"{MESSAGES} li").filter(has_text=text)


def listed_ids(page) -> list[int]:
    return [int(i) for i in page.locator(f"{MESSAGES} li").evaluate_all("els => els.map(e => e.dataset.id)")]


def send(page, text: str) -> None:
    page.locator("#chat-body").fill(text)
    page.locator("form.chat-form button[type=submit]").click()
    expect(page.locator("#chat-body")).to_have_value("")
    assert page.evaluate("() => window.notReloaded === true"), "the form was posted: the socket was not open"


def test_consumer_merchant_and_mediator_chat_live(browser, asgi_site, shots):
    cast, case = off_the_loop(make_case)
    people = {"consumer": cast.consumer, "merchant": cast.merchant, "mediator": cast.mediator}
    expect.set_options(timeout=10_000)

    pages = {}
    contexts = []
    try:
        for role, who in people.items():
            context = browser.new_context(
                base_url=asgi_site, viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC"
            )
            context.set_default_timeout(15_000)
            contexts.append(context)
            page = context.new_page()
            page.problems = Problems(page)
            log_in(page, who.email)
            page.goto(f"/cases/{case.pk}/")
            expect(page.locator("#chat")).to_have_class(re.compile(r"\blive\b"))  # its websocket is open
            page.evaluate("() => { window.notReloaded = true; }")
            pages[role] = page

        # Presence: each page names the two others who are here.
        for role, page in pages.items():
            line = page.locator("#chat .presence")
            for other, who in people.items():
                if other != role:
                    expect(line).to_contain_text(who.display_name)
            expect(line).not_to_contain_text(people[role].display_name)

        # Typing: the consumer starts a message; the others see it being typed.
        bold = "<b>bold</b> & <i>not italic</i>"
        pages["consumer"].locator("#chat-body").press_sequentially("Hello ", delay=20)
        for role in ("merchant", "mediator"):
            expect(pages[role].locator("#chat .typing")).to_contain_text(cast.consumer.display_name)
        expect(pages["consumer"].locator("#chat .typing")).to_have_text("")

        said = {
            "consumer": f"Hello from the consumer {bold}",
            "merchant": "The merchant answers: we shipped it on 3 October.",
            "mediator": "Mediator here: shall we look at the tracking together?",
        }
        for role in ("consumer", "merchant", "mediator"):
            send(pages[role], said[role])
            for page in pages.values():
                expect(chat_item(page, said[role])).to_have_count(1)
        # User text is shown as text: the markup is literal, no element is made from it.
        for page in pages.values():
            item = chat_item(page, said["consumer"])
            expect(item.locator(".body")).to_have_text(said["consumer"])
            expect(item.locator(".body b, .body i")).to_have_count(0)
            expect(item.locator("strong")).to_have_text(cast.consumer.display_name)

        # The merchant's page at phone width: the chat form is on screen and works.
        shop = pages["merchant"]
        shop.set_viewport_size(PHONE)
        form = shop.locator("form.chat-form")
        form.scroll_into_view_if_needed()
        expect(form).to_be_in_viewport()
        for part in ("#chat-body", "button[type=submit]"):
            box = form.locator(part).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{part} off screen: {box}"
        # A long link must wrap rather than push the page sideways.
        phone_text = "Sent from a phone: https://tracking.example/SF1234567890/" + "x" * 80
        send(shop, phone_text)
        for page in pages.values():
            expect(chat_item(page, phone_text)).to_have_count(1)
        width = shop.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the case page scrolls sideways at phone width: scrollWidth {width}"
        shop.screenshot(path=shots / "chat-merchant-phone.png", full_page=True)
        shop.locator("#chat").screenshot(path=shots / "chat-merchant-phone-panel.png")
        pages["consumer"].screenshot(path=shots / "chat-consumer.png", full_page=True)

        # All of it live: no page was reloaded, and every page lists the same messages in the same order.
        for role, page in pages.items():
            assert page.evaluate("() => window.notReloaded === true"), f"the {role}'s page was reloaded"
        stored = list(ChatMessage.objects.filter(case=case, room="joint").order_by("id").values_list("id", "body"))
        assert [body for _id, body in stored] == [*said.values(), phone_text]
        for role, page in pages.items():
            assert listed_ids(page) == [pk for pk, _body in stored], f"the {role}'s page lists other messages"
        for role, page in pages.items():
            assert page.problems.unexpected() == [], f"problems on the {role}'s page"
    finally:
        for context in contexts:
            context.close()
