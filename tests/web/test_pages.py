"""The web pages through Django's test client: the same policies as the API, forms, escaping, CSRF, CSP,
sessions, log-in limits, time zones, the language switch and the lists of each role.

What is checked is what a person (or an attacker) at the browser would see: status codes, the messages
and fields on the page, and what the case then is.
"""

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from html import unescape
from html.parser import HTMLParser

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client

from accounts import services as accounts
from accounts.models import User
from cases import services
from cases.models import ACTIONS, Case, CaseEvent, ReferenceCounter
from cases.money import Money
from tests.conftest import client_for
from tests.factories import PASSWORD, Cast, case_in, file_case, merchant_colleague, user

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- a small browser: what the HTML offers ------------------------------------------------------
class Page(HTMLParser):
    """The parts of a rendered page the tests look at: forms and their fields, scripts, handlers."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.scripts: list[dict] = []  # {"src": ..., "text": ...}
        self.handlers: list[tuple[str, str]] = []  # (tag, on... attribute)
        self.styles = 0  # <style> elements and style="" attributes
        self._form = None
        self._select = None
        self._textarea = None
        self._script = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.handlers += [(tag, name) for name, _value in attrs if name.startswith("on")]
        if "style" in a or tag == "style":
            self.styles += 1
        if tag == "script":
            self._script = {"src": a.get("src"), "text": ""}
            self.scripts.append(self._script)
        elif tag == "form":
            self._form = {"action": a.get("action"), "method": (a.get("method") or "get").lower(), "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and tag == "input" and a.get("name"):
            if a.get("type") not in ("radio", "checkbox") or "checked" in a:
                self._form["fields"][a["name"]] = a.get("value") or ""
        elif self._form is not None and tag == "select":
            self._select = a.get("name")
            self._form["fields"].setdefault(self._select, None)
        elif self._form is not None and tag == "option" and self._select:
            fields = self._form["fields"]
            if fields[self._select] is None or "selected" in a:
                fields[self._select] = a.get("value", "")
        elif self._form is not None and tag == "textarea":
            self._textarea = a.get("name")
            self._form["fields"][self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data
        if self._script is not None:
            self._script["text"] += data

    def form(self, action_suffix: str) -> dict:
        matches = [f for f in self.forms if (f["action"] or "").endswith(action_suffix)]
        assert len(matches) == 1, f"expected one form posting to …{action_suffix}, found {self.forms}"
        return matches[0]

    def post_forms(self) -> list[dict]:
        return [f for f in self.forms if f["method"] == "post"]


def page_of(response) -> Page:
    return Page(response.content.decode())


def text(response) -> str:
    """The page's visible text, whitespace collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    words = re.sub(r"<[^>]+>", " ", html)
    return " ".join(unescape(words).split())


def web(user=None, **kwargs) -> Client:
    """A browser-like client, signed in as ``user`` when given."""
    client = Client(**kwargs)
    if user is not None:
        client.force_login(user, backend=MODEL_BACKEND)
    return client


def messages_on(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def snapshot(case: Case) -> tuple:
    case.refresh_from_db()
    return (case.status, case.event_count, case.event_head, case.updated_at, case.events.count())


def local(moment, zone: str) -> str:
    at = moment.astimezone(zoneinfo.ZoneInfo(zone))
    offset = at.strftime("%z")
    return f"{at:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def filing_form(merchant_id: int, **overrides) -> dict:
    """A valid POST of the filing form, as the page's fields name it."""
    data = {
        "merchant": str(merchant_id),
        "order_reference": "ORD-5501",
        "order_date": "2026-10-01",
        "order_platform": "MarketPlace",
        "order_product": "Espresso machine",
        "price_amount": "249.00",
        "price_currency": "EUR",
        "category": "defective",
        "remedy": "repair",
        "claim_amount": "249.00",
        "claim_currency": "EUR",
        "description": "The pump stopped after two days.",
        "language": "en",
        "file": "1",
    }
    data.update(overrides)
    return data


def file_with(consumer, merchant, *, category="non_delivery", submit=True) -> Case:
    """A case filed through the services with a chosen category."""
    case, _created = services.case_file(
        consumer=consumer,
        merchant_id=merchant.organisation_id,
        order={
            "reference": "ORD-9",
            "date": dt.date(2026, 9, 1),
            "platform": "",
            "product": "Kettle",
            "price": Money(Decimal("30.00"), "EUR"),
        },
        category=category,
        description="Broken on arrival.",
        remedy="refund",
        claim=Money(Decimal("30.00"), "EUR"),
        language="en",
        submit=submit,
    )
    return case


def references_in(response) -> list[str]:
    return re.findall(r">(ODR-\d{4}-\d{6})</a>", response.content.decode())


@pytest.fixture
def cast(db) -> Cast:
    """Everyone who can touch a case, all reading English (the factories' merchant reads Chinese), so the
    tests can look for the English messages; the Chinese pages are the browser tests' and the switch's."""
    cast = Cast.make()
    for person in vars(cast).values():
        accounts.user_set_language(user=person, language="en")
        person.language = "en"
    return cast


@pytest.fixture
def outsiders(db) -> dict[str, User]:
    """People of every role with no relation to the cast's cases."""
    return {
        "another consumer": user("consumer", country="FR", time_zone="Europe/Paris"),
        "another merchant": user("merchant", country="DE", time_zone="Europe/Berlin"),
        "an unassigned mediator": user("mediator", country="IE", time_zone="Europe/Dublin"),
        "an unassigned arbitrator": user("arbitrator", country="DE", time_zone="Europe/Berlin"),
    }


# --- the same policies as the API ------------------------------------------------------------------
def test_outsiders_get_not_found_for_the_case_page(cast, outsiders):
    case = case_in("arbitration", cast)
    for who, outsider in outsiders.items():
        response = web(outsider).get(f"/cases/{case.pk}/")
        assert response.status_code == 404, who
        assert case.reference not in response.content.decode(), who
    draft = file_case(cast, submit=False)
    for who, insider in {"merchant": cast.merchant, "operator": cast.operator}.items():
        assert web(insider).get(f"/cases/{draft.pk}/").status_code == 404, f"the {who} sees a draft"
    # Someone not signed in is sent to log in, and learns nothing about the case.
    response = web().get(f"/cases/{case.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_outsiders_get_not_found_for_every_action(cast, outsiders):
    case = case_in("filed", cast)
    before = snapshot(case)
    for who, outsider in outsiders.items():
        client = web(outsider)
        for action in ACTIONS:
            response = client.post(f"/cases/{case.pk}/actions/{action}/", {"reason": "x", "position": "accept"})
            assert response.status_code == 404, (who, action, response.status_code)
    assert snapshot(case) == before
    # An action that does not exist, or a case that does not exist, is not found for anyone.
    assert web(cast.consumer).post(f"/cases/{case.pk}/actions/explode/").status_code == 404
    assert web(cast.consumer).post("/cases/00000000-0000-0000-0000-000000000000/actions/withdraw/").status_code == 404
    # Reading an action's address is not a way in either.
    assert web(cast.consumer).get(f"/cases/{case.pk}/actions/withdraw/").status_code == 405


@pytest.mark.parametrize(
    ("state", "who", "action", "data", "message"),
    [
        ("filed", "merchant", "withdraw", {"reason": "no"}, "You are not permitted to do this."),
        ("filed", "consumer", "respond", {"position": "accept", "statement": "x"}, "You are not permitted"),
        ("filed", "operator", "respond", {"position": "accept", "statement": "x"}, "You are not permitted"),
        ("arbitration", "operator", "issue_award", {"decision": "dismissed", "reasons": "x"}, "not permitted"),
        ("arbitration", "mediator", "issue_award", {"decision": "dismissed", "reasons": "x"}, "not permitted"),
        # Not permitted comes before the input is looked at: a nonsense body changes nothing.
        ("filed", "merchant", "withdraw", {"reason": "x" * 20_000}, "You are not permitted"),
        # Permitted, but not in this state.
        ("filed", "consumer", "confirm_compliance", {}, "not allowed"),
        ("negotiation", "merchant", "respond", {"position": "accept", "statement": "x"}, "not allowed"),
    ],
)
def test_refusals_are_shown_and_change_nothing(cast, state, who, action, data, message):
    case = case_in(state, cast)
    before = snapshot(case)
    response = web(getattr(cast, who)).post(f"/cases/{case.pk}/actions/{action}/", data, follow=True)
    assert response.redirect_chain == [(f"/cases/{case.pk}/", 302)]
    assert response.status_code == 200
    shown = messages_on(response)
    assert len(shown) == 1 and message in shown[0], shown
    assert message in text(response)
    assert snapshot(case) == before


def test_state_refusal_speaks_the_users_words(cast):
    """Sent from a page left open while the case moved on, a refused action is named as the page names it,
    and so is the state: no internal codes in what the user reads."""
    case = case_in("filed", cast)
    response = web(cast.consumer).post(f"/cases/{case.pk}/actions/confirm_compliance/", follow=True)
    [message] = messages_on(response)
    assert "confirm_compliance" not in message, message
    assert "“filed”" not in message, message


def test_a_merchant_cannot_open_the_filing_form(cast):
    response = web(cast.merchant).post("/cases/new/", filing_form(cast.merchant.organisation_id), follow=True)
    assert "Only consumers can file complaints." in text(response)
    assert Case.objects.count() == 0


def test_page_buttons_are_the_apis_allowed_actions(cast):
    """Every role sees exactly the action forms the API lists in ``allowed_actions``, and 404 where it does."""
    roles = ("consumer", "merchant", "mediator", "arbitrator", "operator")
    for state in ("draft", "filed", "jurisdiction", "mediation", "arbitration", "compliance"):
        case = case_in(state, cast)
        for role in roles:
            person = getattr(cast, role)
            api = client_for(person).get(f"/api/v1/cases/{case.pk}/")
            page = web(person).get(f"/cases/{case.pk}/")
            assert page.status_code == api.status_code, (state, role)
            if api.status_code != 200:
                continue
            on_page = [
                f["action"].rstrip("/").rsplit("/", 1)[-1]
                for f in page_of(page).post_forms()
                if "/actions/" in (f["action"] or "")
            ]
            assert on_page == api.json()["allowed_actions"], (state, role)


def test_the_arbitrator_sees_why_the_award_must_wait_then_the_form(cast):
    from arbitration.services import submission_file

    case = case_in("arbitration", cast)
    page = web(cast.arbitrator).get(f"/cases/{case.pk}/")
    assert "/actions/issue_award/" not in [f["action"] for f in page_of(page).post_forms()]
    assert "Issue the award : The parties’ time for submissions is still running" in text(page).replace("'", "’")
    for party in (cast.consumer, cast.merchant):  # both heard: the form, and no reason to wait
        submission_file(actor=party, case_id=case.pk, statement="My side.", evidence_ids=[])
    page = web(cast.arbitrator).get(f"/cases/{case.pk}/")
    assert page_of(page).form("/actions/issue_award/")
    assert "still running" not in text(page)
    # Nobody else is told the arbitrator's reasons to wait.
    waiting = case_in("arbitration", cast)
    for other in (cast.consumer, cast.merchant, cast.operator, cast.mediator):
        assert "still running" not in text(web(other).get(f"/cases/{waiting.pk}/")), other


# --- actions through the page's forms ---------------------------------------------------------------
def test_consumer_withdraws_through_the_page_form(cast):
    case = case_in("filed", cast)
    client = web(cast.consumer, enforce_csrf_checks=True)
    form = page_of(client.get(f"/cases/{case.pk}/")).form("/actions/withdraw/")
    assert set(form["fields"]) == {"csrfmiddlewaretoken", "reason"}
    form["fields"]["reason"] = "The parcel turned up at a neighbour's."
    response = client.post(form["action"], form["fields"], follow=True)

    assert response.redirect_chain == [(f"/cases/{case.pk}/", 302)]
    assert messages_on(response) == ["Done: Withdraw the complaint."]
    case.refresh_from_db()
    assert case.status == "withdrawn" and case.closed_at is not None
    event = case.events.order_by("-seq").first()
    assert (event.type, event.actor) == ("withdraw", cast.consumer)
    assert event.payload["reason"] == "The parcel turned up at a neighbour's."
    page = text(response)
    assert "Withdrawn" in page and "Complaint withdrawn" in page and "The parcel turned up at a neighbour" in page


def test_merchant_offers_through_the_page_form(cast):
    case = case_in("filed", cast)
    client = web(cast.merchant, enforce_csrf_checks=True)
    form = page_of(client.get(f"/cases/{case.pk}/")).form("/actions/respond/")
    assert {"position", "statement", "offer.amount", "offer.currency"} <= set(form["fields"])
    form["fields"].update({"position": "offer", "statement": "Half back.", "offer.amount": "45.00"})
    response = client.post(form["action"], form["fields"])
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.response_position, case.open_offer_party) == ("jurisdiction", "offer", "merchant")
    event = case.events.get(type="respond")
    assert event.actor == cast.merchant
    assert (event.payload["offer"]["amount"], event.payload["offer"]["currency"]) == ("45.00", "EUR")


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"position": "offer", "statement": "Half back."}, "offer", "An offer needs an amount."),
        ({"position": "contest"}, "statement", "This field is required."),
        ({"position": "offer", "statement": "Half back.", "offer.amount": "1.001"}, "offer", None),
        ({"position": "shrug", "statement": "Meh."}, "position", "is not a valid choice"),
    ],
)
def test_action_form_errors_are_shown_with_400_and_nothing_written(cast, data, field, error):
    case = case_in("filed", cast)
    before = snapshot(case)
    response = web(cast.merchant).post(f"/cases/{case.pk}/actions/respond/", data)
    assert response.status_code == 400
    assert "Please correct the errors below." in messages_on(response)
    html = response.content.decode()
    errors = re.search(rf'<ul class="errorlist" id="respond-{field}-errors">(.*?)</ul>', html, re.S)
    assert errors, f"no error shown on the {field} field"
    if error:
        assert error in errors.group(1)
    # The form is open again with what was typed.
    assert re.search(r"<details\s+open>\s*<summary>Respond to the complaint</summary>", html)
    if data.get("statement"):
        assert f">{data['statement']}</textarea>" in html
    assert snapshot(case) == before


def test_filing_form_shows_the_amount_error_and_writes_nothing(cast):
    client = web(cast.consumer)
    response = client.post("/cases/new/", filing_form(cast.merchant.organisation_id, claim_amount="1.001"))
    html = response.content.decode()
    claim_error = re.search(r'<ul class="errorlist" id="id_claim_amount_error">(.*?)</ul>', html, re.S)
    assert claim_error, "no error shown on the amount claimed"
    assert claim_error.group(1).strip()
    assert re.search(r'<input[^>]*name="claim_amount"[^>]*aria-invalid="true"', html)
    assert 'id="id_price_amount_error"' not in html
    # What was typed is still there.
    assert 'value="1.001"' in html and "The pump stopped after two days." in html
    assert Case.objects.count() == 0 and CaseEvent.objects.count() == 0
    assert ReferenceCounter.objects.count() == 0


def test_filing_form_files_and_saves_drafts(cast):
    client = web(cast.consumer)
    response = client.post("/cases/new/", filing_form(cast.merchant.organisation_id))
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.pk}/"
    assert (case.status, case.category, case.remedy, case.claim_amount) == ("filed", "defective", "repair", 249)
    draft_data = filing_form(cast.merchant.organisation_id, save_draft="1")
    del draft_data["file"]
    client.post("/cases/new/", draft_data)
    assert Case.objects.filter(status="draft").count() == 1


# --- pages escape what users wrote -----------------------------------------------------------------
def test_pages_show_user_text_as_text(cast):
    evil = "<script>alert(1)</script>"
    signup = web().post(
        "/accounts/signup/",
        {
            "role": "consumer",
            "email": "mallory@example.test",
            "password": PASSWORD,
            "display_name": "<script>alert(2)</script>",
            "country": "ES",
            "time_zone": "Europe/Madrid",
            "language": "en",
        },
    )
    assert signup.status_code == 302
    mallory = User.objects.get(email="mallory@example.test")
    consumer = web(mallory)
    consumer.post(
        "/cases/new/",
        filing_form(cast.merchant.organisation_id, description=evil, order_product='<img src=x onerror="alert(3)">'),
    )
    case = Case.objects.get()
    assert case.description == evil  # stored as written
    web(cast.merchant).post(
        f"/cases/{case.pk}/actions/respond/", {"position": "contest", "statement": "<script>alert(4)</script>"}
    )
    pages = {
        "consumer's case page": consumer.get(f"/cases/{case.pk}/"),
        "merchant's case page": web(cast.merchant).get(f"/cases/{case.pk}/"),
        "merchant's inbox": web(cast.merchant).get("/cases/"),
        "operator's list": web(cast.operator).get("/cases/"),
        "consumer's list": consumer.get("/cases/"),
    }
    for name, response in pages.items():
        html = response.content.decode()
        assert response.status_code == 200, name
        assert "<script>alert" not in html, name
        assert "<img src=x" not in html, name
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html, name  # the consumer's name
        # Only the site's own script files, none inline: htmx, the live-notice listener and, on a case
        # page, the evidence uploader.
        expected = [
            {"src": "/static/django_htmx/htmx-2.min.js", "text": ""},
            {"src": "/static/js/notifications.js", "text": ""},
        ]
        if "case page" in name:
            expected += [{"src": "/static/js/evidence.js", "text": ""}, {"src": "/static/js/chat.js", "text": ""}]
        assert Page(html).scripts == expected, name
    case_page = pages["consumer's case page"].content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in case_page
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in case_page
    assert "&lt;img src=x onerror=&quot;alert(3)&quot;&gt;" in case_page


# --- CSRF, CSP, inline scripts ---------------------------------------------------------------------
def pages_of_everyone(cast) -> dict[str, tuple[User | None, str]]:
    case = case_in("filed", cast)
    return {
        "home": (None, "/"),
        "log-in": (None, "/accounts/login/"),
        "sign-up": (None, "/accounts/signup/"),
        "password reset": (None, "/accounts/password-reset/"),
        "profile": (cast.consumer, "/accounts/profile/"),
        "case list": (cast.consumer, "/cases/"),
        "operator's list": (cast.operator, "/cases/"),
        "case page (consumer)": (cast.consumer, f"/cases/{case.pk}/"),
        "case page (merchant)": (cast.merchant, f"/cases/{case.pk}/"),
        "case page (operator)": (cast.operator, f"/cases/{case.pk}/"),
        "file form": (cast.consumer, "/cases/new/"),
    }


def test_every_form_carries_a_csrf_token_and_posts_without_it_are_refused(cast):
    checked = set()
    for name, (person, url) in pages_of_everyone(cast).items():
        client = web(person, enforce_csrf_checks=True)
        response = client.get(url)
        assert response.status_code == 200, name
        forms = page_of(response).post_forms()
        assert forms, f"{name} has no form"
        for form in forms:
            assert form["fields"].get("csrfmiddlewaretoken"), f"a form of {name} has no CSRF token: {form}"
            action = form["action"] or url
            if (person, action) in checked:
                continue
            checked.add((person, action))
            data = {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken" and v is not None}
            refused = client.post(action, data)
            assert refused.status_code == 403, (name, action, refused.status_code)
    assert len(checked) >= 12
    # Log-out is a form too: without the token the session survives.
    client = web(cast.consumer, enforce_csrf_checks=True)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/cases/").status_code == 200
    case = Case.objects.first()
    assert snapshot(case)[0] == "filed"


def csp_of(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def test_content_security_policy_forbids_inline_scripts(cast):
    pages = pages_of_everyone(cast)
    pages["not found"] = (cast.consumer, "/cases/00000000-0000-0000-0000-000000000000/")
    for name, (person, url) in pages.items():
        response = web(person).get(url)
        policy = csp_of(response)
        script_src = policy.get("script-src") or policy.get("default-src")
        assert script_src is not None, name
        assert "'self'" in script_src, (name, script_src)
        assert "'unsafe-inline'" not in script_src, (name, script_src)
        assert not any(s.startswith("'nonce-") or s == "*" for s in script_src), (name, script_src)
        assert policy.get("object-src") == ["'none'"], name


def test_no_page_has_inline_script(cast):
    for name, (person, url) in pages_of_everyone(cast).items():
        page = page_of(web(person).get(url))
        inline = [s for s in page.scripts if not s["src"]]
        assert inline == [], f"{name} has an inline <script>: {inline}"
        assert all(s["src"].startswith("/static/") for s in page.scripts), (name, page.scripts)
        assert page.handlers == [], f"{name} has inline event handlers (blocked by the CSP): {page.handlers}"
        assert page.styles == 0, f"{name} has inline styles (blocked by the CSP's style-src 'self')"


# --- sessions --------------------------------------------------------------------------------------
def test_session_is_renewed_at_log_in_and_ended_at_log_out():
    person = user("consumer")
    client = Client()
    before = client.session  # an anonymous session, as a visitor might carry
    before["seen"] = True
    before.save()
    anonymous_key = before.session_key
    client.cookies[settings.SESSION_COOKIE_NAME] = anonymous_key

    response = client.post("/accounts/login/", {"username": person.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    signed_in_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in_key and signed_in_key != anonymous_key
    assert not Session.objects.filter(session_key=anonymous_key).exists()
    assert client.get("/cases/").status_code == 200
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=signed_in_key).exists()
    assert client.get("/cases/").status_code == 302  # back to log-in
    # The old cookie, replayed, is worth nothing.
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = signed_in_key
    assert replay.get("/cases/").status_code == 302


# --- log-in limits (django-axes) ---------------------------------------------------------------
LOCKED = "Too many failed log-in attempts. Try again later or reset your password."


def log_in(client, email, password, address):
    return client.post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


def test_an_account_is_locked_after_too_many_failures():
    victim = user("consumer")
    bystander = user("consumer")
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        response = log_in(client, victim.email, f"wrong-{n}", f"198.51.100.{n + 1}")
        assert response.status_code == 200 and "Please enter a correct" in text(response)
    log_in(client, victim.email, "wrong-last", "198.51.100.99")

    # The next log-in, right password and from a fresh address, is refused.
    response = log_in(Client(), victim.email, PASSWORD, "203.0.113.50")
    assert response.status_code == 429
    assert LOCKED in text(response)
    assert "_auth_user_id" not in Client().session
    # So is the API's token endpoint, in the API's error shape.
    response = Client().post(
        "/api/v1/auth/token/",
        {"email": victim.email, "password": PASSWORD},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.51",
    )
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "too_many_login_attempts"
    assert body["error"]["message"] == LOCKED
    # Other accounts are not locked.
    assert log_in(Client(), bystander.email, PASSWORD, "203.0.113.52").status_code == 302


def test_an_address_is_locked_after_too_many_failures():
    person = user("consumer")
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), f"guess{n}@example.test", "wrong", "198.51.100.7")
    assert log_in(Client(), person.email, PASSWORD, "198.51.100.7").status_code == 429
    assert log_in(Client(), person.email, PASSWORD, "198.51.100.8").status_code == 302


def test_address_limit_without_proxy_ignores_forwarded_for():
    """With no reverse proxy configured, a client's own X-Forwarded-For must not give it fresh addresses."""
    person = user("consumer")
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            "/accounts/login/",
            {"username": f"guess{n}@example.test", "password": "wrong"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n + 1}",
        )
    response = Client().post(
        "/accounts/login/",
        {"username": person.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.7",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert response.status_code == 429


def test_address_limit_behind_a_reverse_proxy(settings):
    """Behind one proxy (ODR_NUM_PROXIES=1), clients are told apart by X-Forwarded-For, not the proxy's address."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # what ODR_NUM_PROXIES=1 sets
    person = user("consumer")
    proxy = "10.0.0.1"
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            "/accounts/login/",
            {"username": f"guess{n}@example.test", "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR="203.0.113.66",
        )
    honest = Client().post(
        "/accounts/login/",
        {"username": person.email, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    assert honest.status_code == 302, "one client's failures locked out everyone behind the proxy"
    attacker = Client().post(
        "/accounts/login/",
        {"username": person.email, "password": PASSWORD},
        REMOTE_ADDR=proxy,
        HTTP_X_FORWARDED_FOR="203.0.113.66",
    )
    assert attacker.status_code == 429


# --- time zones: the API in UTC, the pages in the viewer's zone -------------------------------------
def test_api_answers_in_utc_while_the_page_shows_the_viewers_zone(cast):
    assert cast.merchant.time_zone == "Asia/Shanghai"
    case = case_in("jurisdiction", cast)
    client = web(cast.merchant)
    body = client.get(f"/api/v1/cases/{case.pk}/").json()
    for name in ("filed_at", "created_at", "updated_at"):
        assert body[name].endswith("Z"), (name, body[name])
    assert dt.datetime.fromisoformat(body["filed_at"]) == case.filed_at
    assert body["created_at_local"].endswith("+08:00")
    events = client.get(f"/api/v1/cases/{case.pk}/events/").json()["results"]
    assert all(e["at"].endswith("Z") and e["at_local"].endswith("+08:00") for e in events)

    page = client.get(f"/cases/{case.pk}/")
    shown = text(page)
    assert f"Filed {local(case.filed_at, 'Asia/Shanghai')}" in shown
    assert "(UTC+08:00)" in shown and "(UTC)" not in shown
    # The consumer in Madrid sees the same moment in Madrid time.
    assert f"Filed {local(case.filed_at, 'Europe/Madrid')}" in text(web(cast.consumer).get(f"/cases/{case.pk}/"))


# --- languages -----------------------------------------------------------------------------------
def test_language_switch_is_remembered_on_the_profile(cast):
    consumer = cast.consumer
    assert consumer.language == "en"
    client = web(consumer, enforce_csrf_checks=True)
    form = page_of(client.get("/cases/")).form("/accounts/language/")
    assert form["fields"]["next"] == "/cases/"
    form["fields"]["language"] = "zh-hans"
    response = client.post(form["action"], form["fields"])
    assert response.status_code == 302 and response["Location"] == "/cases/"
    consumer.refresh_from_db()
    assert consumer.language == "zh-hans"
    assert response.cookies["django_language"].value == "zh-hans"
    page = client.get("/cases/")
    assert '<html lang="zh-hans">' in page.content.decode()
    # Remembered on the profile, not only in this browser: a new browser gets it at log-in.
    fresh = Client()
    fresh.post("/accounts/login/", {"username": consumer.email, "password": PASSWORD})
    assert '<html lang="zh-hans">' in fresh.get("/cases/").content.decode()
    # Back to English; an unknown language changes nothing; the redirect stays on this site.
    client = web(consumer)
    client.post("/accounts/language/", {"language": "en", "next": "/cases/"})
    consumer.refresh_from_db()
    assert consumer.language == "en"
    client.post("/accounts/language/", {"language": "xx", "next": "/cases/"})
    consumer.refresh_from_db()
    assert consumer.language == "en"
    response = client.post("/accounts/language/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_not_found_page_is_the_sites_page_in_the_users_language(cast):
    """A 404 is still a page of the site: its header, navigation and the user's language."""
    cast.consumer.language = "zh-hans"
    cast.consumer.save(update_fields=["language"])
    response = web(cast.consumer).get("/cases/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="zh-hans">' in html
    assert 'href="/cases/"' in html  # the site's navigation is there to go on from


# --- the lists of each role ------------------------------------------------------------------------
def at(when: str):
    return time_machine.travel(dt.datetime.fromisoformat(when), tick=False)


def test_operator_filters_by_status_category_country_and_dates(cast):
    operator = user("operator", country="IE", time_zone="Asia/Shanghai")
    french = user("consumer", country="FR", time_zone="Europe/Paris")
    german_shop = user("merchant", country="DE", time_zone="Europe/Berlin")
    with at("2026-09-10T12:00:00+00:00"):
        september = file_with(cast.consumer, cast.merchant, category="non_delivery")
    with at("2026-10-31T23:30:00+00:00"):  # 1 November 07:30 in Shanghai
        halloween = file_with(french, german_shop, category="defective")
    with at("2026-11-20T09:00:00+00:00"):
        november = file_with(french, cast.merchant, category="counterfeit")
        services.case_withdraw(actor=french, case_id=november.pk, reason="")
        file_with(cast.consumer, cast.merchant, submit=False)  # a draft: never listed for the operator
    everything = [november.reference, halloween.reference, september.reference]

    client = web(operator)
    response = client.get("/cases/")
    assert response.status_code == 200 and "All cases" in text(response)
    assert references_in(response) == everything

    def shown(**query):
        response = client.get("/cases/", query)
        assert response.status_code == 200
        return references_in(response)

    assert shown(status="withdrawn") == [november.reference]
    assert shown(status="filed") == [halloween.reference, september.reference]
    assert shown(category="defective") == [halloween.reference]
    assert shown(country="FR") == [november.reference, halloween.reference]  # the consumer's country
    assert shown(country="DE") == [halloween.reference]  # the merchant's country
    assert shown(country="CN") == [november.reference, september.reference]
    assert shown(created_from="2026-11-01") == [november.reference, halloween.reference]  # Shanghai dates
    assert shown(created_to="2026-10-31") == [september.reference]
    assert shown(created_from="2026-09-01", created_to="2026-09-30") == [september.reference]
    assert shown(status="filed", country="CN", category="non_delivery") == [september.reference]
    assert shown(status="settled") == []
    # A filter the form cannot read is shown as an error, not a crash.
    assert client.get("/cases/", {"created_from": "not-a-date"}).status_code == 200


def test_operator_filters_dates_by_the_filing_date_the_list_shows(cast):
    """The filters are labelled "Filed from/to" and the list's column is "Filed": a draft written in
    September and filed in November is found by "Filed from 1 November"."""
    with at("2026-09-10T12:00:00+00:00"):
        late = file_with(cast.consumer, cast.merchant, submit=False)
    with at("2026-11-20T09:00:00+00:00"):
        services.case_submit(actor=cast.consumer, case_id=late.pk)
    client = web(cast.operator)
    listed = client.get("/cases/")
    assert "Filed from" in text(listed) and "2026-11-20" in text(listed)
    assert references_in(client.get("/cases/", {"created_from": "2026-11-01"})) == [late.reference]
    assert references_in(client.get("/cases/", {"created_to": "2026-09-30"})) == []


def test_merchant_inbox_lists_its_organisations_cases_nearest_deadline_first(cast):
    """Only the organisation's cases, drafts left out; those with a running deadline first, the soonest
    due first; then the ones nobody waits for, newest first (issue 3, sorted by deadline since issue 4)."""
    other = Cast.make()
    portuguese = user("consumer", country="PT", time_zone="Europe/Lisbon")
    with at("2026-11-02T08:00:00+00:00"):
        answered_late = file_case(cast)  # the merchant's response is due first
    with at("2026-11-03T08:00:00+00:00"):
        file_case(other)  # another organisation's case
        rejected = case_in("rejected", cast)  # nothing running
    with at("2026-11-05T08:00:00+00:00"):
        answered_soon = file_with(portuguese, cast.merchant)  # the response is due later
    with at("2026-11-07T08:00:00+00:00"):
        withdrawn = case_in("withdrawn", cast)  # nothing running, the newest
        file_case(cast, submit=False)  # a draft is the consumer's alone
    expected = [answered_late.reference, answered_soon.reference, withdrawn.reference, rejected.reference]
    for person in (cast.merchant, merchant_colleague(cast.merchant)):
        response = web(person).get("/cases/")
        assert "Inbox" in text(response)
        assert references_in(response) == expected
    assert references_in(web(other.merchant).get("/cases/")) == [Case.objects.get(consumer=other.consumer).reference]


def test_neutrals_list_only_their_assigned_cases(cast):
    other = Cast.make()
    mine = case_in("mediation", cast)
    case_in("mediation", other)  # another mediator's
    case_in("filed", cast)  # not assigned yet
    response = web(cast.mediator).get("/cases/")
    assert "My assigned cases" in text(response)
    assert references_in(response) == [mine.reference]
    assert references_in(web(user("mediator")).get("/cases/")) == []

    arbitrated = case_in("arbitration", cast)
    assert references_in(web(cast.arbitrator).get("/cases/")) == [arbitrated.reference]
    assert references_in(web(cast.mediator).get("/cases/")) == [arbitrated.reference, mine.reference]


def test_consumer_lists_only_own_cases_including_drafts(cast):
    draft = file_case(cast, submit=False)
    filed = file_case(cast)
    file_case(Cast.make())
    assert sorted(references_in(web(cast.consumer).get("/cases/"))) == sorted([draft.reference, filed.reference])
