"""The web application in a real browser: what each person does and sees, page by page.

Debian's Chromium through Playwright against pytest-django's live server (see conftest.py). Each test
starts from an empty database; people are made with tests/factories.py or sign up through the pages.
Screenshots of the main pages go to ``shots`` (a temporary directory outside the repository).
"""

import re
import zoneinfo
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from accounts.models import User
from cases.models import Case
from tests.factories import PASSWORD, file_case, user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MERCHANT_NAME = "Lotus Audio Trading Co., Ltd."
CASE_URL = re.compile(r"/cases/[0-9a-f-]{36}/$")
REFERENCE = re.compile(r"ODR-\d{4}-\d{6}")
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def merchant(db) -> User:
    """The merchant of the stories (Shanghai), and a second shop the search must leave out."""
    user("merchant", country="DE", time_zone="Europe/Berlin", legal_name="Berliner Kamera GmbH")
    return user("merchant", country="CN", time_zone="Asia/Shanghai", language="en", legal_name=MERCHANT_NAME)


def local(moment, zone: str) -> str:
    """How the pages write ``moment`` for a viewer in ``zone``: "2026-11-27 19:34 (UTC+01:00)"."""
    at = moment.astimezone(zoneinfo.ZoneInfo(zone))
    offset = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    main = page.locator("main")
    main.get_by_label("E-mail address").fill(email)
    main.get_by_label("Password").fill(password)
    main.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def fill_complaint(page, *, description: str, search: str = "Lotus") -> None:
    """Open the filing form from the navigation, find the merchant by name and fill every field."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="File a complaint").click()
    expect(page).to_have_url(re.compile(r"/cases/new/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("File a complaint")
    merchants = page.locator("#id_merchant")
    expect(merchants.locator("option", has_text="Berliner Kamera GmbH")).to_have_count(1)
    page.get_by_label("Search merchants by name").fill(search)
    # htmx replaces the list with the matches as the consumer types.
    expect(merchants.locator("option", has_text="Berliner Kamera GmbH")).to_have_count(0)
    match = merchants.locator("option", has_text=MERCHANT_NAME)
    expect(match).to_have_count(1)
    merchants.select_option(label=match.inner_text())
    page.get_by_label("Order number").fill("ORD-7781")
    page.get_by_label("Order date").fill("2026-10-01")
    page.get_by_label("What you bought").fill("Noise-cancelling headphones")
    page.get_by_label("Where you bought it").fill("lotus-audio.example")
    page.get_by_label("Price paid").fill("129.00")
    page.get_by_label("Currency of the price").select_option("EUR")
    page.get_by_label("What went wrong").select_option(label="Goods or service not delivered")
    page.get_by_label("What you ask for").select_option(label="Refund")
    page.get_by_label("Amount claimed").fill("129.00")
    page.get_by_label("Currency of the claim").select_option("EUR")
    page.get_by_label("Describe the problem").fill(description)


def fact(page, term: str):
    """The <dd> of the case page's fact list whose <dt> is ``term``."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


def action_form(page, action: str):
    return page.locator(f"form[action$='/actions/{action}/']")


def reference_of(page) -> str:
    return REFERENCE.search(page.get_by_role("heading", level=1).inner_text()).group(0)


def assert_no_page_problems(page, *allowed: str) -> None:
    assert page.problems.unexpected(*allowed) == []


def filed_case(merchant: User, consumer: User | None = None) -> Case:
    """A case filed through the services by ``consumer`` (a new one from Madrid by default)."""
    consumer = consumer or user("consumer", country="ES", time_zone="Europe/Madrid")
    return file_case(SimpleNamespace(consumer=consumer, merchant=merchant))


# --- the flows ---------------------------------------------------------------------------------
def test_stylesheet_and_htmx_load(new_page, shots):
    page = new_page()
    with page.expect_response(lambda r: r.url.endswith("/static/css/odr.css")) as css:
        page.goto("/")
    assert css.value.status == 200
    # The stylesheet is applied, not only fetched: the header is dark.
    assert page.locator("header.site").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(29, 36, 51)"
    page.wait_for_function("() => window.htmx !== undefined")
    page.screenshot(path=shots / "home.png", full_page=True)
    assert_no_page_problems(page)


def test_consumer_signs_up_and_files_a_complaint(new_page, merchant, shots):
    page = new_page()
    page.goto("/")
    page.locator("main").get_by_role("link", name="Sign up").click()
    main = page.locator("main")
    main.get_by_label("a consumer with a complaint").check()
    main.get_by_label("E-mail address").fill("lucia@example.test")
    main.get_by_label("Password").fill(PASSWORD)
    main.get_by_label("Display name").fill("Lucía García")
    main.get_by_label("Country").select_option("ES")
    main.get_by_label("Time zone").select_option("Europe/Madrid")
    page.locator("#id_language").select_option("en")
    page.screenshot(path=shots / "signup.png", full_page=True)
    main.get_by_role("button", name="Create my account").click()

    expect(page.locator(".messages")).to_contain_text("Welcome! Your account is ready.")
    expect(page.get_by_role("heading", level=1)).to_have_text("My cases")
    expect(page.locator(".who")).to_contain_text("Lucía García")
    consumer = User.objects.get(email="lucia@example.test")
    assert (consumer.role, str(consumer.country), consumer.time_zone) == ("consumer", "ES", "Europe/Madrid")

    fill_complaint(page, description="I paid on 1 October; the parcel never arrived and the shop went silent.")
    page.screenshot(path=shots / "file-form.png", full_page=True)
    page.locator("main").get_by_role("button", name="File the complaint").click()

    expect(page).to_have_url(CASE_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text(REFERENCE)
    reference = reference_of(page)
    expect(page.locator(".messages")).to_have_text(f"Your complaint {reference} is filed.")
    expect(page.locator("h1 .status")).to_have_text("Filed")
    expect(fact(page, "Merchant")).to_have_text(f"{MERCHANT_NAME} (China)")
    expect(fact(page, "Consumer")).to_contain_text("Lucía García (Spain)")
    expect(fact(page, "Category")).to_have_text("Goods or service not delivered")
    expect(fact(page, "Remedy")).to_have_text("Refund")
    expect(fact(page, "Claim")).to_contain_text("129.00 EUR")
    expect(fact(page, "Order")).to_contain_text("ORD-7781, Noise-cancelling headphones")
    expect(page.locator(".description")).to_have_text(
        "I paid on 1 October; the parcel never arrived and the shop went silent."
    )
    case = Case.objects.get(reference=reference)
    assert case.status == "filed" and case.consumer == consumer and case.merchant == merchant.organisation
    # Times in the consumer's own zone, with the offset.
    expect(fact(page, "Filed")).to_have_text(local(case.filed_at, "Europe/Madrid"))
    expect(page.locator(".timeline")).to_contain_text("Complaint filed")
    page.screenshot(path=shots / "case-consumer-filed.png", full_page=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My cases").click()
    expect(page.get_by_role("row").filter(has_text=reference)).to_contain_text("Filed")
    assert_no_page_problems(page)


def test_merchant_sees_the_case_in_its_zone_and_responds_and_the_consumer_sees_it(new_page, merchant, shots):
    consumer = user("consumer", country="ES", time_zone="Europe/Madrid")
    case = filed_case(merchant, consumer)

    shop = new_page()
    log_in(shop, merchant.email)
    expect(shop.get_by_role("heading", level=1)).to_have_text("Inbox")
    row = shop.get_by_role("row").filter(has_text=case.reference)
    expect(row).to_have_count(1)
    filed = row.locator("td[data-label='Filed'] time")
    expect(filed).to_have_text(local(case.filed_at, "Asia/Shanghai"))
    expect(filed).to_contain_text("(UTC+08:00)")
    assert filed.get_attribute("datetime") == case.filed_at.isoformat()
    shop.screenshot(path=shots / "inbox-merchant.png", full_page=True)

    row.get_by_role("link", name=case.reference).click()
    expect(shop).to_have_url(CASE_URL)
    expect(fact(shop, "Filed")).to_have_text(local(case.filed_at, "Asia/Shanghai"))
    respond = action_form(shop, "respond")
    expect(respond).to_be_visible()  # the only action: its form is open
    respond.get_by_label("Your position").select_option(label="Contest the claim")
    statement = "The parcel was delivered on 5 October; tracking number SF1234567890."
    respond.get_by_label("Statement").fill(statement)
    respond.get_by_role("button", name="Respond to the complaint").click()

    expect(shop.locator(".messages")).to_have_text("Done: Respond to the complaint.")
    expect(shop.locator("h1 .status")).to_have_text("Jurisdiction")
    expect(shop.locator(".timeline")).to_contain_text(statement)
    shop.screenshot(path=shots / "case-merchant-responded.png", full_page=True)
    case.refresh_from_db()
    assert (case.status, case.response_position) == ("jurisdiction", "contest")

    buyer = new_page()
    log_in(buyer, consumer.email)
    buyer.get_by_role("row").filter(has_text=case.reference).get_by_role("link", name=case.reference).click()
    entry = buyer.locator(".timeline li").filter(has_text="Merchant responded")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(statement)
    expect(entry.locator("time")).to_contain_text(re.compile(r"\(UTC\+0[12]:00\)"))  # Madrid, not Shanghai
    buyer.screenshot(path=shots / "case-consumer-sees-response.png", full_page=True)
    assert_no_page_problems(shop)
    assert_no_page_problems(buyer)


def test_case_page_in_chinese(new_page, merchant, shots):
    """The header's language switch turns the page into Simplified Chinese, and the choice is remembered.

    Needs the compiled zh-hans catalogue (locale/zh_Hans, ``make messages``).
    """
    consumer = user("consumer", country="ES", time_zone="Europe/Madrid")
    case = filed_case(merchant, consumer)
    page = new_page()
    log_in(page, consumer.email)
    page.goto(f"/cases/{case.pk}/")
    expect(page.locator("#h-timeline")).to_have_text("Timeline")

    page.get_by_label("Language").select_option("zh-hans")
    page.locator("form.lang button[type=submit]").click()

    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(re.compile(f"/cases/{case.pk}/$"))  # back on the same page
    page.screenshot(path=shots / "case-zh-hans.png", full_page=True)
    expect(page.locator("#h-timeline")).to_have_text("时间线")
    expect(page.locator("h1 .status")).to_have_text(CJK)
    expect(page.locator("h1 .status")).not_to_have_text("Filed")
    nav = page.get_by_role("navigation").first.locator("ul a")
    expect(nav.first).to_have_text(CJK)  # "My cases"
    for link in nav.all():
        expect(link).to_have_text(CJK)
    expect(page.locator("#h-claim")).to_have_text(CJK)
    consumer.refresh_from_db()
    assert consumer.language == "zh-hans"

    # The merchant, whose profile says zh-hans, gets Chinese from the first page after logging in.
    merchant.language = "zh-hans"
    merchant.save(update_fields=["language"])
    shop = new_page()
    shop.goto("/accounts/login/")
    shop.locator("#id_username").fill(merchant.email)
    shop.locator("#id_password").fill(PASSWORD)
    shop.locator("main form button[type=submit]").click()
    expect(shop.locator("html")).to_have_attribute("lang", "zh-hans")
    shop.goto(f"/cases/{case.pk}/")
    expect(shop.locator("#h-timeline")).to_have_text("时间线")
    assert_no_page_problems(page)


def test_a_user_of_another_case_gets_not_found(new_page, merchant, shots):
    case = filed_case(merchant)
    other = user("consumer", country="FR", time_zone="Europe/Paris")
    filed_case(merchant, other)  # the outsider has a case of its own, with the same merchant
    page = new_page()
    log_in(page, other.email)
    expect(page.get_by_role("row").filter(has_text=case.reference)).to_have_count(0)

    response = page.goto(f"/cases/{case.pk}/")
    assert response.status == 404
    expect(page.locator("body")).to_contain_text(re.compile("not found", re.IGNORECASE))
    expect(page.locator("body")).not_to_contain_text(case.reference)
    expect(page.locator("body")).not_to_contain_text(case.consumer.display_name)
    page.screenshot(path=shots / "not-found.png", full_page=True)
    assert_no_page_problems(page, "404")


def test_draft_saved_then_filed_from_the_case_page(new_page, merchant, shots):
    consumer = user("consumer", country="IT", time_zone="Europe/Rome")
    page = new_page()
    log_in(page, consumer.email)
    fill_complaint(page, description="Wrong colour delivered; I want to add photos before filing.")
    page.locator("main").get_by_role("button", name="Save as draft").click()

    expect(page).to_have_url(CASE_URL)
    reference = reference_of(page)
    expect(page.locator(".messages")).to_have_text(f"Your draft {reference} is saved. File it when you are ready.")
    expect(page.locator("h1 .status")).to_have_text("Draft")
    expect(fact(page, "Filed")).to_have_text("Not yet: draft")
    page.screenshot(path=shots / "case-draft.png", full_page=True)
    assert Case.objects.get(reference=reference).status == "draft"

    # Later: from "My cases", open the draft and file it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My cases").click()
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row.locator("td[data-label='Filed']")).to_have_text("Draft")
    row.get_by_role("link", name=reference).click()
    submit = action_form(page, "submit")
    if not submit.is_visible():
        page.locator("summary", has_text="File the complaint").click()
    submit.get_by_role("button", name="File the complaint").click()

    expect(page.locator(".messages")).to_have_text("Done: File the complaint.")
    expect(page.locator("h1 .status")).to_have_text("Filed")
    expect(page.locator(".timeline")).to_contain_text("Complaint filed")
    case = Case.objects.get(reference=reference)
    assert case.status == "filed" and case.filed_at is not None
    expect(fact(page, "Filed")).to_have_text(local(case.filed_at, "Europe/Rome"))
    page.screenshot(path=shots / "case-draft-filed.png", full_page=True)
    assert_no_page_problems(page)


def tab_to(page, selector: str, limit: int = 60) -> dict:
    """Press Tab until the element matching ``selector`` has the focus; return how it is drawn then."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = page.evaluate(
            """(selector) => {
                const el = document.activeElement;
                const style = getComputedStyle(el);
                return {hit: el.matches(selector), tag: el.tagName.toLowerCase(),
                        text: (el.innerText || el.value || '').trim().slice(0, 40),
                        outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
            }""",
            selector,
        )
        seen.append(f"<{now['tag']}> {now['text']}")
        if now["hit"]:
            return now
    raise AssertionError(f"Tab never reached {selector}; the focus went through {seen}")


def assert_focus_visible(focus: dict) -> None:
    assert focus["outline"] != "none" and focus["width"] > 0, f"no visible focus on {focus}"


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} scrolls sideways at phone width: scrollWidth {width}"


def test_phone_width_and_keyboard(new_page, merchant, shots):
    consumer = user("consumer", country="ES", time_zone="Europe/Madrid")
    case = filed_case(merchant, consumer)
    filed_case(merchant, consumer)

    page = new_page(width=375, height=740)
    log_in(page, consumer.email)
    expect(page.get_by_role("heading", level=1)).to_have_text("My cases")
    no_horizontal_scroll(page)
    page.screenshot(path=shots / "phone-my-cases.png", full_page=True)
    assert_focus_visible(tab_to(page, "main a.button"))  # "File a complaint"

    page.goto(f"/cases/{case.pk}/")
    no_horizontal_scroll(page)
    page.screenshot(path=shots / "phone-case-consumer.png", full_page=True)
    summary = tab_to(page, "main summary")
    assert summary["text"] == "Withdraw the complaint"
    assert_focus_visible(summary)
    if not action_form(page, "withdraw").is_visible():
        page.keyboard.press("Enter")  # opens the action's form
    expect(action_form(page, "withdraw")).to_be_visible()
    assert_focus_visible(tab_to(page, "form[action$='/actions/withdraw/'] button[type=submit]"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="File a complaint").click()
    # the click starts a navigation: measure the new page once it shows, not the one being left
    expect(page.get_by_role("heading", level=1)).to_have_text("File a complaint")
    page.wait_for_load_state()
    no_horizontal_scroll(page)
    page.screenshot(path=shots / "phone-file-form.png", full_page=True)

    shop = new_page(width=375, height=740)
    log_in(shop, merchant.email)
    no_horizontal_scroll(shop)
    shop.screenshot(path=shots / "phone-inbox.png", full_page=True)
    shop.goto(f"/cases/{case.pk}/")
    no_horizontal_scroll(shop)
    assert_focus_visible(tab_to(shop, "form[action$='/actions/respond/'] button[type=submit]"))
    shop.screenshot(path=shots / "phone-case-merchant.png", full_page=True)
    assert_no_page_problems(page)
    assert_no_page_problems(shop)
