"""Sanctions on merchants that do not comply: the ladder, the grounds, who is told, lifting, and the
operator's pages (the merchant list and record, with the apply and lift forms)."""

import re

from accounts.models import Role
from cases import services
from cases.models import CaseEvent
from notifications.models import Delivery, Notification
from notifications.services import webhook_create
from oversight.models import Sanction
from tests.conftest import client_for
from tests.factories import Cast, case_in, merchant_colleague, user


def sanctions_url(merchant_id) -> str:
    return f"/api/v1/merchants/{merchant_id}/sanctions/"


def apply(who, merchant_id, **body):
    return client_for(who).post(sanctions_url(merchant_id), body, format="json")


def lift(who, merchant_id, sanction_id, reason="The merchant has paid every consumer."):
    return client_for(who).post(f"{sanctions_url(merchant_id)}{sanction_id}/lift/", {"reason": reason}, format="json")


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


def applied(response) -> dict:
    assert response.status_code == 201, response.content
    return response.json()


def shop(cast) -> int:
    return cast.merchant.organisation_id


def sanction_events(case, type_="sanction_applied"):
    return list(CaseEvent.objects.filter(case=case, type=type_).order_by("seq"))


# --- applying through the API -------------------------------------------------------------------
def test_only_operators_apply_sanctions(cast):
    case_in("non_compliant", cast)
    colleague = merchant_colleague(cast.merchant)

    for who in (cast.merchant, colleague, cast.consumer, cast.mediator, cast.arbitrator, user(Role.MERCHANT)):
        assert_error(apply(who, shop(cast), reason="Did not pay."), 403, "forbidden")
    assert client_for(None).post(sanctions_url(shop(cast)), {"reason": "x"}, format="json").status_code == 401
    assert not Sanction.objects.exists()

    body = applied(apply(cast.operator, shop(cast), reason="Did not pay."))
    assert body["merchant"] == shop(cast) and body["active"] is True


def test_without_a_level_each_sanction_is_the_next_step_up_the_ladder(cast):
    case_in("non_compliant", cast)

    levels = [applied(apply(cast.operator, shop(cast), reason=f"Step {n}."))["level"] for n in (1, 2, 3)]

    assert levels == ["warning", "listing_suspended", "store_closed"]
    error = assert_error(apply(cast.operator, shop(cast), reason="Once more."), 409, "invalid_state")
    assert error["message"]
    assert Sanction.objects.filter(merchant_id=shop(cast)).count() == 3


def test_a_named_level_must_be_above_the_current_one(cast):
    case_in("non_compliant", cast)
    applied(apply(cast.operator, shop(cast), level="warning", reason="First notice."))

    assert_error(apply(cast.operator, shop(cast), level="warning", reason="Again."), 409, "invalid_state")
    # The operator may skip a step...
    assert applied(apply(cast.operator, shop(cast), level="store_closed", reason="Fraud."))["level"] == "store_closed"
    # ...but never go down while the higher one is active.
    assert_error(apply(cast.operator, shop(cast), level="listing_suspended", reason="Less."), 409, "invalid_state")
    assert_error(apply(cast.operator, shop(cast), reason="Next."), 409, "invalid_state")  # at the top
    error = assert_error(apply(cast.operator, shop(cast), level="banished", reason="x"), 400, "invalid")
    assert "level" in error["fields"]
    assert sorted(Sanction.objects.values_list("level", flat=True)) == ["store_closed", "warning"]


def test_without_cases_the_grounds_are_the_merchants_non_compliant_cases(cast):
    late_one = case_in("non_compliant", cast)
    late_two = case_in("non_compliant", cast)
    closed = case_in("closed", cast)
    reported = case_in("compliance", cast)
    elsewhere = case_in("non_compliant", Cast.make())  # another merchant's

    body = applied(apply(cast.operator, shop(cast), reason="Two awards unpaid."))

    assert sorted(c["id"] for c in body["cases"]) == sorted([str(late_one.pk), str(late_two.pk)])
    assert {c["reference"] for c in body["cases"]} == {late_one.reference, late_two.reference}
    for case in (late_one, late_two):
        [event] = sanction_events(case)
        assert event.actor_id == cast.operator.pk
        assert event.payload["level"] == "warning"
        assert event.payload["previous"] is None
        assert event.payload["reason"] == "Two awards unpaid."
        assert event.payload["sanction"] == body["id"]
    for case in (closed, reported, elsewhere):
        assert sanction_events(case) == []

    second = applied(apply(cast.operator, shop(cast), reason="Still unpaid."))
    [_, event] = sanction_events(late_one)
    assert event.payload["level"] == "listing_suspended" and event.payload["previous"] == "warning"
    assert event.payload["sanction"] == second["id"]


def test_the_grounds_must_exist_and_be_the_merchants_own_cases(cast):
    closed = case_in("closed", cast)
    others = Cast.make()
    theirs = case_in("non_compliant", others)

    # Nothing non-compliant and no case named: refused on the cases field.
    error = assert_error(apply(cast.operator, shop(cast), reason="Bad shop."), 400, "invalid")
    assert "cases" in error["fields"]
    # Another merchant's case is no ground against this one.
    error = assert_error(apply(cast.operator, shop(cast), reason="Bad shop.", cases=[str(theirs.pk)]), 400, "invalid")
    assert "cases" in error["fields"]
    error = assert_error(
        apply(cast.operator, shop(cast), reason="Bad shop.", cases=[str(closed.pk), str(theirs.pk)]), 400, "invalid"
    )
    assert "cases" in error["fields"]
    error = assert_error(apply(cast.operator, shop(cast), cases=[str(closed.pk)]), 400, "invalid")
    assert "reason" in error["fields"]
    assert not Sanction.objects.exists()
    assert sanction_events(closed) == [] and sanction_events(theirs) == []

    assert_error(apply(cast.operator, 999_999, reason="Nobody."), 404, "not_found")

    # The operator may name the cases the sanction answers.
    body = applied(apply(cast.operator, shop(cast), reason="Paid three months late.", cases=[str(closed.pk)]))
    assert [c["id"] for c in body["cases"]] == [str(closed.pk)]
    assert len(sanction_events(closed)) == 1


def test_the_merchants_users_and_its_platform_hear_of_a_sanction_and_the_consumer_does_not(cast, settings):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True  # nothing is sent: no commit in this test
    colleague = merchant_colleague(cast.merchant)
    endpoint = webhook_create(user=cast.merchant, url="https://hooks.shop.example/odr", events=[])
    other_shop = Cast.make()
    other_endpoint = webhook_create(user=other_shop.merchant, url="https://hooks.other.example/odr", events=[])
    case = case_in("non_compliant", cast)

    body = applied(apply(cast.operator, shop(cast), reason="Award unpaid."))

    [event] = sanction_events(case)
    told = set(Notification.objects.filter(event=event).values_list("user_id", flat=True))
    assert told == {cast.merchant.pk, colleague.pk}
    assert not Notification.objects.filter(user=cast.consumer, type="sanction_applied").exists()
    assert not Notification.objects.filter(user=cast.operator, type="sanction_applied").exists()
    webhooks = Delivery.objects.filter(event=event, channel="webhook")
    assert [d.endpoint_id for d in webhooks] == [endpoint.pk]
    assert other_endpoint.pk not in {d.endpoint_id for d in Delivery.objects.filter(channel="webhook")}
    emails = Delivery.objects.filter(event=event, channel="email")
    assert {d.notification.user_id for d in emails} == {cast.merchant.pk, colleague.pk}

    # Lifting is told the same way.
    lifted = lift(cast.operator, shop(cast), body["id"])
    assert lifted.status_code == 200, lifted.content
    [lift_event] = sanction_events(case, "sanction_lifted")
    told = set(Notification.objects.filter(event=lift_event).values_list("user_id", flat=True))
    assert told == {cast.merchant.pk, colleague.pk}
    assert [d.endpoint_id for d in Delivery.objects.filter(event=lift_event, channel="webhook")] == [endpoint.pk]


def test_a_merchants_platform_that_chose_other_events_gets_no_sanction_webhook(cast, settings):
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True
    webhook_create(user=cast.merchant, url="https://hooks.shop.example/answers", events=["respond"])
    wanted = webhook_create(user=cast.merchant, url="https://hooks.shop.example/sanctions", events=["sanction_applied"])
    case = case_in("non_compliant", cast)

    applied(apply(cast.operator, shop(cast), reason="Award unpaid."))

    [event] = sanction_events(case)
    assert [d.endpoint_id for d in Delivery.objects.filter(event=event, channel="webhook")] == [wanted.pk]


# --- reading and lifting ------------------------------------------------------------------------
def test_sanctions_are_read_by_the_operator_and_the_merchants_own_users_only(cast):
    case_in("non_compliant", cast)
    colleague = merchant_colleague(cast.merchant)
    first = applied(apply(cast.operator, shop(cast), reason="First."))
    second = applied(apply(cast.operator, shop(cast), reason="Second."))

    for reader in (cast.operator, cast.merchant, colleague):
        response = client_for(reader).get(sanctions_url(shop(cast)))
        assert response.status_code == 200, response.content
        listed = response.json()
        assert {s["id"] for s in listed} == {first["id"], second["id"]}
        assert {s["level"] for s in listed} == {"warning", "listing_suspended"}
        assert all(s["active"] for s in listed)

    for outsider in (cast.consumer, cast.mediator, cast.arbitrator, Cast.make().merchant):
        assert_error(client_for(outsider).get(sanctions_url(shop(cast))), 404, "not_found")
    assert_error(client_for(cast.operator).get(sanctions_url(999_999)), 404, "not_found")


def test_a_sanction_is_lifted_once_by_an_operator(cast):
    case = case_in("non_compliant", cast)
    sanction = applied(apply(cast.operator, shop(cast), reason="Unpaid."))
    other = Cast.make()

    assert_error(lift(cast.merchant, shop(cast), sanction["id"]), 403, "forbidden")
    assert_error(lift(cast.consumer, shop(cast), sanction["id"]), 403, "forbidden")
    assert_error(lift(cast.operator, other.merchant.organisation_id, sanction["id"]), 404, "not_found")
    assert_error(lift(cast.operator, shop(cast), 999_999), 404, "not_found")
    error = assert_error(
        client_for(cast.operator).post(f"{sanctions_url(shop(cast))}{sanction['id']}/lift/", {}, format="json"),
        400,
        "invalid",
    )
    assert "reason" in error["fields"]
    assert Sanction.objects.get(pk=sanction["id"]).lifted_at is None

    response = lift(cast.operator, shop(cast), sanction["id"], reason="Paid in full.")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["active"] is False
    assert body["lifted_at"] is not None
    assert body["lift_reason"] == "Paid in full."
    [event] = sanction_events(case, "sanction_lifted")
    assert event.actor_id == cast.operator.pk
    assert event.payload["reason"] == "Paid in full." and event.payload["level"] == "warning"
    assert_error(lift(cast.operator, shop(cast), sanction["id"]), 409, "invalid_state")
    assert len(sanction_events(case, "sanction_lifted")) == 1
    # The record keeps the lifted sanction.
    [listed] = client_for(cast.merchant).get(sanctions_url(shop(cast))).json()
    assert listed["id"] == sanction["id"] and listed["active"] is False


def test_after_lifting_the_ladder_restarts_from_the_highest_remaining_active_sanction(cast):
    case_in("non_compliant", cast)
    warning = applied(apply(cast.operator, shop(cast), reason="One."))
    suspended = applied(apply(cast.operator, shop(cast), reason="Two."))
    assert (warning["level"], suspended["level"]) == ("warning", "listing_suspended")

    assert lift(cast.operator, shop(cast), suspended["id"]).status_code == 200
    # The warning still stands: the next step is a suspension again, and a warning is not above it.
    assert_error(apply(cast.operator, shop(cast), level="warning", reason="x"), 409, "invalid_state")
    again = applied(apply(cast.operator, shop(cast), reason="Three."))
    assert again["level"] == "listing_suspended"

    assert lift(cast.operator, shop(cast), again["id"]).status_code == 200
    assert lift(cast.operator, shop(cast), warning["id"]).status_code == 200
    # Nothing active: the ladder starts at the bottom.
    assert applied(apply(cast.operator, shop(cast), reason="Four."))["level"] == "warning"


# --- the operator's pages -----------------------------------------------------------------------
def page_text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def merchant_row(html: str, legal_name: str) -> dict:
    """The cells of the merchant list's row for ``legal_name``."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
        if f">{legal_name}</a>" in row:
            cells = re.findall(r'<td data-label="([^"]+)">(.*?)</td>', row, flags=re.S)
            return {label: re.sub(r"<[^>]+>", "", value).strip() for label, value in cells}
    raise AssertionError(f"{legal_name} is not listed")


def level_options(html: str) -> list[str]:
    select = re.search(r'<select id="level" name="level">(.*?)</select>', html, flags=re.S)
    return re.findall(r'<option value="([^"]+)"', select.group(1)) if select else []


def test_the_operator_pages_need_a_log_in_and_are_for_operators_only(cast, client):
    case_in("non_compliant", cast)
    merchant_id = shop(cast)
    pages = ["/oversight/merchants/", f"/oversight/merchants/{merchant_id}/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url

    for who in (cast.consumer, cast.merchant, cast.mediator, cast.arbitrator):
        client.force_login(who)
        for url in pages:
            assert client.get(url).status_code == 404, (who.role, url)
        response = client.post(f"/oversight/merchants/{merchant_id}/sanctions/", {"level": "warning", "reason": "x"})
        assert response.status_code == 404, who.role
    assert not Sanction.objects.exists()

    client.force_login(cast.operator)
    assert client.get("/oversight/merchants/").status_code == 200
    assert client.get(f"/oversight/merchants/{merchant_id}/").status_code == 200
    assert client.get("/oversight/merchants/999999/").status_code == 404


def test_the_merchant_list_shows_each_merchants_cases_and_sanctions(cast, client):
    case_in("non_compliant", cast)
    case_in("closed", cast)
    quiet = Cast.make()
    case_in("closed", quiet)
    client.force_login(cast.operator)

    html = page_text(client.get("/oversight/merchants/"))

    legal_name = cast.merchant.organisation.legal_name
    assert merchant_row(html, legal_name) == {
        "Merchant": legal_name,
        "Country": "China",
        "Cases": "2",
        "Not complied with": "1",
        "Active sanctions": "0",
    }
    assert merchant_row(html, quiet.merchant.organisation.legal_name)["Not complied with"] == "0"
    # The merchants with non-compliant cases come first.
    assert html.index(legal_name) < html.index(quiet.merchant.organisation.legal_name)
    # The search finds by name.
    found = page_text(client.get("/oversight/merchants/", {"q": legal_name.upper()}))
    assert legal_name in found and quiet.merchant.organisation.legal_name not in found


def test_the_merchant_list_counts_each_case_once_whatever_the_number_of_sanctions(cast, client):
    case_in("non_compliant", cast)
    case_in("non_compliant", cast)
    case_in("closed", cast)
    applied(apply(cast.operator, shop(cast), reason="One."))
    applied(apply(cast.operator, shop(cast), reason="Two."))
    client.force_login(cast.operator)

    row = merchant_row(page_text(client.get("/oversight/merchants/")), cast.merchant.organisation.legal_name)

    assert (row["Cases"], row["Not complied with"], row["Active sanctions"]) == ("3", "2", "2")


def test_the_operator_applies_and_lifts_a_sanction_from_the_merchants_record(cast, client):
    late = case_in("non_compliant", cast)
    closed = case_in("closed", cast)
    merchant_id = shop(cast)
    record_url = f"/oversight/merchants/{merchant_id}/"
    client.force_login(cast.operator)

    html = page_text(client.get(record_url))
    assert cast.merchant.organisation.legal_name in html
    assert late.reference in html  # listed among the cases not complied with
    assert closed.reference not in html
    assert "No sanction so far." in html
    assert level_options(html) == ["warning", "listing_suspended", "store_closed"]
    assert f'action="/oversight/merchants/{merchant_id}/sanctions/"' in html

    response = client.post(f"/oversight/merchants/{merchant_id}/sanctions/", {"level": "", "reason": "Award unpaid."})

    assert response.status_code == 302 and response["Location"] == record_url
    sanction = Sanction.objects.get(merchant_id=merchant_id)
    assert sanction.level == "warning" and sanction.active and sanction.imposed_by == cast.operator
    assert list(sanction.cases.all()) == [late]
    assert len(sanction_events(late)) == 1
    html = page_text(client.get(record_url))
    assert "The sanction was applied and the merchant notified." in html
    assert "Award unpaid." in html
    assert level_options(html) == ["listing_suspended", "store_closed"]  # only up the ladder
    assert f'action="/oversight/merchants/{merchant_id}/sanctions/{sanction.pk}/lift/"' in html

    # A named level that does not go up is refused with a message, nothing applied.
    client.post(f"/oversight/merchants/{merchant_id}/sanctions/", {"level": "warning", "reason": "Again."})
    assert Sanction.objects.filter(merchant_id=merchant_id).count() == 1
    # A sanction needs a reason.
    response = client.post(f"/oversight/merchants/{merchant_id}/sanctions/", {"level": "store_closed", "reason": " "})
    assert response.status_code == 302
    assert "This field may not be blank." in page_text(client.get(record_url))
    assert Sanction.objects.filter(merchant_id=merchant_id).count() == 1

    client.post(f"/oversight/merchants/{merchant_id}/sanctions/", {"level": "store_closed", "reason": "Fraud."})
    top = Sanction.objects.get(merchant_id=merchant_id, level="store_closed")
    html = page_text(client.get(record_url))
    assert level_options(html) == []
    assert "The merchant is at the top of the ladder." in html

    response = client.post(
        f"/oversight/merchants/{merchant_id}/sanctions/{top.pk}/lift/", {"reason": "Store reopened under review."}
    )

    assert response.status_code == 302 and response["Location"] == record_url
    top.refresh_from_db()
    assert top.lifted_at is not None and top.lifted_by == cast.operator
    assert top.lift_reason == "Store reopened under review."
    html = page_text(client.get(record_url))
    assert "The sanction was lifted." in html
    assert "Store reopened under review." in html
    assert level_options(html) == ["listing_suspended", "store_closed"]  # the warning still stands
    # Lifting again is refused with a message.
    client.post(f"/oversight/merchants/{merchant_id}/sanctions/{top.pk}/lift/", {"reason": "Again."})
    assert "already been lifted" in page_text(client.get(record_url))


def test_a_non_operator_cannot_lift_through_the_page(cast, client):
    case_in("non_compliant", cast)
    sanction = applied(apply(cast.operator, shop(cast), reason="Unpaid."))
    client.force_login(cast.merchant)

    response = client.post(f"/oversight/merchants/{shop(cast)}/sanctions/{sanction['id']}/lift/", {"reason": "Me."})

    assert response.status_code == 404
    assert Sanction.objects.get(pk=sanction["id"]).lifted_at is None


def record_facts(html: str) -> dict:
    facts = re.search(r'<dl class="facts">(.*?)</dl>', html, flags=re.S).group(1)
    return {label.strip(): value.strip() for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", facts)}


def test_the_merchants_record_counts_its_outcomes_and_whether_they_were_carried_out(cast, client):
    services.case_confirm_compliance(actor=cast.consumer, case_id=case_in("compliance", cast).pk)  # on time
    case_in("non_compliant", cast)  # still not carried out
    late = case_in("non_compliant", cast)
    services.case_report_compliance(actor=cast.merchant, case_id=late.pk, reference="RF-LATE", kind="refund")
    services.case_confirm_compliance(actor=cast.consumer, case_id=late.pk)  # carried out late
    case_in("negotiation", cast)  # nothing owed yet
    case_in("closed", Cast.make())  # another merchant's
    client.force_login(cast.operator)

    html = page_text(client.get(f"/oversight/merchants/{shop(cast)}/"))

    assert record_facts(html) == {
        "Cases": "4",
        "Settlements and awards to carry out": "3",
        "Carried out": "2",
        "Not complied with now": "1",
        "Ever not complied with": "2",
    }
    assert late.reference not in html  # carried out now: not among the cases not complied with


def test_a_level_not_on_the_ladder_posted_through_the_form_is_refused_with_a_message(cast, client):
    case_in("non_compliant", cast)
    client.force_login(cast.operator)
    client.raise_request_exception = False

    response = client.post(f"/oversight/merchants/{shop(cast)}/sanctions/", {"level": "banished", "reason": "x"})

    assert response.status_code == 302, response.status_code
    assert not Sanction.objects.exists()
