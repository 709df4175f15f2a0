"""The compliance part of the lifecycle, as stories through the API: the moment the date to comply
passes, a dispute waiting for the operator, a second round after an upheld dispute, and closing a case
not complied with.

Each single transition (who, from where, 409 when not now, 400 on bad input) is a row of the tables in
``test_transitions_api.py``; payments, escrow, notifications and the deadline sweep's side of compliance
are in ``test_compliance_payments.py``. The expectations here are written out, not read from the code.
"""

import datetime as dt

import pytest
import time_machine

from cases.deadlines import deadline_sweep
from cases.events import chain_verify
from cases.models import Case, CaseEvent
from tests.conftest import client_for
from tests.factories import case_in

pytestmark = pytest.mark.django_db

REPORT = {"reference": "SEPA-2026-11-02", "kind": "refund"}
DISPUTE = {"reason": "No money arrived on my account."}
UPHOLD = {"upheld": True, "reason": "The bank has no record of the refund."}
DISMISS = {"upheld": False, "reason": "The bank statement shows the refund."}


def act(user, case, action, body=None):
    return client_for(user).post(f"/api/v1/cases/{case.pk}/actions/{action}/", body or {}, format="json")


def allowed(user, case) -> list[str]:
    response = client_for(user).get(f"/api/v1/cases/{case.pk}/")
    assert response.status_code == 200, response.content
    return response.json()["allowed_actions"]


def refused(response, status=409, code="invalid_state"):
    assert response.status_code == status, (response.status_code, response.content)
    assert response.json()["error"]["code"] == code, response.content
    return True


def ok(response, status: str) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == status, body["status"]
    return body


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def events(case, type_) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, type=type_).order_by("seq"))


def comply_by(case) -> dt.datetime:
    return dt.datetime.fromisoformat(case.outcome["comply_by"].replace("Z", "+00:00"))


def parties_and_operator(cast):
    return {"consumer": cast.consumer, "merchant": cast.merchant, "operator": cast.operator}


def who_may(cast, case) -> dict[str, list[str]]:
    return {name: allowed(user, case) for name, user in parties_and_operator(cast).items()}


# --- the date to comply ---------------------------------------------------------------------------
@pytest.mark.parametrize("outcome", ["settlement on the merchant's offer", "award"])
def test_the_operator_may_declare_non_compliance_from_the_instant_after_the_date_to_comply(cast, outcome):
    case = case_in("settled", cast, merchant_offer=True) if outcome != "award" else case_in("awarded", cast)
    state = case.status
    due = comply_by(case)

    # Up to and including the date to comply, performance is still due: 409, and not offered.
    for moment in (due - dt.timedelta(days=1), due):
        with time_machine.travel(moment, tick=False):
            assert "declare_non_compliance" not in allowed(cast.operator, case)
            assert refused(act(cast.operator, case, "declare_non_compliance"))
    assert fresh(case).status == state

    # A microsecond later it has not been carried out.
    with time_machine.travel(due + dt.timedelta(microseconds=1), tick=False):
        assert who_may(cast, case) == {
            "consumer": [],
            "merchant": ["report_compliance"],
            "operator": ["close", "declare_non_compliance"],
        }
        body = ok(act(cast.operator, case, "declare_non_compliance"), "non_compliant")
    assert body["outcome"]["compliance"] == "non_compliant"
    assert body["outcome"]["non_compliant_at"]
    [declared] = events(case, "declare_non_compliance")
    assert (declared.actor_id, declared.payload["from"], declared.payload["to"]) == (
        cast.operator.pk,
        state,
        "non_compliant",
    )

    # Declared once: neither the operator again nor, later, the clock.
    assert refused(act(cast.operator, case, "declare_non_compliance"))
    with time_machine.travel(due + dt.timedelta(days=30), tick=False):
        deadline_sweep()
    assert fresh(case).status == "non_compliant"
    assert len(events(case, "declare_non_compliance")) == 1
    assert chain_verify(fresh(case)).ok


# --- a dispute waiting for the operator -----------------------------------------------------------
def test_while_a_dispute_waits_the_consumer_may_still_confirm_and_nobody_disputes_again(cast):
    case = case_in("compliance", cast)
    assert who_may(cast, case) == {
        "consumer": ["confirm_compliance", "dispute_compliance"],
        "merchant": [],
        "operator": ["close"],  # nothing to decide yet
    }
    assert refused(act(cast.operator, case, "decide_compliance", UPHOLD))

    body = ok(act(cast.consumer, case, "dispute_compliance", DISPUTE), "compliance")

    assert body["outcome"]["compliance"] == "disputed"
    assert who_may(cast, case) == {
        "consumer": ["confirm_compliance"],
        "merchant": [],
        "operator": ["close", "decide_compliance"],
    }
    before = events(case, "dispute_compliance")
    assert refused(act(cast.consumer, case, "dispute_compliance", {"reason": "And again."}))
    assert events(case, "dispute_compliance") == before
    assert fresh(case).outcome["compliance_dispute"]["reason"] == DISPUTE["reason"]

    # The consumer changes their mind before the operator decides: the case closes, nothing is left to decide.
    body = ok(act(cast.consumer, case, "confirm_compliance"), "closed")
    assert body["outcome"]["compliance"] == "confirmed"
    assert body["outcome"]["confirmed_by"] == "consumer"
    assert refused(act(cast.operator, case, "decide_compliance", UPHOLD))
    assert who_may(cast, case) == {"consumer": [], "merchant": [], "operator": []}


# --- a second round ---------------------------------------------------------------------------------
def test_after_an_upheld_dispute_the_merchant_may_perform_again_and_be_disputed_again(cast):
    case = case_in("awarded", cast)
    ok(
        act(cast.merchant, case, "report_compliance", {"reference": "1Z999", "kind": "shipment", "carrier": "UPS"}),
        "compliance",
    )
    ok(act(cast.consumer, case, "dispute_compliance", {"reason": "The box was empty."}), "compliance")

    body = ok(act(cast.operator, case, "decide_compliance", UPHOLD), "non_compliant")

    late_since = body["outcome"]["non_compliant_at"]
    assert late_since and body["outcome"]["compliance"] == "non_compliant"
    assert who_may(cast, case) == {"consumer": [], "merchant": ["report_compliance"], "operator": ["close"]}
    for user, action, payload in (
        (cast.operator, "decide_compliance", DISMISS),
        (cast.consumer, "dispute_compliance", DISPUTE),
        (cast.consumer, "confirm_compliance", {}),
        (cast.operator, "declare_non_compliance", {}),
    ):
        assert refused(act(user, case, action, payload)), action

    # Performing late reopens the consumer's answer, a new dispute included.
    body = ok(act(cast.merchant, case, "report_compliance", REPORT), "compliance")
    assert body["outcome"]["compliance"] == "reported"
    assert body["outcome"]["performance"]["kind"] == "refund"
    assert "compliance_dispute" not in body["outcome"]
    assert body["outcome"]["non_compliant_at"] == late_since  # the record keeps that it was late
    assert who_may(cast, case)["consumer"] == ["confirm_compliance", "dispute_compliance"]
    ok(act(cast.consumer, case, "dispute_compliance", {"reason": "Only half of it arrived."}), "compliance")

    body = ok(act(cast.operator, case, "decide_compliance", DISMISS), "closed")

    assert body["outcome"]["confirmed_by"] == "operator"
    decisions = [(e.payload["upheld"], e.payload["to"]) for e in events(case, "decide_compliance")]
    assert decisions == [(True, "non_compliant"), (False, "closed")]
    assert chain_verify(fresh(case)).ok


# --- closing a case not complied with -----------------------------------------------------------------
def test_the_operator_closes_a_case_whose_dispute_was_upheld_and_the_merchant_can_no_longer_report(cast):
    case = case_in("compliance", cast)
    ok(act(cast.consumer, case, "dispute_compliance", DISPUTE), "compliance")
    ok(act(cast.operator, case, "decide_compliance", UPHOLD), "non_compliant")
    for party in (cast.consumer, cast.merchant):
        assert refused(act(party, case, "close", {"reason": "Done."}), 403, "forbidden")

    body = ok(act(cast.operator, case, "close", {"reason": "Referred to the enforcement authority."}), "closed")

    assert body["closed_at"]
    assert body["outcome"]["compliance"] == "non_compliant"  # closed, never complied with
    [closed] = events(case, "close")
    assert (closed.actor_id, closed.payload["from"], closed.payload["to"]) == (
        cast.operator.pk,
        "non_compliant",
        "closed",
    )
    assert refused(act(cast.merchant, case, "report_compliance", REPORT))
    assert who_may(cast, case) == {"consumer": [], "merchant": [], "operator": []}
