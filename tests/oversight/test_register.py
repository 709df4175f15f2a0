"""The public compliance register (HTML and JSON, no log-in): the merchants under an active sanction and
anonymised outcome statistics; and the headline scenario, from an award not complied with to the
merchant on the register."""

import datetime as dt
import json
import re

import time_machine
from django.core import mail

from accounts.services import user_update_profile
from cases import services
from cases.deadlines import deadline_sweep
from cases.models import Case, CaseEvent
from notifications.models import Notification
from oversight.models import Sanction
from tests.conftest import client_for
from tests.factories import Cast, case_in, file_case

REGISTER_PAGE = "/compliance-register/"
REGISTER_JSON = "/api/v1/compliance-register/"


def register_json() -> dict:
    response = client_for(None).get(REGISTER_JSON)
    assert response.status_code == 200, response.content
    return response.json()


def register_page(client) -> str:
    response = client.get(REGISTER_PAGE)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    return re.sub(r"\s+", " ", response.content.decode())


def outcome_figures(html: str) -> dict:
    """The register page's outcome figures, label -> text."""
    section = html[html.index('id="h-outcomes"') :]
    return {
        re.sub(r"<[^>]+>", "", label).strip(): re.sub(r"<[^>]+>", "", value).strip()
        for label, value in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", section)
    }


def sanctioned_rows(html: str) -> list[dict]:
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", html):
        cells = re.findall(r'<td data-label="([^"]+)">(.*?)</td>', row)
        if cells:
            rows.append({label: re.sub(r"<[^>]+>", "", value).strip() for label, value in cells})
    return rows


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def apply_sanction(operator, merchant_id, capture, **body):
    """Apply through the API, with the request's commit (and so its on-commit work) happening."""
    with capture(execute=True):
        response = client_for(operator).post(
            f"/api/v1/merchants/{merchant_id}/sanctions/", {"reason": "Award not carried out.", **body}, format="json"
        )
    assert response.status_code == 201, response.content
    return response.json()


def lift_sanction(operator, merchant_id, sanction_id, capture):
    with capture(execute=True):
        response = client_for(operator).post(
            f"/api/v1/merchants/{merchant_id}/sanctions/{sanction_id}/lift/", {"reason": "Paid."}, format="json"
        )
    assert response.status_code == 200, response.content
    return response.json()


# --- public, and what it lists ------------------------------------------------------------------
def test_the_register_is_public_and_empty_without_sanctions(cast, client):
    case_in("non_compliant", cast)  # not complied with, but nobody has sanctioned the merchant yet

    data = register_json()
    html = register_page(client)

    assert data["sanctioned_merchants"] == []
    assert set(data["outcomes"]) >= {
        "cases", "settled", "awarded", "dismissed", "withdrawn", "rejected",
        "complied", "complied_late", "non_compliant", "compliance_rate",
    }  # fmt: skip
    assert data["generated_at"].endswith("Z")
    assert "No merchant is under sanction." in html
    assert cast.merchant.organisation.legal_name not in html
    assert 'href="/api/v1/compliance-register/"' in html  # the page points to its JSON


def test_a_sanctioned_merchant_appears_at_once_and_disappears_when_lifted(
    cast, client, django_capture_on_commit_callbacks
):
    case_in("non_compliant", cast)
    legal_name = cast.merchant.organisation.legal_name
    # Somebody reads the register first: it is now cached.
    assert register_json()["sanctioned_merchants"] == []
    assert legal_name not in register_page(client)

    sanction = apply_sanction(
        cast.operator, cast.merchant.organisation_id, django_capture_on_commit_callbacks, reason="Award unpaid."
    )

    imposed_at = Sanction.objects.get(pk=sanction["id"]).imposed_at
    [entry] = register_json()["sanctioned_merchants"]
    assert entry == {
        "merchant": {"id": cast.merchant.organisation_id, "legal_name": legal_name, "country": "CN"},
        "level": "warning",
        "since": iso(imposed_at),
        "reason": "Award unpaid.",
        "non_compliant_cases": 1,
    }
    [row] = sanctioned_rows(register_page(client))
    assert row == {
        "Merchant": legal_name,
        "Country": "China",
        "Sanction": "Warning",
        "Since": imposed_at.astimezone(dt.UTC).strftime("%Y-%m-%d"),
        "Reason": "Award unpaid.",
        "Cases not complied with": "1",
    }

    lift_sanction(cast.operator, cast.merchant.organisation_id, sanction["id"], django_capture_on_commit_callbacks)

    assert register_json()["sanctioned_merchants"] == []
    html = register_page(client)
    assert legal_name not in html
    assert "No merchant is under sanction." in html


def test_the_register_shows_the_highest_active_sanction_and_the_cases_still_not_complied_with(
    cast, client, django_capture_on_commit_callbacks
):
    case_in("non_compliant", cast)
    case_in("non_compliant", cast)
    late = case_in("non_compliant", cast)
    services.case_report_compliance(actor=cast.merchant, case_id=late.pk, reference="RF-LATE", kind="refund")
    case_in("closed", cast)
    merchant_id = cast.merchant.organisation_id
    apply_sanction(cast.operator, merchant_id, django_capture_on_commit_callbacks, reason="Three unpaid.")
    top = apply_sanction(
        cast.operator, merchant_id, django_capture_on_commit_callbacks, level="store_closed", reason="Persistent."
    )

    [entry] = register_json()["sanctioned_merchants"]
    assert (entry["level"], entry["reason"], entry["non_compliant_cases"]) == ("store_closed", "Persistent.", 2)
    [row] = sanctioned_rows(register_page(client))
    assert row["Sanction"] == "Store closed"

    lift_sanction(cast.operator, merchant_id, top["id"], django_capture_on_commit_callbacks)

    [entry] = register_json()["sanctioned_merchants"]
    assert (entry["level"], entry["reason"]) == ("warning", "Three unpaid.")


def test_the_register_lists_every_sanctioned_merchant_by_name(db, client, django_capture_on_commit_callbacks):
    shops = [Cast.make(), Cast.make()]
    for cast in shops:
        case_in("non_compliant", cast)
        apply_sanction(cast.operator, cast.merchant.organisation_id, django_capture_on_commit_callbacks)
    clean = Cast.make()
    case_in("closed", clean)

    listed = [e["merchant"]["legal_name"] for e in register_json()["sanctioned_merchants"]]

    assert listed == sorted((c.merchant.organisation.legal_name for c in shops), key=str.lower)
    assert clean.merchant.organisation.legal_name not in register_page(client)


def test_the_register_names_no_consumer_and_no_case(cast, client, django_capture_on_commit_callbacks):
    user_update_profile(
        user=cast.consumer, display_name="Ximena Quartermaine", country="ES", time_zone="Europe/Madrid", language="en"
    )
    cases = [case_in("non_compliant", cast), case_in("non_compliant", cast), case_in("closed", cast)]
    apply_sanction(cast.operator, cast.merchant.organisation_id, django_capture_on_commit_callbacks)

    text = json.dumps(register_json())
    html = register_page(client)

    assert cast.merchant.organisation.legal_name in text and cast.merchant.organisation.legal_name in html
    for published in (text, html):
        assert "Ximena" not in published and "Quartermaine" not in published
        assert cast.consumer.email not in published
        for case in cases:
            assert case.reference not in published
            assert str(case.pk) not in published


# --- the figures --------------------------------------------------------------------------------
def test_the_outcome_figures_count_the_cases(cast, client):
    case_in("closed", cast)  # settled, carried out
    case_in("non_compliant", cast)  # settled, not carried out
    late = case_in("non_compliant", cast)  # settled, carried out late
    services.case_report_compliance(actor=cast.merchant, case_id=late.pk, reference="RF-LATE", kind="refund")
    services.case_confirm_compliance(actor=cast.consumer, case_id=late.pk)
    case_in("compliance", cast)  # settled, performance reported, not yet confirmed
    case_in("awarded", cast)  # awarded, not yet due
    dismissed = case_in("arbitration", cast, heard=True)
    services.case_issue_award(
        actor=cast.arbitrator,
        case_id=dismissed.pk,
        decision="dismissed",
        amount=None,
        remedy=dismissed.remedy,
        reasons="The tracking shows delivery to the consumer's address.",
    )
    case_in("withdrawn", cast)
    case_in("rejected", cast)
    case_in("negotiation", cast)  # still open
    file_case(cast, submit=False)  # a draft is no complaint yet
    assert Case.objects.get(pk=dismissed.pk).status == "closed"

    outcomes = register_json()["outcomes"]

    assert outcomes == {
        "cases": 9,
        "open": 1,
        "settled": 4,
        "awarded": 1,
        "dismissed": 1,
        "withdrawn": 1,
        "rejected": 1,
        "complied": 2,
        "complied_late": 1,
        "non_compliant": 1,
        "compliance_rate": 0.6667,
    }
    figures = outcome_figures(register_page(client))
    assert figures["Complaints filed"] == "9"
    assert figures["Still open"] == "1"
    assert figures["Settled by agreement"] == "4"
    assert figures["Decided by an award for the consumer"] == "1"
    assert figures["Claims dismissed by an award"] == "1"
    assert figures["Withdrawn"] == "1"
    assert figures["Rejected as inadmissible"] == "1"
    assert figures["Settlements and awards carried out"] == "2 (1 late)"
    assert figures["Not complied with"] == "1"
    assert figures["Compliance rate"] == "67 %"


def test_with_nothing_decided_there_is_no_compliance_rate(cast, client):
    case_in("negotiation", cast)

    outcomes = register_json()["outcomes"]

    assert outcomes["compliance_rate"] is None
    assert (outcomes["cases"], outcomes["complied"], outcomes["non_compliant"]) == (1, 0, 0)
    assert outcome_figures(register_page(client))["Compliance rate"] == "–"


def test_the_figures_are_cached_for_a_minute(cast):
    start = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        assert register_json()["outcomes"]["non_compliant"] == 0

    case_in("non_compliant", cast)

    with time_machine.travel(start + dt.timedelta(seconds=30), tick=False):
        assert register_json()["outcomes"]["non_compliant"] == 0
    with time_machine.travel(start + dt.timedelta(seconds=61), tick=False):
        assert register_json()["outcomes"]["non_compliant"] == 1


# --- the headline scenario ----------------------------------------------------------------------
def test_an_award_not_complied_with_leads_to_a_sanction_on_the_public_register(
    cast, client, django_capture_on_commit_callbacks
):
    case = case_in("awarded", cast)
    comply_by = dt.datetime.fromisoformat(case.outcome["comply_by"].replace("Z", "+00:00"))
    merchant_id = cast.merchant.organisation_id
    legal_name = cast.merchant.organisation.legal_name
    later = comply_by + dt.timedelta(minutes=5)

    with time_machine.travel(later, tick=False):
        # The date passes unperformed: the clock declares the award not complied with.
        assert deadline_sweep() == 1
        case.refresh_from_db()
        assert case.status == "non_compliant"
        assert CaseEvent.objects.filter(case=case, type="declare_non_compliance", actor=None).exists()
        assert Notification.objects.filter(case=case, user=cast.operator, type="declare_non_compliance").exists()
        # The public reads the register (cached): nobody is listed yet.
        assert register_json()["sanctioned_merchants"] == []
        mail.outbox.clear()

        # The operator looks at the merchant's record, then sanctions it.
        client.force_login(cast.operator)
        assert case.reference in client.get(f"/oversight/merchants/{merchant_id}/").content.decode()
        client.logout()
        sanction = apply_sanction(
            cast.operator, merchant_id, django_capture_on_commit_callbacks, reason="Award of 89.90 EUR not paid."
        )

        assert sanction["level"] == "warning"
        assert [c["id"] for c in sanction["cases"]] == [str(case.pk)]
        [event] = CaseEvent.objects.filter(case=case, type="sanction_applied")
        # The merchant is told, in the app and by e-mail; the consumer is not.
        assert Notification.objects.filter(event=event, user=cast.merchant).exists()
        assert not Notification.objects.filter(event=event, user=cast.consumer).exists()
        assert [m.to for m in mail.outbox] == [[cast.merchant.email]]
        # The merchant sees its sanction.
        [own] = client_for(cast.merchant).get(f"/api/v1/merchants/{merchant_id}/sanctions/").json()
        assert own["id"] == sanction["id"] and own["active"] is True

        # The register shows the merchant at once.
        data = register_json()
        [entry] = data["sanctioned_merchants"]
        assert entry["merchant"]["legal_name"] == legal_name
        assert entry["level"] == "warning"
        assert entry["since"] == iso(later)
        assert entry["reason"] == "Award of 89.90 EUR not paid."
        assert entry["non_compliant_cases"] == 1
        assert (data["outcomes"]["awarded"], data["outcomes"]["non_compliant"]) == (1, 1)
        assert data["outcomes"]["compliance_rate"] == 0.0
        [row] = sanctioned_rows(register_page(client))
        assert (row["Merchant"], row["Sanction"], row["Cases not complied with"]) == (legal_name, "Warning", "1")
