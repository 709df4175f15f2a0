"""Money is paid once: no refund beside an escrow hold or after a refund, escrow never left behind when
the operator closes a case, a refund the provider confirmed is recorded even if its payer has left, and
no hand-made report while a payment is under way, and a date to comply that passes while a refund is
under way waits for the provider's answer."""

import datetime as dt

import pytest
import time_machine

from cases.deadlines import deadline_sweep
from cases.models import Case, CaseEvent, Payment
from cases.services.compliance import case_declare_non_compliance, payment_settle
from odr.errors import Conflict
from tests.conftest import client_for
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db


def act(who, case, action, body=None):
    return client_for(who).post(f"/api/v1/cases/{case.pk}/actions/{action}/", body or {}, format="json")


def pay(who, case, kind="refund"):
    return client_for(who).post(f"/api/v1/cases/{case.pk}/payments/{kind}/", {}, format="json")


def paid_to_consumer(case) -> int:
    return Payment.objects.filter(
        case=case, status="succeeded", payee="consumer", kind__in=["refund", "escrow_release"]
    ).count()


def test_no_refund_beside_an_escrow_hold_and_no_second_refund(django_capture_on_commit_callbacks):
    cast = Cast.make()
    held = case_in("settled", cast)
    assert pay(cast.merchant, held, "escrow").status_code == 201
    response = pay(cast.merchant, held)
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_state"

    refunded = case_in("awarded", Cast.make())
    merchant = refunded.merchant.users.get()
    assert pay(merchant, refunded).status_code == 201
    consumer = refunded.consumer
    act(consumer, refunded, "dispute_compliance", {"reason": "Nothing arrived."})
    operator = Cast.make().operator
    act(operator, refunded, "decide_compliance", {"upheld": True, "reason": "The bank shows nothing."})
    assert Case.objects.get(pk=refunded.pk).status == "non_compliant"
    assert pay(merchant, refunded).status_code == 409  # already refunded once through the platform
    assert paid_to_consumer(refunded) == 1


@pytest.mark.parametrize(("state", "payee"), [("settled", "merchant"), ("non_compliant", "consumer")])
def test_closing_a_case_releases_the_escrow(state, payee, django_capture_on_commit_callbacks):
    cast = Cast.make()
    case = case_in("settled", cast)
    assert pay(cast.merchant, case, "escrow").status_code == 201
    if state == "non_compliant":
        Case.objects.filter(pk=case.pk).update(outcome={**case.outcome, "comply_by": "2020-01-01T00:00:00Z"})
        assert act(cast.operator, case, "declare_non_compliance").status_code == 200
        Payment.objects.filter(case=case, kind="escrow_release").delete()  # as if its release failed
    with django_capture_on_commit_callbacks(execute=True):
        response = act(cast.operator, case, "close", {"reason": "Done."})
    assert response.status_code == 200, response.content
    release = Payment.objects.get(case=case, kind="escrow_release")
    assert (release.payee, release.status) == (payee, "succeeded")


def test_a_confirmed_refund_is_recorded_even_after_its_payer_left(django_capture_on_commit_callbacks):
    cast = Cast.make()
    case = case_in("awarded", cast)
    # The refund was written pending, then the process died before the provider's answer was recorded.
    payment = Payment.objects.create(
        case=case, kind="refund", made_by=cast.merchant, amount=case.claim_amount, currency=case.claim_currency,
        payee="consumer", provider="sandbox",
    )  # fmt: skip
    cast.merchant.is_active = False
    cast.merchant.save(update_fields=["is_active"])
    settled = payment_settle(payment_id=payment.pk)
    assert settled.status == "succeeded"
    case = Case.objects.get(pk=case.pk)
    assert case.status == "compliance"
    assert case.outcome["performance"]["paid_by"] == cast.merchant.pk
    assert case.deadlines.get(kind="compliance").status == "met"


def test_no_hand_made_report_while_a_payment_is_pending():
    cast = Cast.make()
    case = case_in("settled", cast)
    Payment.objects.create(
        case=case, kind="refund", made_by=cast.merchant, amount=1, currency="EUR", payee="consumer",
        provider="sandbox",
    )  # fmt: skip
    response = act(cast.merchant, case, "report_compliance", {"reference": "BANK-1"})
    assert response.status_code == 409
    assert (
        "report_compliance" not in client_for(cast.merchant).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]
    )


# --- a refund under way when the date to comply passes ---------------------------------------------
def _refund_started_before_the_date_to_comply(cast, *, amount=None):
    """An award whose merchant started a refund an hour before the date to comply; the provider has not
    answered yet. Returns the case, the pending payment and the date to comply."""
    case = case_in("awarded", cast)
    due = case.deadlines.get(kind="compliance").due_at
    with time_machine.travel(due - dt.timedelta(hours=1), tick=False):
        payment = Payment.objects.create(
            case=case, kind="refund", made_by=cast.merchant, amount=amount or case.claim_amount,
            currency=case.claim_currency, payee="consumer", provider="sandbox",
        )  # fmt: skip
    return case, payment, due


def _sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return deadline_sweep()


def test_the_date_to_comply_waits_for_a_refund_under_way_and_a_confirmed_one_meets_it():
    cast = Cast.make()
    case, payment, due = _refund_started_before_the_date_to_comply(cast)
    assert _sweep_at(due + dt.timedelta(minutes=1)) == 0
    assert Case.objects.get(pk=case.pk).status == "awarded"
    with time_machine.travel(due + dt.timedelta(minutes=2), tick=False):
        response = act(cast.operator, case, "declare_non_compliance")
        assert response.status_code == 409
        assert "refund on this case is still being processed" in response.json()["error"]["message"]
        assert payment_settle(payment_id=payment.pk).status == "succeeded"
    case = Case.objects.get(pk=case.pk)
    assert case.status == "compliance"
    assert case.deadlines.get(kind="compliance").status == "met"  # performed, not breached
    assert not CaseEvent.objects.filter(case=case, type="deadline_fired").exists()


def test_a_declined_refund_lets_the_date_to_comply_fire(settings):
    cast = Cast.make()
    case, payment, due = _refund_started_before_the_date_to_comply(cast)
    settings.ODR_PAYMENT_SANDBOX_LIMIT = "1"  # the sandbox declines it
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert payment_settle(payment_id=payment.pk).status == "declined"
    assert _sweep_at(due + dt.timedelta(minutes=2)) == 1
    assert Case.objects.get(pk=case.pk).status == "non_compliant"


def test_a_provider_that_never_answers_holds_the_date_to_comply_for_a_day_at_most():
    cast = Cast.make()
    case, payment, due = _refund_started_before_the_date_to_comply(cast)
    assert _sweep_at(due + dt.timedelta(hours=23, minutes=59)) == 0
    with time_machine.travel(due + dt.timedelta(hours=24, seconds=1), tick=False):
        assert (
            "declare_non_compliance"
            in client_for(cast.operator).get(f"/api/v1/cases/{case.pk}/").json()["allowed_actions"]
        )
    assert _sweep_at(due + dt.timedelta(hours=24, minutes=1)) == 1
    assert Case.objects.get(pk=case.pk).status == "non_compliant"


def test_a_refund_started_after_the_date_to_comply_does_not_hold_it():
    cast = Cast.make()
    case = case_in("awarded", cast)
    due = case.deadlines.get(kind="compliance").due_at
    with time_machine.travel(due + dt.timedelta(seconds=5), tick=False):  # the sweep has not come round yet
        Payment.objects.create(
            case=case, kind="refund", made_by=cast.merchant, amount=case.claim_amount,
            currency=case.claim_currency, payee="consumer", provider="sandbox",
        )  # fmt: skip
    assert _sweep_at(due + dt.timedelta(minutes=1)) == 1
    assert Case.objects.get(pk=case.pk).status == "non_compliant"


def test_the_sweep_rechecks_a_refund_started_after_it_read_its_rows():
    """A refund committed between the sweep's query and its lock on the case: the consequence refuses under
    the lock, the clock stays running, and the next sweep leaves it to the refund's answer."""
    cast = Cast.make()
    case, payment, due = _refund_started_before_the_date_to_comply(cast)
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False), pytest.raises(Conflict):
        case_declare_non_compliance(actor=None, case_id=case.pk)
    assert Case.objects.get(pk=case.pk).status == "awarded"
    assert case.deadlines.get(kind="compliance").status == "running"
