"""What arbitration refuses with a clear error instead of failing: odd query numbers, garbage ids from a
page, a remedy not on the list, characters the award document cannot show; drafts are never a sanction's
grounds; a person's erasure reaches their submissions; operators' alerts are not sent to the merchant's
platform."""

import io

import pypdf
import pytest
from django.db import transaction
from django.test import Client

from arbitration.models import Award, Submission
from cases.events import chain_verify, event_append
from cases.evidence import crypto
from cases.models import Case, CaseEvent
from cases.services.erasure import party_data_erase
from notifications.models import SECRET_PURPOSE, Delivery, WebhookEndpoint
from tests.conftest import client_for
from tests.factories import Cast, case_in, file_case

pytestmark = pytest.mark.django_db


def award(cast, case, reasons="The merchant did not prove delivery."):
    body = {
        "decision": "partly_granted",
        "amount": {"amount": "50.00", "currency": "EUR"},
        "remedy": "refund",
        "reasons": reasons,
    }
    return client_for(cast.arbitrator).post(f"/api/v1/cases/{case.pk}/actions/issue_award/", body, format="json")


@pytest.mark.parametrize("number", ["²", "abc", "0", "-1"])
def test_an_award_number_that_is_not_one_is_a_400(number):
    cast = Cast.make()
    case = case_in("awarded", cast)
    for path in ("award/", "award.pdf"):
        response = client_for(cast.consumer).get(f"/api/v1/cases/{case.pk}/{path}", {"number": number})
        assert response.status_code == 400, (path, number)
        assert "number" in response.json()["error"]["fields"]


def test_page_forms_with_garbage_get_a_message_not_a_crash():
    cast = Cast.make()
    case = case_in("arbitration", cast)
    browser = Client()
    browser.force_login(cast.consumer)
    response = browser.post(f"/cases/{case.pk}/submissions/", {"statement": "Mine.", "evidence": ["garbage"]})
    assert response.status_code == 302
    assert "valid UUID" in browser.get(f"/cases/{case.pk}/").content.decode()
    assert not Submission.objects.filter(case=case).exists()

    awarded = case_in("awarded", cast)
    arbitrator = Client()
    arbitrator.force_login(cast.arbitrator)
    response = arbitrator.post(
        f"/cases/{awarded.pk}/award/corrections/", {"remedy": "zzz", "reasons": "Fixed.", "note": "Sum."}
    )
    assert response.status_code == 302
    assert Award.objects.filter(case=awarded).count() == 1


def test_reasons_the_document_cannot_show_are_refused_and_right_to_left_text_is_kept():
    cast = Cast.make()
    case = case_in("arbitration", cast, heard=True)
    response = award(cast, case, reasons="Granted in part: नमस्ते.")  # Devanagari: no font of the PDF has it
    assert response.status_code == 400
    assert "U+0928" in response.json()["error"]["fields"]["reasons"][0]
    assert not Award.objects.filter(case=case).exists()

    response = award(cast, case, reasons="ההחלטה: שלום. القرار: مرحبا. 商家未能证明已交付。")
    assert response.status_code == 200, response.content
    pdf = client_for(cast.consumer).get(f"/api/v1/cases/{case.pk}/award.pdf", {"language": "en"}).content
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "商家未能证明已交付" in text


def test_a_draft_is_never_the_grounds_of_a_sanction():
    cast = Cast.make()
    draft = file_case(cast, submit=False)
    response = client_for(cast.operator).post(
        f"/api/v1/merchants/{cast.merchant.organisation_id}/sanctions/",
        {"reason": "Late.", "cases": [str(draft.pk)]},
        format="json",
    )
    assert response.status_code == 400 and "cases" in response.json()["error"]["fields"]
    assert not CaseEvent.objects.filter(case=draft, type="sanction_applied").exists()


def test_erasure_reaches_the_submissions_and_the_dispute():
    cast = Cast.make()
    case = case_in("arbitration", cast)
    client_for(cast.consumer).post(
        f"/api/v1/cases/{case.pk}/submissions/", {"statement": "I am Jane Roe, 12 Main St."}, format="json"
    )
    party_data_erase(user=cast.consumer)
    assert Submission.objects.get(case=case).statement == "[erased]"
    listed = client_for(cast.arbitrator).get(f"/api/v1/cases/{case.pk}/submissions/").json()
    assert "Jane Roe" not in str(listed)
    assert chain_verify(Case.objects.get(pk=case.pk)).ok


def test_the_operators_alert_of_a_late_award_is_not_sent_to_the_merchants_platform():
    cast = Cast.make()
    case = case_in("arbitration", cast)
    WebhookEndpoint.objects.create(
        organisation_id=cast.merchant.organisation_id,
        url="https://shop.example/hook",
        secret=crypto.seal_text("s" * 32, SECRET_PURPOSE),
    )
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        overdue = event_append(case=locked, type="award_overdue", payload={"due_at": None, "arbitrator": 1})
        submitted = event_append(case=locked, type="submission", payload={"party": "consumer"})
    assert not Delivery.objects.filter(event=overdue, channel="webhook").exists()
    assert Delivery.objects.filter(event=submitted, channel="webhook").exists()  # the endpoint does work
