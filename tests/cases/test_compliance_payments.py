"""Compliance with settlements and awards, and payments through the provider.

The merchant reports performance (or refunds through the payment provider), the consumer confirms,
disputes or stays silent, the operator decides a dispute, and the clock makes an unperformed outcome
non-compliant. Payments go through the sandbox provider (``ODR_PAYMENT_PROVIDER``); a provider that
crashes leaves a pending row that ``payment_retry_sweep`` settles once.
"""

import datetime as dt

import time_machine

from accounts.models import Role
from cases.calendars import deadline_after
from cases.deadlines import deadline_sweep, sweep_all
from cases.events import chain_verify
from cases.models import Case, CaseEvent, Deadline, Payment
from cases.payments.sandbox import SandboxProvider
from cases.services.compliance import payment_retry_sweep
from notifications.models import Notification
from tests.conftest import client_for
from tests.factories import Cast, case_in, user

SANDBOX = "cases.payments.sandbox.SandboxProvider"


class CrashingRefunds(SandboxProvider):
    """The sandbox, except that a refund never gets an answer (a network failure, a timeout)."""

    def refund(self, *, key, amount, payee, description):
        raise ConnectionError("the provider did not answer")


class CrashingReleases(SandboxProvider):
    """The sandbox, except that releasing an escrow hold never gets an answer."""

    def escrow_release(self, *, key, hold_reference, to):
        raise ConnectionError("the provider did not answer")


# --- helpers ------------------------------------------------------------------------------------
def act(who, case, action, body=None):
    return client_for(who).post(f"/api/v1/cases/{case.pk}/actions/{action}/", body or {}, format="json")


def pay(who, case, kind="refund"):
    return client_for(who).post(f"/api/v1/cases/{case.pk}/payments/{kind}/", {}, format="json")


def payments_seen_by(who, case):
    return client_for(who).get(f"/api/v1/cases/{case.pk}/payments/")


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


def fresh(case) -> Case:
    return Case.objects.get(pk=case.pk)


def event_types(case) -> list[str]:
    return list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("type", flat=True))


def last_event(case, type_) -> CaseEvent:
    return CaseEvent.objects.filter(case=case, type=type_).order_by("-seq").first()


def deadline(case, kind, status="running") -> Deadline:
    return Deadline.objects.get(case=case, kind=kind, status=status)


def comply_by(case) -> dt.datetime:
    return dt.datetime.fromisoformat(case.outcome["comply_by"].replace("Z", "+00:00"))


def notified(case, type_) -> set[int]:
    return set(Notification.objects.filter(case=case, type=type_).values_list("user_id", flat=True))


# --- reporting, confirming, disputing -----------------------------------------------------------
def test_merchant_reports_a_shipment_and_the_consumers_confirmation_closes_the_case(cast):
    case = case_in("settled", cast)

    response = act(
        cast.merchant,
        case,
        "report_compliance",
        {"reference": "TRACK-778", "kind": "shipment", "carrier": "DHL", "note": "Replacement sent."},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "compliance"
    assert body["outcome"]["compliance"] == "reported"
    assert body["outcome"]["performance"] == {
        "kind": "shipment",
        "reference": "TRACK-778",
        "carrier": "DHL",
        "note": "Replacement sent.",
    }
    # The merchant acted in time: its clock is met, and the consumer's clock to answer runs.
    assert Deadline.objects.get(case=case, kind="compliance").status == "met"
    assert deadline(case, "compliance_confirmation").party == "consumer"
    assert "confirm_compliance" in client_for(cast.consumer).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]

    response = act(cast.consumer, case, "confirm_compliance")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed"
    assert body["outcome"]["compliance"] == "confirmed"
    assert body["outcome"]["confirmed_by"] == "consumer"
    assert body["closed_at"] is not None
    assert Deadline.objects.get(case=case, kind="compliance_confirmation").status == "met"
    assert not Deadline.objects.filter(case=case, status="running").exists()
    assert event_types(case)[-2:] == ["report_compliance", "confirm_compliance"]
    assert last_event(case, "report_compliance").actor_id == cast.merchant.pk
    assert last_event(case, "confirm_compliance").actor_id == cast.consumer.pk
    assert chain_verify(fresh(case)).ok


def test_reporting_and_confirming_are_for_the_right_party_with_valid_input(cast):
    case = case_in("awarded", cast)
    outsider_shop = user(Role.MERCHANT)

    assert_error(act(cast.consumer, case, "report_compliance", {"reference": "X"}), 403, "forbidden")
    assert_error(act(cast.operator, case, "report_compliance", {"reference": "X"}), 403, "forbidden")
    assert_error(act(outsider_shop, case, "report_compliance", {"reference": "X"}), 404, "not_found")
    error = assert_error(act(cast.merchant, case, "report_compliance", {"kind": "refund"}), 400, "invalid")
    assert "reference" in error["fields"]
    error = assert_error(
        act(cast.merchant, case, "report_compliance", {"reference": "X", "kind": "gift"}), 400, "invalid"
    )
    assert "kind" in error["fields"]
    # Nothing reported yet: there is nothing to confirm or dispute.
    assert_error(act(cast.consumer, case, "confirm_compliance"), 409, "invalid_state")
    assert_error(act(cast.consumer, case, "dispute_compliance", {"reason": "Nothing came."}), 409, "invalid_state")
    assert fresh(case).status == "awarded"

    assert act(cast.merchant, case, "report_compliance", {"reference": "RF-1", "kind": "refund"}).status_code == 200
    assert_error(act(cast.merchant, case, "confirm_compliance"), 403, "forbidden")
    assert_error(act(cast.operator, case, "confirm_compliance"), 403, "forbidden")
    # Performance already reported: a second report is not allowed now.
    assert_error(act(cast.merchant, case, "report_compliance", {"reference": "RF-2"}), 409, "invalid_state")
    assert fresh(case).outcome["performance"]["reference"] == "RF-1"


def test_report_in_the_middle_of_negotiation_is_refused(cast):
    case = case_in("negotiation", cast)
    assert_error(act(cast.merchant, case, "report_compliance", {"reference": "RF-1"}), 409, "invalid_state")
    assert fresh(case).status == "negotiation"


def test_a_dispute_stops_the_consumers_clock_and_an_upheld_dispute_makes_the_case_non_compliant(cast):
    case = case_in("awarded", cast)
    act(cast.merchant, case, "report_compliance", {"reference": "TRACK-1", "kind": "shipment", "carrier": "UPS"})

    response = act(cast.consumer, case, "dispute_compliance", {"reason": "The parcel was empty."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "compliance"
    assert body["outcome"]["compliance"] == "disputed"
    assert body["outcome"]["compliance_dispute"]["reason"] == "The parcel was empty."
    assert Deadline.objects.get(case=case, kind="compliance_confirmation").status == "cancelled"
    assert body["deadlines"] == []
    # The operators hear about the dispute.
    assert cast.operator.pk in notified(case, "dispute_compliance")
    # A disputed report does not close by silence, however long the consumer waits.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=120), tick=False):
        assert deadline_sweep() == 0
    assert fresh(case).status == "compliance"
    assert_error(act(cast.consumer, case, "dispute_compliance", {"reason": "Again."}), 409, "invalid_state")

    # Only the operator decides, with a reason.
    assert_error(act(cast.merchant, case, "decide_compliance", {"upheld": False, "reason": "x"}), 403, "forbidden")
    assert_error(act(cast.consumer, case, "decide_compliance", {"upheld": True, "reason": "x"}), 403, "forbidden")
    error = assert_error(act(cast.operator, case, "decide_compliance", {"upheld": True}), 400, "invalid")
    assert "reason" in error["fields"]

    response = act(cast.operator, case, "decide_compliance", {"upheld": True, "reason": "Carrier confirms no item."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "non_compliant"
    assert body["outcome"]["compliance"] == "non_compliant"
    assert body["outcome"]["non_compliant_at"]
    decided = last_event(case, "decide_compliance")
    assert decided.actor_id == cast.operator.pk
    assert decided.payload["upheld"] is True and decided.payload["to"] == "non_compliant"


def test_the_operator_dismissing_the_dispute_closes_the_case(cast):
    case = case_in("compliance", cast)
    act(cast.consumer, case, "dispute_compliance", {"reason": "No money arrived."})

    response = act(cast.operator, case, "decide_compliance", {"upheld": False, "reason": "The bank shows the refund."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "closed"
    assert body["outcome"]["compliance"] == "confirmed"
    assert body["outcome"]["confirmed_by"] == "operator"
    assert "non_compliant_at" not in body["outcome"]


def test_no_decision_without_a_dispute(cast):
    case = case_in("compliance", cast)
    assert_error(act(cast.operator, case, "decide_compliance", {"upheld": True, "reason": "x"}), 409, "invalid_state")
    assert fresh(case).status == "compliance"


def test_a_non_compliant_merchant_may_still_perform_and_the_record_keeps_that_it_was_late(cast):
    case = case_in("non_compliant", cast)
    late_since = case.outcome["non_compliant_at"]
    assert late_since

    response = act(cast.merchant, case, "report_compliance", {"reference": "RF-LATE", "kind": "refund"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "compliance"
    assert body["outcome"]["compliance"] == "reported"
    assert body["outcome"]["non_compliant_at"] == late_since
    assert deadline(case, "compliance_confirmation").party == "consumer"

    body = act(cast.consumer, case, "confirm_compliance").json()
    assert body["status"] == "closed"
    assert body["outcome"]["compliance"] == "confirmed"
    assert body["outcome"]["non_compliant_at"] == late_since


# --- the clock ----------------------------------------------------------------------------------
def test_an_award_unperformed_by_its_comply_by_date_becomes_non_compliant_by_the_sweep(cast):
    case = case_in("awarded", cast)
    due = comply_by(case)
    assert deadline(case, "compliance").due_at == due  # the clock runs to the award's date

    with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 0
    assert fresh(case).status == "awarded"

    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 1
        assert deadline_sweep() == 0  # once

    case = fresh(case)
    assert case.status == "non_compliant"
    assert case.outcome["compliance"] == "non_compliant"
    assert case.outcome["non_compliant_at"]
    declared = last_event(case, "declare_non_compliance")
    assert declared.actor_id is None and declared.actor_role == "system"
    assert declared.payload["comply_by"] == case.outcome["comply_by"]
    assert declared.payload["from"] == "awarded" and declared.payload["to"] == "non_compliant"
    assert event_types(case)[-2:] == ["declare_non_compliance", "deadline_fired"]
    assert Deadline.objects.get(case=case, kind="compliance").status == "fired"
    # The operators are told (and the parties).
    assert cast.operator.pk in notified(case, "declare_non_compliance")
    assert {cast.consumer.pk, cast.merchant.pk} <= notified(case, "declare_non_compliance")
    assert chain_verify(case).ok


def test_an_agreed_settlement_unperformed_by_its_date_becomes_non_compliant_in_the_clocks_tick(cast):
    case = case_in("settled", cast, merchant_offer=True)
    assert case.outcome["kind"] == "settlement" and case.outcome["source"] == "offer"
    due = comply_by(case)
    assert deadline(case, "compliance").due_at == due

    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        result = sweep_all()
    assert result["deadlines"] == 1

    case = fresh(case)
    assert case.status == "non_compliant"
    assert last_event(case, "declare_non_compliance").actor_id is None


def test_a_reported_performance_is_not_declared_non_compliant_when_the_date_passes(cast):
    case = case_in("awarded", cast)
    due = comply_by(case)
    act(cast.merchant, case, "report_compliance", {"reference": "RF-9", "kind": "refund"})

    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        deadline_sweep()

    case = fresh(case)
    assert case.status != "non_compliant"
    assert case.outcome["compliance"] != "non_compliant" and "non_compliant_at" not in case.outcome
    assert "declare_non_compliance" not in event_types(case)
    assert Deadline.objects.get(case=case, kind="compliance").status == "met"


def test_the_operator_may_declare_an_award_non_compliant_only_after_its_date(cast):
    case = case_in("awarded", cast)
    due = comply_by(case)

    assert_error(act(cast.operator, case, "declare_non_compliance"), 409, "invalid_state")
    assert_error(act(cast.consumer, case, "declare_non_compliance"), 403, "forbidden")
    assert fresh(case).status == "awarded"
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        response = act(cast.operator, case, "declare_non_compliance")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "non_compliant"
    assert last_event(case, "declare_non_compliance").actor_id == cast.operator.pk


def test_a_settlement_on_the_merchant_accepting_the_claim_states_its_comply_by_date(cast):
    case = case_in("settled", cast)
    assert case.outcome["source"] == "merchant_accepted_claim"
    assert case.outcome.get("comply_by"), case.outcome
    assert comply_by(case) == deadline(case, "compliance").due_at


def test_the_operator_cannot_declare_a_fresh_settlement_non_compliant_before_its_deadline(cast):
    case = case_in("settled", cast)
    assert deadline(case, "compliance").due_at > dt.datetime.now(dt.UTC)

    response = act(cast.operator, case, "declare_non_compliance")

    assert response.status_code == 409, response.content
    assert fresh(case).status == "settled"


def test_the_consumers_silence_after_a_report_closes_the_case_by_no_objection(cast):
    case = case_in("settled", cast)
    reported_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=1)
    with time_machine.travel(reported_at, tick=False):
        act(cast.merchant, case, "report_compliance", {"reference": "RF-77", "kind": "refund"})
    due = deadline(case, "compliance_confirmation").due_at
    # 10 business days in the consumer's calendar (Spain, Europe/Madrid).
    assert due == deadline_after(reported_at, 10, "ES", "Europe/Madrid")

    with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 0
    assert fresh(case).status == "compliance"

    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 1

    case = fresh(case)
    assert case.status == "closed"
    assert case.outcome["compliance"] == "confirmed"
    assert case.outcome["confirmed_by"] == "no_objection"
    confirmed = last_event(case, "confirm_compliance")
    assert confirmed.actor_id is None
    assert confirmed.payload["by"] == "no_objection" and confirmed.payload["to"] == "closed"
    assert Deadline.objects.get(case=case, kind="compliance_confirmation").status == "fired"
    assert chain_verify(case).ok


# --- payments: refunds --------------------------------------------------------------------------
def test_a_refund_through_the_provider_pays_the_settlement_and_counts_as_reported_performance(cast):
    case = case_in("settled", cast, merchant_offer=True)  # settled on the merchant's offer of 40.00
    assert case.outcome["amount"] == {"amount": "40.00", "currency": "EUR"}

    response = pay(cast.merchant, case)

    assert response.status_code == 201, response.content
    paid = response.json()
    assert paid["kind"] == "refund"
    assert paid["status"] == "succeeded"
    assert paid["provider"] == "sandbox"
    assert paid["provider_reference"].startswith("sbx_re_")
    assert paid["payee"] == "consumer"
    assert paid["amount"] == {"amount": "40.00", "currency": "EUR"}  # the agreed amount, not the claim

    case = fresh(case)
    assert case.status == "compliance"
    assert case.outcome["compliance"] == "reported"
    assert case.outcome["performance"]["kind"] == "refund"
    assert case.outcome["performance"]["reference"] == paid["provider_reference"]
    assert case.outcome["performance"]["payment"] == paid["id"]
    assert event_types(case)[-2:] == ["payment", "report_compliance"]
    payment_event = last_event(case, "payment")
    assert payment_event.actor_id is None  # the provider's answer, recorded by the platform
    assert payment_event.payload["status"] == "succeeded"
    assert payment_event.payload["provider_reference"] == paid["provider_reference"]
    assert last_event(case, "report_compliance").actor_id is None
    assert case.outcome["performance"]["paid_by"] == cast.merchant.pk
    assert Deadline.objects.get(case=case, kind="compliance").status == "met"
    assert deadline(case, "compliance_confirmation").party == "consumer"
    assert chain_verify(case).ok

    # Every viewer of the case sees the payment; nobody else does.
    for viewer in (cast.consumer, cast.merchant, cast.operator):
        listed = payments_seen_by(viewer, case)
        assert listed.status_code == 200, listed.content
        assert [p["id"] for p in listed.json()] == [paid["id"]]
        assert listed.json()[0]["status"] == "succeeded"
    assert_error(payments_seen_by(user(Role.MERCHANT), case), 404, "not_found")
    assert_error(payments_seen_by(user(Role.CONSUMER), case), 404, "not_found")

    # Nothing is owed any more: a second refund is refused and nothing is paid twice.
    assert_error(pay(cast.merchant, case), 409, "invalid_state")
    assert Payment.objects.filter(case=case).count() == 1


def test_only_the_merchant_pays_and_only_when_something_is_owed(cast):
    case = case_in("awarded", cast)
    other_shop = user(Role.MERCHANT)
    other_mediator = user(Role.MEDIATOR)

    assert_error(pay(cast.consumer, case), 403, "forbidden")
    assert_error(pay(cast.operator, case), 403, "forbidden")
    assert_error(pay(cast.arbitrator, case), 403, "forbidden")  # the case's arbitrator sees it, may not pay
    assert_error(pay(other_shop, case), 404, "not_found")
    assert_error(pay(other_mediator, case), 404, "not_found")
    assert_error(pay(cast.consumer, case, "escrow"), 403, "forbidden")
    assert_error(pay(other_shop, case, "escrow"), 404, "not_found")
    assert client_for(None).post(f"/api/v1/cases/{case.pk}/payments/refund/").status_code == 401
    assert not Payment.objects.filter(case=case).exists()
    assert fresh(case).status == "awarded"

    others = Cast.make()
    negotiating = case_in("negotiation", others)
    assert_error(pay(others.merchant, negotiating), 409, "invalid_state")
    assert_error(pay(others.merchant, negotiating, "escrow"), 409, "invalid_state")
    closed = case_in("closed", cast)
    assert_error(pay(cast.merchant, closed), 409, "invalid_state")
    assert not Payment.objects.exists()


def test_a_declined_refund_is_recorded_and_leaves_the_case_as_it_was(cast, settings):
    case = case_in("awarded", cast)  # 89.90 EUR awarded
    settings.ODR_PAYMENT_SANDBOX_LIMIT = "50"
    events_before = event_types(case)

    response = pay(cast.merchant, case)

    assert response.status_code == 201, response.content
    declined = response.json()
    assert declined["status"] == "declined"
    assert declined["message"]
    case = fresh(case)
    assert case.status == "awarded"
    assert "performance" not in case.outcome
    assert event_types(case) == [*events_before, "payment"]
    assert last_event(case, "payment").payload["status"] == "declined"
    assert deadline(case, "compliance").party == "merchant"  # still owed, the clock still runs

    # The merchant may try again; within the limit it goes through.
    settings.ODR_PAYMENT_SANDBOX_LIMIT = "10000"
    response = pay(cast.merchant, case)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"
    assert fresh(case).status == "compliance"
    listed = payments_seen_by(cast.consumer, case).json()
    assert [(p["id"], p["status"]) for p in listed] == [
        (declined["id"], "declined"),
        (response.json()["id"], "succeeded"),
    ]


def test_a_non_compliant_merchant_refunding_through_the_provider_performs_late(cast):
    case = case_in("non_compliant", cast)
    late_since = case.outcome["non_compliant_at"]

    response = pay(cast.merchant, case)

    assert response.status_code == 201, response.content
    case = fresh(case)
    assert case.status == "compliance"
    assert case.outcome["performance"]["kind"] == "refund"
    assert case.outcome["non_compliant_at"] == late_since


# --- payments: escrow ---------------------------------------------------------------------------
def hold_in_escrow(cast, case) -> dict:
    response = pay(cast.merchant, case, "escrow")
    assert response.status_code == 201, response.content
    return response.json()


def releases(case):
    return list(Payment.objects.filter(case=case, kind="escrow_release"))


def test_escrow_is_held_once_and_released_to_the_merchant_when_the_consumer_confirms(
    cast, django_capture_on_commit_callbacks
):
    case = case_in("settled", cast)

    hold = hold_in_escrow(cast, case)

    assert hold["kind"] == "escrow_hold"
    assert hold["payee"] == "escrow"
    assert hold["status"] == "succeeded"
    assert hold["provider_reference"].startswith("sbx_eh_")
    assert hold["amount"] == {"amount": "89.90", "currency": "EUR"}
    # A guarantee, not performance: the case still waits for the merchant.
    assert fresh(case).status == "settled"
    assert last_event(case, "payment").payload["kind"] == "escrow_hold"
    assert_error(pay(cast.merchant, case, "escrow"), 409, "invalid_state")
    assert Payment.objects.filter(case=case, kind="escrow_hold").count() == 1

    act(cast.merchant, case, "report_compliance", {"reference": "TRACK-5", "kind": "shipment", "carrier": "GLS"})
    assert releases(case) == []  # nothing released before the consumer answers
    with django_capture_on_commit_callbacks(execute=True):  # the provider is asked once committed
        response = act(cast.consumer, case, "confirm_compliance")
    assert response.json()["status"] == "closed"

    [release] = releases(case)
    assert release.payee == "merchant"
    assert release.status == "succeeded"
    assert str(release.hold_id) == hold["id"]
    assert (release.amount, release.currency) == (Payment.objects.get(pk=hold["id"]).amount, "EUR")
    assert last_event(case, "confirm_compliance").payload["escrow"]["to"] == "merchant"
    listed = payments_seen_by(cast.consumer, case).json()
    assert [(p["kind"], p["payee"]) for p in listed] == [("escrow_hold", "escrow"), ("escrow_release", "merchant")]


def test_escrow_goes_to_the_consumer_when_the_sweep_declares_non_compliance(cast, django_capture_on_commit_callbacks):
    case = case_in("awarded", cast)
    hold = hold_in_escrow(cast, case)

    with (
        time_machine.travel(comply_by(case) + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert deadline_sweep() == 1

    case = fresh(case)
    assert case.status == "non_compliant"
    [release] = releases(case)
    assert release.payee == "consumer"
    assert release.status == "succeeded"
    assert str(release.hold_id) == hold["id"]
    assert last_event(case, "declare_non_compliance").payload["escrow"]["to"] == "consumer"


def test_once_the_escrow_went_to_the_consumer_the_platform_does_not_make_the_merchant_pay_again(
    cast, django_capture_on_commit_callbacks
):
    case = case_in("awarded", cast)
    hold_in_escrow(cast, case)
    with (
        time_machine.travel(comply_by(case) + dt.timedelta(seconds=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deadline_sweep()
    assert fresh(case).status == "non_compliant"
    assert [r.payee for r in releases(case)] == ["consumer"]

    response = pay(cast.merchant, case)

    assert_error(response, 409, "invalid_state")
    paid_to_consumer = Payment.objects.filter(
        case=case, status="succeeded", payee="consumer", kind__in=["refund", "escrow_release"]
    )
    assert paid_to_consumer.count() == 1


def test_escrow_goes_to_the_consumer_when_the_operator_upholds_a_dispute(cast, django_capture_on_commit_callbacks):
    case = case_in("settled", cast)
    hold_in_escrow(cast, case)
    act(cast.merchant, case, "report_compliance", {"reference": "TRACK-6", "kind": "shipment"})
    act(cast.consumer, case, "dispute_compliance", {"reason": "Tracking number is fake."})

    with django_capture_on_commit_callbacks(execute=True):
        act(cast.operator, case, "decide_compliance", {"upheld": True, "reason": "Carrier knows no such parcel."})

    assert fresh(case).status == "non_compliant"
    [release] = releases(case)
    assert (release.payee, release.status) == ("consumer", "succeeded")


def test_escrow_goes_back_to_the_merchant_when_the_operator_dismisses_a_dispute(
    cast, django_capture_on_commit_callbacks
):
    case = case_in("settled", cast)
    hold_in_escrow(cast, case)
    act(cast.merchant, case, "report_compliance", {"reference": "TRACK-7", "kind": "shipment"})
    act(cast.consumer, case, "dispute_compliance", {"reason": "Not received."})

    with django_capture_on_commit_callbacks(execute=True):
        act(cast.operator, case, "decide_compliance", {"upheld": False, "reason": "Signed for by the consumer."})

    assert fresh(case).status == "closed"
    [release] = releases(case)
    assert (release.payee, release.status) == ("merchant", "succeeded")


# --- payments: a provider that does not answer --------------------------------------------------
def test_a_refund_the_provider_never_answered_is_settled_once_by_the_retry_sweep(cast, settings):
    case = case_in("awarded", cast)
    before = (fresh(case).status, fresh(case).event_count)
    settings.ODR_PAYMENT_PROVIDER = "tests.cases.test_compliance_payments.CrashingRefunds"

    response = pay(cast.merchant, case)

    error = assert_error(response, 503, "unavailable")
    assert error["message"]
    [payment] = Payment.objects.filter(case=case)
    assert payment.status == "pending" and payment.kind == "refund"
    assert (fresh(case).status, fresh(case).event_count) == before  # nothing happened to the case
    assert [p["status"] for p in payments_seen_by(cast.merchant, case).json()] == ["pending"]
    # While the payment is in flight, no second one can start.
    assert_error(pay(cast.merchant, case), 409, "invalid_state")
    assert Payment.objects.filter(case=case).count() == 1

    settings.ODR_PAYMENT_PROVIDER = SANDBOX
    assert payment_retry_sweep(older_than=dt.timedelta(0)) == 1

    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert payment.provider_reference.startswith("sbx_re_")
    case = fresh(case)
    assert case.status == "compliance"
    assert case.outcome["performance"]["reference"] == payment.provider_reference
    assert event_types(case).count("payment") == 1
    assert event_types(case).count("report_compliance") == 1

    # Again: nothing more is paid or reported.
    assert payment_retry_sweep(older_than=dt.timedelta(0)) == 0
    assert Payment.objects.filter(case=case).count() == 1
    assert event_types(case).count("payment") == 1
    assert event_types(case).count("report_compliance") == 1
    assert chain_verify(case).ok


def test_the_retry_sweep_leaves_a_fresh_pending_payment_alone(cast, settings):
    case = case_in("awarded", cast)
    settings.ODR_PAYMENT_PROVIDER = "tests.cases.test_compliance_payments.CrashingRefunds"
    assert pay(cast.merchant, case).status_code == 503
    settings.ODR_PAYMENT_PROVIDER = SANDBOX

    assert payment_retry_sweep() == 0  # younger than two minutes: perhaps still in flight
    assert Payment.objects.get(case=case).status == "pending"
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3), tick=False):
        assert payment_retry_sweep() == 1
    assert Payment.objects.get(case=case).status == "succeeded"
    assert fresh(case).status == "compliance"


def test_an_escrow_release_the_provider_never_answered_is_retried_as_a_release(cast, settings):
    case = case_in("settled", cast)
    hold = hold_in_escrow(cast, case)
    act(cast.merchant, case, "report_compliance", {"reference": "TRACK-8", "kind": "shipment"})
    settings.ODR_PAYMENT_PROVIDER = "tests.cases.test_compliance_payments.CrashingReleases"

    assert act(cast.consumer, case, "confirm_compliance").json()["status"] == "closed"

    [release] = releases(case)
    assert release.status == "pending" and release.payee == "merchant"
    settings.ODR_PAYMENT_PROVIDER = SANDBOX
    assert payment_retry_sweep(older_than=dt.timedelta(0)) == 1
    release.refresh_from_db()
    assert release.status == "succeeded"
    # The sandbox's references name the operation: a release, of the hold that was made.
    assert release.provider_reference.startswith("sbx_er_"), release.provider_reference
    assert str(release.hold_id) == hold["id"]
