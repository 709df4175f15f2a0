"""The award in a real browser: the arbitrator issues it from the case page's "Issue the award" form, and
each party downloads the award's PDF in their language from the award panel. The downloaded bytes are the
ones whose SHA-256 the page prints next to the link and the ``issue_award`` event records, and their text
(pypdf) carries the case reference, the decision and the reasons as written, Chinese included.

Debian's Chromium through Playwright against pytest-django's live server (see conftest.py).
"""

import hashlib
import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from playwright.sync_api import expect
from pypdf import PdfReader

from cases.models import Case, CaseEvent
from tests.browser.test_flows import assert_no_page_problems, log_in
from tests.factories import PASSWORD, Cast, case_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The live server speaks HTTP only (WSGI, see conftest.py): a page's websocket (the case chat's) cannot
#: connect there. That console error is the only one these pages may show.
NO_WEBSOCKET = "WebSocket connection to"

CHINESE_REASONS = "商家未能证明已交付。"
REASONS = f"{CHINESE_REASONS}The merchant did not prove delivery."
CJK = re.compile(r"[\u4e00-\u9fff]")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def off_the_loop(fn, *args):
    """``fn(*args)`` in another thread: Playwright's sync API runs an event loop in this one, where the
    services' ``async_to_sync`` calls to the channel layer refuse to run (as in test_chat.py)."""

    def run():
        try:
            return fn(*args)
        finally:
            connections.close_all()  # that thread's connection, before the database is flushed

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def case_in_arbitration() -> tuple[Cast, Case]:
    cast = Cast.make()
    return cast, case_in("arbitration", cast, heard=True)


def log_in_any_language(page, email: str) -> None:
    """``log_in`` for a user whose pages come in another language (the log-out button's text differs)."""
    page.goto("/accounts/login/")  # in English: no language cookie yet
    main = page.locator("main")
    main.get_by_label("E-mail address").fill(email)
    main.get_by_label("Password").fill(PASSWORD)
    main.get_by_role("button", name="Log in").click()
    expect(page.locator("form[action$='/logout/'] button")).to_be_visible()


def award_panel(page):
    return page.locator("section.award")


def pdf_link(page, language: str):
    return award_panel(page).locator(f"a.award-pdf[href$='/{language}.pdf']")


def printed_hash(page, language: str) -> str:
    return award_panel(page).locator(f"code.award-sha256[data-language='{language}']").inner_text().strip()


def download(page, language: str, tmp_path) -> bytes:
    """Click the award's PDF link for ``language``; the bytes the browser saved."""
    with page.expect_download() as downloading:
        pdf_link(page, language).click()
    got = downloading.value
    assert got.failure() is None
    assert got.suggested_filename.endswith(f"-{language}.pdf"), got.suggested_filename
    saved = tmp_path / got.suggested_filename
    got.save_as(saved)
    return saved.read_bytes()


def pdf_text(data: bytes) -> str:
    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def recorded_hashes(case: Case) -> dict[str, str]:
    """The SHA-256 of each document as the ``issue_award`` event on the case's log records it."""
    event = CaseEvent.objects.get(case=case, type="issue_award")
    return {d["language"]: d["sha256"] for d in event.payload["award"]["documents"]}


def test_arbitrator_issues_the_award_and_the_parties_download_its_pdfs(new_page, shots, tmp_path):
    cast, case = off_the_loop(case_in_arbitration)
    assert (case.claim_currency, case.remedy) == ("EUR", "refund")

    # --- the arbitrator issues the award from the case page --------------------------------------
    judge = new_page()
    log_in(judge, cast.arbitrator.email)
    judge.goto(f"/cases/{case.pk}/")
    expect(judge.locator("h1 .status")).to_have_text("Arbitration")
    expect(award_panel(judge)).to_have_count(0)
    actions = judge.locator("section[aria-labelledby='h-actions']")
    form = judge.locator("form[action$='/actions/issue_award/']")
    details = actions.locator("details", has=form)
    if details.get_attribute("open") is None:  # open already when it is the only action
        details.locator("summary", has_text="Issue the award").click()
    expect(form).to_be_visible()
    form.get_by_label("Decision").select_option(label="Partly granted")
    form.locator("input[name='amount.amount']").fill("60.00")
    currency = form.locator("select[name='amount.currency']")
    expect(currency).to_have_value("EUR")  # the claim's currency is preselected
    currency.select_option("EUR")
    form.get_by_label("Remedy").select_option("refund")
    form.get_by_label("Reasons").fill(REASONS)
    form.get_by_role("button", name="Issue the award").click()

    expect(judge.locator(".messages")).to_have_text("Done: Issue the award.")
    expect(judge.locator("h1 .status")).to_have_text("Awarded")
    panel = award_panel(judge)
    expect(panel.get_by_role("heading", level=2)).to_have_text("Award")
    expect(panel.locator(".award-decision")).to_have_text("Partly granted")
    expect(panel.locator("dt:text-is('Amount') + dd")).to_have_text("60.00 EUR")
    expect(panel.locator("dt:text-is('Remedy') + dd")).to_have_text("Refund")
    expect(panel.locator(".quote").first).to_have_text(REASONS)
    expect(panel.locator("a.award-pdf")).to_have_count(2)
    expected = recorded_hashes(case)
    assert set(expected) == {"en", "zh-hans"}
    for language, digest in expected.items():
        assert SHA256.match(digest)
        expect(panel.locator(f"code.award-sha256[data-language='{language}']")).to_have_text(digest)
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=shots / "award-panel.png")
    judge.screenshot(path=shots / "case-arbitrator-awarded.png", full_page=True)
    case.refresh_from_db()
    assert case.status == "awarded"
    assert case.outcome["decision"] == "partly_granted"
    assert case.outcome["amount"] == {"amount": "60.00", "currency": "EUR"}
    assert case.outcome["reasons"] == REASONS
    assert case.outcome["pdf_sha256"] == expected
    assert_no_page_problems(judge, NO_WEBSOCKET)

    # --- the consumer downloads the English PDF --------------------------------------------------
    buyer = new_page()
    log_in(buyer, cast.consumer.email)
    buyer.goto(f"/cases/{case.pk}/")
    expect(buyer.locator("h1 .status")).to_have_text("Awarded")
    expect(award_panel(buyer).locator(".award-decision")).to_have_text("Partly granted")
    english = download(buyer, "en", tmp_path)
    digest = hashlib.sha256(english).hexdigest()
    assert digest == printed_hash(buyer, "en") == expected["en"]
    assert english.startswith(b"%PDF-")
    text = pdf_text(english)
    assert case.reference in text
    assert "Partly granted" in text
    assert "60.00 EUR" in text
    assert CHINESE_REASONS in text
    assert "The merchant did not prove delivery." in text
    assert_no_page_problems(buyer, NO_WEBSOCKET)

    # --- the merchant (pages in Chinese) downloads the Chinese PDF ------------------------------
    shop = new_page()
    log_in_any_language(shop, cast.merchant.email)
    shop.goto(f"/cases/{case.pk}/")
    expect(shop.locator("h1 .status.status-awarded")).to_have_text("已裁决")
    expect(award_panel(shop).locator(".award-decision")).to_have_text("部分支持")
    chinese = download(shop, "zh-hans", tmp_path)
    assert hashlib.sha256(chinese).hexdigest() == printed_hash(shop, "zh-hans") == expected["zh-hans"]
    assert chinese != english
    text = pdf_text(chinese)
    assert case.reference in text
    assert CHINESE_REASONS in text
    assert "部分支持" in text  # the decision's label in Chinese
    # Chinese beyond the reasons as written: the document itself is in Chinese.
    assert CJK.search(text.replace(CHINESE_REASONS, ""))
    assert_no_page_problems(shop, NO_WEBSOCKET)
