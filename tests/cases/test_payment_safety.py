"""Money is paid once: no refund beside an escrow hold or after a refund, escrow never left behind when
the operator closes a case, a refund the provider confirmed is recorded even if its payer has left, and
no hand-made report while a payment is under way."""

import pytest

from cases.models import Case, Payment
from cases.services.compliance import payment_settle
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
