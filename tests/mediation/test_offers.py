"""Negotiation offers: each party's offers and counter-offers, their history, accepting one to settle.

Through ``/api/v1/cases/{id}/offers/`` (API.md, "Negotiation and mediation") and through the case page's
forms (``/cases/{id}/offers/``), which call the same services.
"""

import datetime as dt

import pytest

from accounts.models import Role
from cases.models import Case
from mediation.models import Offer
from tests.conftest import client_for
from tests.factories import case_in, user
from tests.mediation.helpers import money, page_client, url

pytestmark = pytest.mark.django_db


def offer(client, case, amount, *, currency="EUR", remedy="refund", note=""):
    return client.post(
        url(case, "offers/"), {"amount": money(amount, currency), "remedy": remedy, "note": note}, format="json"
    )


def accept(client, case, offer_id):
    return client.post(url(case, f"offers/{offer_id}/accept/"))


def test_offers_and_counter_offers_each_answer_every_open_offer(cast):
    case = case_in("negotiation", cast)
    consumer, merchant = client_for(cast.consumer), client_for(cast.merchant)

    first = offer(consumer, case, "80.00", note="Most of it back, please.")
    assert first.status_code == 201, first.content
    assert first.json()["party"] == "consumer"
    assert first.json()["amount"] == {"amount": "80.00", "currency": "EUR"}
    assert first.json()["status"] == "open"
    assert first.json()["note"] == "Most of it back, please."

    counter = offer(merchant, case, "50.00", remedy="price_reduction")
    assert counter.status_code == 201, counter.content
    assert counter.json()["party"] == "merchant"
    assert counter.json()["remedy"] == "price_reduction"

    second = offer(consumer, case, "70.00")
    counter2 = offer(merchant, case, "60.00")
    assert second.status_code == counter2.status_code == 201

    ids = [first.json()["id"], counter.json()["id"], second.json()["id"], counter2.json()["id"]]
    for reader in (consumer, merchant, client_for(cast.operator)):
        history = reader.get(url(case, "offers/"))
        assert history.status_code == 200
        rows = history.json()
        assert [o["id"] for o in rows] == ids  # oldest first
        # Each offer answers the open one before it: only the latest stays open, for the other to accept.
        assert [o["status"] for o in rows] == ["superseded", "superseded", "superseded", "open"]
        assert [o["amount"]["amount"] for o in rows] == ["80.00", "50.00", "70.00", "60.00"]
        assert [o["party"] for o in rows] == ["consumer", "merchant", "consumer", "merchant"]

    # One open offer on the case, and each is on the chain.
    assert Offer.objects.filter(case=case, status="open").count() == 1
    made = list(Case.objects.get(pk=case.pk).events.filter(type="offer_made").order_by("seq"))
    assert [e.payload["offer"] for e in made] == ids
    assert made[0].payload["amount"] == {"amount": "80.00", "currency": "EUR"}
    assert Case.objects.get(pk=case.pk).status == "negotiation"


def test_accepting_the_other_partys_open_offer_settles_the_case_on_its_terms(cast):
    case = case_in("negotiation", cast)
    consumer, merchant = client_for(cast.consumer), client_for(cast.merchant)
    offer(consumer, case, "85.00")
    counter = offer(merchant, case, "62.50", remedy="refund", note="Refund within a week.").json()

    answer = accept(consumer, case, counter["id"])

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["status"] == "settled"
    outcome = body["outcome"]
    assert outcome["kind"] == "settlement"
    assert outcome["source"] == "offer"
    assert outcome["offer"] == counter["id"]
    assert outcome["amount"] == {"amount": "62.50", "currency": "EUR"}
    assert outcome["remedy"] == "refund"
    assert outcome["note"] == "Refund within a week."
    comply_by = dt.datetime.fromisoformat(outcome["comply_by"].replace("Z", "+00:00"))
    assert comply_by > dt.datetime.now(dt.UTC) + dt.timedelta(days=7)  # 14 business days of the merchant

    case.refresh_from_db()
    assert case.status == "settled"
    event = case.events.order_by("-seq").first()
    assert event.type == "accept_settlement"
    assert event.actor_id == cast.consumer.pk
    assert event.payload["from"] == "negotiation" and event.payload["to"] == "settled"
    assert event.payload["terms"]["amount"] == {"amount": "62.50", "currency": "EUR"}
    statuses = dict(Offer.objects.filter(case=case).values_list("party", "status"))
    assert statuses == {"merchant": "accepted", "consumer": "superseded"}  # countered before the acceptance
    # Nothing more to accept or offer on a settled case.
    assert offer(consumer, case, "10.00").status_code == 409


def test_the_merchant_can_accept_the_consumers_offer(cast):
    case = case_in("negotiation", cast)
    made = offer(client_for(cast.consumer), case, "75.00").json()
    answer = accept(client_for(cast.merchant), case, made["id"])
    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"]["amount"] == {"amount": "75.00", "currency": "EUR"}


def test_the_merchants_offer_in_its_response_can_be_accepted(cast):
    case = case_in("negotiation", cast, merchant_offer=True)
    consumer = client_for(cast.consumer)
    (only,) = consumer.get(url(case, "offers/")).json()
    assert only["party"] == "merchant" and only["status"] == "open"
    answer = accept(consumer, case, only["id"])
    assert answer.status_code == 200
    assert answer.json()["outcome"]["amount"] == {"amount": "40.00", "currency": "EUR"}


def test_an_offer_can_be_accepted_during_mediation(cast):
    case = case_in("mediation", cast)
    made = offer(client_for(cast.merchant), case, "66.00").json()
    answer = accept(client_for(cast.consumer), case, made["id"])
    assert answer.status_code == 200
    assert answer.json()["status"] == "settled"


def test_a_counter_offer_answers_the_offer_before_it_which_can_no_longer_be_accepted(cast):
    case = case_in("negotiation", cast)
    consumer, merchant = client_for(cast.consumer), client_for(cast.merchant)
    made = offer(consumer, case, "70.00").json()
    offer(merchant, case, "40.00")
    listed = {o["id"]: o["status"] for o in merchant.get(url(case, "offers/")).json()}
    assert listed[made["id"]] == "superseded"
    html = page_client(cast.merchant).get(f"/cases/{case.pk}/").content.decode()
    assert f'action="/cases/{case.pk}/offers/{made["id"]}/accept/"' not in html  # no button for it
    answer = accept(merchant, case, made["id"])
    assert answer.status_code == 409
    assert Case.objects.get(pk=case.pk).status == "negotiation"


def test_accepting_your_own_offer_is_a_conflict(cast):
    case = case_in("negotiation", cast)
    consumer = client_for(cast.consumer)
    mine = offer(consumer, case, "70.00").json()
    answer = accept(consumer, case, mine["id"])
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "invalid_state"
    assert Case.objects.get(pk=case.pk).status == "negotiation"


def test_accepting_a_superseded_offer_is_a_conflict(cast):
    case = case_in("negotiation", cast)
    merchant = client_for(cast.merchant)
    old = offer(merchant, case, "30.00").json()
    offer(merchant, case, "45.00")
    answer = accept(client_for(cast.consumer), case, old["id"])
    assert answer.status_code == 409
    assert Case.objects.get(pk=case.pk).status == "negotiation"
    assert Offer.objects.get(pk=old["id"]).status == "superseded"


def test_accepting_an_offer_of_another_case_is_not_found(cast):
    case = case_in("negotiation", cast)
    other = case_in("negotiation", cast)
    foreign = offer(client_for(cast.merchant), other, "30.00").json()
    assert accept(client_for(cast.consumer), case, foreign["id"]).status_code == 404


def test_an_offer_in_another_currency_is_refused(cast):
    case = case_in("negotiation", cast)
    answer = offer(client_for(cast.consumer), case, "70.00", currency="USD")
    assert answer.status_code == 400
    assert "amount.currency" in answer.json()["error"]["fields"]
    assert not Offer.objects.filter(case=case).exists()


def test_an_offer_with_a_bad_amount_is_refused(cast):
    case = case_in("negotiation", cast)
    answer = offer(client_for(cast.consumer), case, "70.001")  # EUR has two decimals
    assert answer.status_code == 400
    assert not Offer.objects.filter(case=case).exists()


def test_outsiders_do_not_learn_the_case_exists(cast):
    case = case_in("negotiation", cast, merchant_offer=True)
    (open_offer,) = Offer.objects.filter(case=case)
    outsiders = [user(Role.CONSUMER), user(Role.MERCHANT), user(Role.MEDIATOR), user(Role.ARBITRATOR)]
    for outsider in outsiders:
        client = client_for(outsider)
        assert offer(client, case, "70.00").status_code == 404
        assert client.get(url(case, "offers/")).status_code == 404
        assert accept(client, case, open_offer.pk).status_code == 404
    assert client_for(None).get(url(case, "offers/")).status_code in (401, 403)
    assert Offer.objects.filter(case=case).count() == 1


def test_the_operator_sees_the_offers_but_neither_offers_nor_accepts(cast):
    case = case_in("negotiation", cast, merchant_offer=True)
    operator = client_for(cast.operator)
    (open_offer,) = Offer.objects.filter(case=case)
    assert operator.get(url(case, "offers/")).status_code == 200
    assert offer(operator, case, "70.00").status_code == 403
    assert accept(operator, case, open_offer.pk).status_code == 403
    assert Case.objects.get(pk=case.pk).status == "negotiation"


@pytest.mark.parametrize("state", ["jurisdiction", "arbitration", "settled", "closed"])
def test_offers_outside_negotiation_and_mediation_are_a_conflict(cast, state):
    case = case_in(state, cast)
    answer = offer(client_for(cast.consumer), case, "70.00")
    assert answer.status_code == 409
    assert not Offer.objects.filter(case=case, party="consumer").exists()


def test_an_open_offer_cannot_be_accepted_once_the_case_left_negotiation(cast):
    case = case_in("negotiation", cast, merchant_offer=True)
    (open_offer,) = Offer.objects.filter(case=case)
    consumer = client_for(cast.consumer)
    assert consumer.post(url(case, "actions/escalate/"), {"reason": "No deal."}, format="json").status_code == 200
    assert accept(consumer, case, open_offer.pk).status_code == 409
    assert Offer.objects.get(pk=open_offer.pk).status == "lapsed"


# --- the case page's forms ------------------------------------------------------------------------
def test_the_page_forms_make_and_accept_offers(cast):
    case = case_in("negotiation", cast)
    consumer, merchant = page_client(cast.consumer), page_client(cast.merchant)

    page = consumer.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert f'action="/cases/{case.pk}/offers/"' in page.content.decode()

    sent = consumer.post(
        f"/cases/{case.pk}/offers/", {"amount": "77.70", "remedy": "refund", "note": "Via the page form."}
    )
    assert sent.status_code == 302
    assert sent["Location"] == f"/cases/{case.pk}/#h-negotiation"
    made = Offer.objects.get(case=case, party="consumer")
    assert (str(made.amount), made.currency, made.status, made.note) == ("77.7000", "EUR", "open", "Via the page form.")

    # The merchant's page offers exactly that offer to accept.
    html = merchant.get(f"/cases/{case.pk}/").content.decode()
    assert f'action="/cases/{case.pk}/offers/{made.pk}/accept/"' in html
    assert "77.70" in html

    accepted = merchant.post(f"/cases/{case.pk}/offers/{made.pk}/accept/")
    assert accepted.status_code == 302
    case.refresh_from_db()
    assert case.status == "settled"
    assert case.outcome["amount"] == {"amount": "77.70", "currency": "EUR"}
    assert case.outcome["note"] == "Via the page form."
    assert case.outcome["comply_by"]


def test_the_page_form_reports_a_bad_amount_and_changes_nothing(cast):
    case = case_in("negotiation", cast)
    consumer = page_client(cast.consumer)
    answer = consumer.post(f"/cases/{case.pk}/offers/", {"amount": "lots", "remedy": "refund"}, follow=True)
    assert answer.status_code == 200
    assert not Offer.objects.filter(case=case).exists()
    assert any(m.level_tag == "error" for m in answer.context["messages"])


def test_the_page_form_is_not_found_for_outsiders_and_refused_outside_negotiation(cast):
    case = case_in("negotiation", cast)
    outsider = page_client(user(Role.CONSUMER))
    assert outsider.post(f"/cases/{case.pk}/offers/", {"amount": "10.00"}).status_code == 404
    late = case_in("jurisdiction", cast)
    answer = page_client(cast.consumer).post(f"/cases/{late.pk}/offers/", {"amount": "10.00"}, follow=True)
    assert any(m.level_tag == "error" for m in answer.context["messages"])
    assert not Offer.objects.filter(case__in=[case, late]).exists()
