"""Who may list, add and download a case's evidence: the parties do everything while the case runs; its
neutrals and the operators read; everyone else is told the case does not exist (404); an ended case takes
no more files (409); nobody unauthenticated gets anything (401)."""

import uuid

import pytest

from cases import services
from cases.models import Evidence
from tests.conftest import client_for
from tests.evidence.helpers import body_of, download, error_code, upload, uploaded, vault_files
from tests.factories import Cast, case_in, merchant_colleague, user

pytestmark = pytest.mark.django_db

DATA = b"The merchant's confirmation e-mail.\n"


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    """A case in mediation (its mediator assigned) with one file of the consumer's."""
    case = case_in("mediation", cast)
    assert case.mediator_id == cast.mediator.pk
    return case


@pytest.fixture
def evidence(cast, case) -> dict:
    return uploaded(cast.consumer, case, "confirmation.txt", DATA)


def list_of(who, case):
    return client_for(who).get(f"/api/v1/cases/{case.pk}/evidence/")


OUTSIDERS = {
    "another consumer": lambda cast: user("consumer"),
    "another merchant": lambda cast: user("merchant"),
    "an unassigned mediator": lambda cast: user("mediator"),
    "an unassigned arbitrator": lambda cast: user("arbitrator"),
    "the case's arbitrator-to-be": lambda cast: cast.arbitrator,  # not assigned in mediation
}


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_get_404_on_list_upload_and_download(cast, case, evidence, who):
    outsider = OUTSIDERS[who](cast)
    response = list_of(outsider, case)
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = download(outsider, case, evidence["id"])
    assert response.status_code == 404 and error_code(response) == "not_found"
    response = upload(outsider, case, "mine.txt", b"Let me in.\n")
    assert response.status_code == 404 and error_code(response) == "not_found"
    assert Evidence.objects.count() == 1
    assert len(vault_files()) == 1
    # Exactly what a case that does not exist answers.
    missing = uuid.uuid4()
    assert client_for(outsider).get(f"/api/v1/cases/{missing}/evidence/").status_code == 404


def test_an_outsider_learns_nothing_from_an_oversized_upload(cast, case, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 1000
    response = upload(user("consumer"), case, "big.txt", b"x" * 5000)
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["mediator", "operator"])
def test_the_cases_neutral_and_the_operators_read_but_do_not_add(cast, case, evidence, who):
    reader = getattr(cast, who)
    response = list_of(reader, case)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [evidence["id"]]
    response = download(reader, case, evidence["id"])
    assert response.status_code == 200
    assert body_of(response) == DATA
    response = upload(reader, case, "neutral.txt", b"My own notes.\n")
    assert response.status_code == 403, response.content
    assert error_code(response) == "forbidden"
    assert Evidence.objects.count() == 1
    assert len(vault_files()) == 1


def test_any_operator_reads_every_case(cast, case, evidence):
    other_operator = user("operator")
    assert download(other_operator, case, evidence["id"]).status_code == 200
    assert upload(other_operator, case, "op.txt", b"notes\n").status_code == 403


def test_the_arbitrator_of_the_case_reads_but_does_not_add(cast):
    case = case_in("arbitration", cast)
    body = uploaded(cast.merchant, case, "proof of delivery.pdf", b"%PDF-1.4\nsigned\n%%EOF\n")
    assert download(cast.arbitrator, case, body["id"]).status_code == 200
    assert list_of(cast.arbitrator, case).status_code == 200
    assert upload(cast.arbitrator, case, "award draft.txt", b"draft\n").status_code == 403


def test_both_parties_and_a_colleague_of_the_merchant_add_and_read(cast, case, evidence):
    colleague = merchant_colleague(cast.merchant)
    theirs = uploaded(cast.merchant, case, "tracking.txt", b"Tracking: delivered.\n")
    colleagues = uploaded(colleague, case, "courier.txt", b"Courier statement.\n")
    assert theirs["party"] == colleagues["party"] == "merchant"
    assert evidence["party"] == "consumer"
    for reader in (cast.consumer, cast.merchant, colleague):
        assert {i["id"] for i in list_of(reader, case).json()["results"]} == {
            evidence["id"],
            theirs["id"],
            colleagues["id"],
        }
        assert body_of(download(reader, case, colleagues["id"])) == b"Courier statement.\n"


def test_a_draft_is_the_consumers_alone(cast):
    case = case_in("draft", cast)
    body = uploaded(cast.consumer, case, "receipt.txt", b"Receipt.\n")
    for outsider in (cast.merchant, cast.mediator):
        assert download(outsider, case, body["id"]).status_code == 404
        assert upload(outsider, case, "x.txt", b"x\n").status_code == 404
    assert list_of(cast.operator, case).status_code == 404


@pytest.mark.parametrize("end", ["closed", "withdrawn", "rejected"])
def test_an_ended_case_takes_no_more_files_but_keeps_its_own(cast, end):
    if end == "closed":
        case = case_in("compliance", cast)
        body = uploaded(cast.consumer, case, "refund.txt", b"Refund received.\n")
        case = services.case_confirm_compliance(actor=cast.consumer, case_id=case.pk)
    else:
        case = case_in("filed", cast)
        body = uploaded(cast.consumer, case, "refund.txt", b"Refund received.\n")
        if end == "withdrawn":
            case = services.case_withdraw(actor=cast.consumer, case_id=case.pk, reason="Sorted out.")
        else:
            case = services.case_reject(actor=cast.operator, case_id=case.pk, reason="Out of scope.")
    assert case.status == end
    for party in (cast.consumer, cast.merchant):
        response = upload(party, case, "late.txt", b"Too late.\n")
        assert response.status_code == 409, response.content
        assert error_code(response) == "invalid_state"
    assert Evidence.objects.count() == 1
    assert len(vault_files()) == 1
    assert body_of(download(cast.consumer, case, body["id"])) == b"Refund received.\n"


@pytest.mark.parametrize("state", ["jurisdiction", "negotiation", "arbitration", "awarded", "defaulted"])
def test_a_running_case_takes_files_from_its_parties(cast, state):
    case = case_in(state, cast)
    assert upload(cast.consumer, case, "c.txt", b"consumer\n").status_code == 201
    assert upload(cast.merchant, case, "m.txt", b"merchant\n").status_code == 201


def test_anonymous_gets_401_everywhere(cast, case, evidence):
    anonymous = client_for(None)
    urls = [
        f"/api/v1/cases/{case.pk}/evidence/",
        f"/api/v1/cases/{case.pk}/evidence/{evidence['id']}/download/",
        f"/api/v1/cases/{case.pk}/export/",
    ]
    for url in urls:
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert error_code(response) == "not_authenticated"
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = anonymous.post(urls[0], {"file": SimpleUploadedFile("a.txt", b"anon\n")}, format="multipart")
    assert response.status_code == 401
    assert Evidence.objects.count() == 1


def test_a_deactivated_party_gets_nothing(cast, case, evidence):
    cast.consumer.is_active = False
    cast.consumer.save()
    assert download(cast.consumer, case, evidence["id"]).status_code in (401, 404)
    assert upload(cast.consumer, case, "a.txt", b"a\n").status_code in (401, 404)
