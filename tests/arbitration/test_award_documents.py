"""The award as issued: its documents in the parties' languages, never changed, only corrected."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from accounts.models import Role
from arbitration.models import Award, AwardDocument
from cases.events import chain_verify
from cases.models import Case, CaseEvent
from odr.errors import Conflict
from tests.conftest import client_for, require_postgres
from tests.factories import Cast, case_in, user

from .helpers import (
    act,
    acted,
    award_body,
    correct,
    error,
    fetch_pdf,
    pdf_text,
    sha256,
    squeeze,
    url,
)

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(START):
        yield


def _awarded(cast, **body):
    case = case_in("arbitration", cast, heard=True)
    acted(cast.arbitrator, case, "issue_award", award_body(**body))
    return Case.objects.get(pk=case.pk)


def _award(user_, case, **params) -> dict:
    response = client_for(user_).get(url(case, "award/"), params)
    assert response.status_code == 200, response.content
    return response.json()


def _snapshot(case) -> list[tuple]:
    return [
        (a.number, a.decision, a.amount, a.remedy, a.reasons, a.issued_at, d.language, d.sha256, bytes(d.pdf))
        for a in Award.objects.filter(case=case).order_by("number")
        for d in a.documents.order_by("language")
    ]


# --- immutability -------------------------------------------------------------------------------
def test_an_issued_award_cannot_be_changed_or_issued_again(cast):
    case = _awarded(cast, decision="partly_granted", amount="45.00", reasons="Half the price back.")
    before = _snapshot(case)
    events_before = CaseEvent.objects.filter(case=case).count()

    for who in (cast.arbitrator, cast.consumer, cast.operator):
        client = client_for(who)
        attempts = (
            client.put(url(case, "award/"), award_body("granted", "89.90"), format="json"),
            client.patch(url(case, "award/"), {"amount": {"amount": "89.90", "currency": "EUR"}}, format="json"),
            client.delete(url(case, "award/")),
        )
        for response in attempts:
            assert response.status_code == 409, (who, response.request["REQUEST_METHOD"])
            assert set(error(response)) == {"code", "message", "fields"}
            assert error(response)["code"] == "invalid_state"

    # Not even the arbitrator issues a second award.
    response = act(cast.arbitrator, case, "issue_award", award_body("granted", "89.90", reasons="On reflection."))
    assert response.status_code == 409
    assert "issue_award" not in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]

    assert _snapshot(case) == before
    assert CaseEvent.objects.filter(case=case).count() == events_before
    award = _award(cast.consumer, case)
    assert award["amount"] == {"amount": "45.00", "currency": "EUR"} and award["history"] == [1]


def test_a_stranger_trying_to_change_the_award_learns_nothing(cast):
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    stranger = client_for(user(Role.ARBITRATOR, country="FR", time_zone="Europe/Paris"))
    assert stranger.patch(url(case, "award/"), {}, format="json").status_code == 404
    assert stranger.delete(url(case, "award/")).status_code == 404


def test_the_models_refuse_a_second_save_or_a_delete(cast):
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    before = _snapshot(case)
    award = Award.objects.get(case=case)
    award.amount = award.amount * 2
    with pytest.raises(Conflict):
        award.save()
    with pytest.raises(Conflict):
        award.save(update_fields=["amount"])
    with pytest.raises(Conflict):
        award.delete()
    document = AwardDocument.objects.filter(award__case=case).first()
    document.pdf = b"%PDF-1.7 forged"
    with pytest.raises(Conflict):
        document.save()
    with pytest.raises(Conflict):
        document.delete()
    assert _snapshot(case) == before


def test_the_database_refuses_to_change_or_delete_an_issued_award(cast):
    """Past the models (a QuerySet.update(), a raw statement): PostgreSQL's trigger refuses, and nothing
    changes."""
    require_postgres()
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    before = _snapshot(case)
    attempts = [
        lambda: Award.objects.filter(case=case).update(amount=Decimal("1.00")),
        lambda: AwardDocument.objects.filter(award__case=case).update(pdf=b"%PDF-1.7 forged"),
        lambda: Award.objects.filter(case=case)._raw_delete(Award.objects.db),
        lambda: AwardDocument.objects.filter(award__case=case)._raw_delete(AwardDocument.objects.db),
    ]
    for attempt in attempts:
        with pytest.raises(IntegrityError, match="an issued award is immutable"), transaction.atomic():
            attempt()
    assert _snapshot(case) == before


# --- the documents ------------------------------------------------------------------------------
def test_documents_are_made_only_in_the_parties_languages(db):
    cast = Cast.make()
    cast.merchant.language = "en"
    cast.merchant.save(update_fields=["language"])
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    award = _award(cast.operator, case)
    assert [d["language"] for d in award["documents"]] == ["en"]
    assert award["pdf_sha256"] == award["documents"][0]["sha256"]
    assert fetch_pdf(cast.consumer, case, language="zh-hans").status_code == 404
    response = fetch_pdf(cast.merchant, case)
    assert response.status_code == 200
    assert sha256(response.content) == award["documents"][0]["sha256"]


def test_each_reader_gets_the_document_in_their_language_by_default(cast):
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    documents = {d["language"]: d for d in _award(cast.consumer, case)["documents"]}
    for who, language in ((cast.consumer, "en"), (cast.merchant, "zh-hans")):
        response = fetch_pdf(who, case)
        assert response.status_code == 200
        assert response["X-Content-SHA256"] == sha256(response.content) == documents[language]["sha256"]
        assert language in response["Content-Disposition"]
    assert fetch_pdf(cast.consumer, case, language="fr").status_code == 404
    # The url each document lists is where it is fetched.
    for language, document in documents.items():
        response = client_for(cast.consumer).get(document["url"])
        assert response.status_code == 200
        assert sha256(response.content) == document["sha256"], language


# --- corrections --------------------------------------------------------------------------------
def test_a_correction_is_a_new_award_citing_the_first_whose_documents_stay_as_they_were(cast):
    case = _awarded(cast, decision="partly_granted", amount="45.00", reasons="Half the price back.")
    first = _award(cast.consumer, case)
    first_pdfs = {
        language: fetch_pdf(cast.consumer, case, language=language, number=1).content for language in ("en", "zh-hans")
    }
    before = _snapshot(case)

    with time_machine.travel(START + dt.timedelta(days=3)):
        response = correct(
            cast.arbitrator,
            case,
            amount="40.00",
            reasons="Half the price back, less the shipping.",
            note="更正金额：运费不予退还。Shipping is not refunded.",
        )
    assert response.status_code == 201, response.content
    second = response.json()
    assert second["number"] == 2 and second["corrects"] == 1
    assert second["decision"] == "partly_granted"
    assert second["amount"] == {"amount": "40.00", "currency": "EUR"}
    assert second["comply_by"] == first["comply_by"]
    assert {d["sha256"] for d in second["documents"]}.isdisjoint({d["sha256"] for d in first["documents"]})

    # The latest award is the correction; the first is still there, unchanged, under its number.
    latest = _award(cast.merchant, case)
    assert latest["number"] == 2 and latest["history"] == [1, 2]
    again = _award(cast.consumer, case, number=1)
    assert {k: v for k, v in again.items() if k != "history"} == {k: v for k, v in first.items() if k != "history"}
    assert _snapshot(case)[: len(before)] == before
    for language, content in first_pdfs.items():
        response = fetch_pdf(cast.merchant, case, language=language, number=1)
        assert response.content == content
        assert response["X-Content-SHA256"] == sha256(content)

    # The correction's documents cite the first documents' hashes, and its hashes are on the chain.
    [event] = CaseEvent.objects.filter(case=case, type="award_corrected")
    assert event.actor_id == cast.arbitrator.pk
    recorded = {d["language"]: d["sha256"] for d in event.payload["award"]["documents"]}
    assert recorded == {d["language"]: d["sha256"] for d in second["documents"]}
    for language in ("en", "zh-hans"):
        response = fetch_pdf(cast.consumer, case, language=language, number=2)
        assert sha256(response.content) == recorded[language]
        text = squeeze(pdf_text(response.content))
        for document in first["documents"]:
            assert document["sha256"] in text, (language, document["language"])
        assert "40.00EUR" in text and "更正金额" in text
    assert "仲裁裁决更正书" in squeeze(pdf_text(fetch_pdf(cast.merchant, case, number=2).content))
    # What the merchant owes now follows the correction.
    outcome = client_for(cast.merchant).get(url(case)).json()["outcome"]
    assert outcome["amount"] == {"amount": "40.00", "currency": "EUR"}
    assert chain_verify(case).ok


def test_only_the_arbitrator_corrects_and_only_within_thirty_days_of_the_first_award(cast):
    case = case_in("arbitration", cast, heard=True)
    # Nothing to correct before the award.
    assert correct(cast.arbitrator, case).status_code == 409
    acted(cast.arbitrator, case, "issue_award", award_body("granted", "89.90", reasons="Not delivered."))
    issued_at = Award.objects.get(case=case).issued_at

    for who in (cast.consumer, cast.merchant, cast.mediator, cast.operator):
        response = correct(who, case)
        assert response.status_code == 403, who
        assert error(response)["code"] == "forbidden"
    stranger = user(Role.ARBITRATOR, country="FR", time_zone="Europe/Paris")
    assert correct(stranger, case).status_code == 404
    assert Award.objects.filter(case=case).count() == 1

    # A correction on day 20; another is refused once 30 days from the *first* award have passed.
    with time_machine.travel(issued_at + dt.timedelta(days=20), tick=False):
        assert correct(cast.arbitrator, case, amount="80.00").status_code == 201
    with time_machine.travel(issued_at + dt.timedelta(days=30, seconds=1), tick=False):
        response = correct(cast.arbitrator, case, amount="70.00")
    assert response.status_code == 409
    assert error(response)["code"] == "invalid_state"
    assert list(Award.objects.filter(case=case).values_list("number", "amount")) == [
        (1, Decimal("89.90")),
        (2, Decimal("80.00")),
    ]
    assert CaseEvent.objects.filter(case=case, type="award_corrected").count() == 1


def test_a_correction_keeps_to_the_claims_currency_and_a_granted_award_keeps_an_amount(cast):
    case = _awarded(cast, decision="granted", amount="89.90", reasons="Not delivered.")
    response = correct(cast.arbitrator, case, amount=None)
    assert response.status_code == 400
    assert "amount" in error(response)["fields"]
    client = client_for(cast.arbitrator)
    body = {"amount": {"amount": "80.00", "currency": "USD"}, "remedy": "refund", "reasons": "x", "note": "y"}
    response = client.post(url(case, "award/corrections/"), body, format="json")
    assert response.status_code == 400
    assert "amount.currency" in error(response)["fields"]
    assert Award.objects.filter(case=case).count() == 1


@pytest.mark.parametrize("kind", ["refund", "escrow"])
def test_once_money_moved_on_the_award_a_correction_keeps_its_amount(cast, kind):
    case = _awarded(cast, decision="partly_granted", amount="45.00", reasons="Half.")
    paid = client_for(cast.merchant).post(url(case, f"payments/{kind}/"), {}, format="json")
    assert paid.status_code in (200, 201), paid.content
    response = correct(cast.arbitrator, case, amount="60.00")
    assert response.status_code == 409
    assert "paid or is being paid through the platform" in error(response)["message"]
    assert Award.objects.filter(case=case).count() == 1
    assert Case.objects.get(pk=case.pk).outcome["amount"] == {"amount": "45.00", "currency": "EUR"}
    # The reasons may still be corrected, at the same amount.
    response = correct(cast.arbitrator, case, amount="45.00", reasons="Half, as the carrier lost one of two.")
    assert response.status_code == 201, response.content
    assert Award.objects.filter(case=case).count() == 2


# --- what an award may say ----------------------------------------------------------------------
def test_a_dismissed_claim_carries_no_amount(cast):
    case = case_in("arbitration", cast, heard=True)
    response = act(cast.arbitrator, case, "issue_award", award_body("dismissed", "89.90", reasons="Delivered."))
    if response.status_code == 400:
        assert "amount" in error(response)["fields"]
        return
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert _award(cast.consumer, case)["amount"] is None
    assert "amount" not in (Case.objects.get(pk=case.pk).outcome or {})


def test_an_award_cannot_grant_more_than_was_claimed(cast):
    case = case_in("arbitration", cast, heard=True)
    response = act(cast.arbitrator, case, "issue_award", award_body("partly_granted", "500.00", reasons="More."))
    assert response.status_code == 400
    assert "amount" in error(response)["fields"]
    assert not Award.objects.filter(case=case).exists()
