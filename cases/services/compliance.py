"""Compliance with a settlement or an award: the merchant reports performance (or refunds through the
payment provider), the consumer confirms or disputes, the operator decides a dispute, and the clock
makes an unperformed outcome non-compliant. One transaction each, its event on the chain.

The states: ``settled``/``awarded`` (performance due by ``outcome.comply_by``) -> ``compliance``
(reported; the consumer has ``COMPLIANCE_CONFIRMATION`` business days to answer, silence confirms) ->
``closed``; or ``non_compliant`` when the date passes unperformed or a dispute is upheld (sanctions
follow: ``oversight``). A non-compliant merchant may still perform; the record keeps that it was late.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.errors import Conflict, Forbidden, ServiceUnavailable

from .. import policies, selectors
from ..deadlines import deadline_cancel
from ..events import event_append, iso_utc
from ..models import Case, DeadlineKind, Payment, PerformanceKind, Status
from ..money import Money
from ..payments import provider as payment_provider
from .lifecycle import transition_perform as _perform

logger = logging.getLogger(__name__)

#: States in which the merchant owes performance and may pay through the provider.
PERFORMANCE_DUE = (Status.SETTLED, Status.AWARDED, Status.NON_COMPLIANT)


def case_report_compliance(
    *, actor, case_id, reference: str, kind: str = PerformanceKind.OTHER, carrier: str = "", note: str = "",
    payment=None,
) -> Case:  # fmt: skip
    """The merchant says what it did: a refund's payment reference, a shipment's tracking number."""
    performance = {"kind": kind, "reference": reference, "carrier": carrier, "note": note}
    if payment is not None:
        performance.update(payment=str(payment.pk), provider=payment.provider)

    def run(case):
        case.report_compliance(performance=performance)
        return {"reference": reference, "performance": performance}

    return _perform(actor=actor, case_id=case_id, action="report_compliance", run=run)


def case_confirm_compliance(*, actor, case_id) -> Case:
    def run(case):
        case.confirm_compliance(at=timezone.now())
        return _escrow_back_to_merchant(case)

    return _perform(actor=actor, case_id=case_id, action="confirm_compliance", run=run)


def compliance_confirm_by_silence(*, case_id) -> Case:
    """The consumer neither confirmed nor disputed in time (the sweep): the reported performance stands."""

    def check(case):
        if case.status != Status.COMPLIANCE or case.compliance_disputed():
            raise Conflict(_("Performance is no longer waiting for the consumer's answer."))

    def run(case):
        case.confirm_compliance(at=timezone.now(), by="no_objection")
        return {"by": "no_objection", **_escrow_back_to_merchant(case)}

    return _perform(actor=None, case_id=case_id, action="confirm_compliance", run=run, check=check)


def case_dispute_compliance(*, actor, case_id, reason: str) -> Case:
    """The consumer says the performance did not happen; the confirmation clock stops, the operator decides."""

    def run(case):
        case.dispute_compliance(reason=reason, at=timezone.now())
        deadline_cancel(case, DeadlineKind.COMPLIANCE_CONFIRMATION)
        return {"reason": reason}

    return _perform(actor=actor, case_id=case_id, action="dispute_compliance", run=run)


def case_decide_compliance(*, actor, case_id, upheld: bool, reason: str) -> Case:
    """The operator decides the consumer's dispute: upheld, the case is non-compliant; else it closes."""

    def run(case):
        now = timezone.now()
        case.decide_compliance(upheld=upheld, at=now)
        extra = _escrow_to_consumer(case) if upheld else _escrow_back_to_merchant(case)
        return {"upheld": upheld, "reason": reason, **extra}

    return _perform(actor=actor, case_id=case_id, action="decide_compliance", run=run)


def case_declare_non_compliance(*, actor, case_id) -> Case:
    """The comply-by date passed without performance (the sweep, ``actor=None``, or the operator)."""

    def check(case):
        if case.status not in (Status.SETTLED, Status.AWARDED):
            raise Conflict(_("Only an outcome still waiting for performance can become non-compliant."))
        if (held := policies.refund_hold(case)) is not None:  # a refund started since the sweep read its rows
            raise Conflict(held)

    def run(case):
        case.declare_non_compliance(at=iso_utc(timezone.now()))
        return {"comply_by": case.outcome.get("comply_by"), **_escrow_to_consumer(case)}

    return _perform(
        actor=actor, case_id=case_id, action="declare_non_compliance", run=run, check=check if actor is None else None
    )


# --- payments through the provider -------------------------------------------------------------
def _owed(case: Case) -> Money:
    amount = (case.outcome or {}).get("amount")
    if not amount:
        raise Conflict(_("This outcome has no amount to pay."))
    return Money(amount=Decimal(amount["amount"]), currency=amount["currency"])


def payment_refusal(actor, case, kind: str):
    if case.party_of(actor) != "merchant":
        return Forbidden(_("Only the merchant pays through the platform."))
    if case.status not in PERFORMANCE_DUE:
        return Conflict(_("Nothing is waiting to be paid at this stage of the case."))
    if kind == Payment.Kind.ESCROW_HOLD and _escrow_held(case) is not None:
        return Conflict(_("The amount is already held in escrow."))
    if kind == Payment.Kind.REFUND and _escrow_held(case) is not None:
        return Conflict(_("The amount is held in escrow; it goes to the consumer if the outcome is not complied with."))
    if Payment.objects.filter(case=case, kind=Payment.Kind.REFUND, status=Payment.Status.SUCCEEDED).exists():
        return Conflict(_("The consumer has already been refunded through the platform."))
    if Payment.objects.filter(case=case, status=Payment.Status.PENDING).exists():
        return Conflict(_("A payment on this case is still being processed."))
    if Payment.objects.filter(
        case=case, kind=Payment.Kind.ESCROW_RELEASE, payee="consumer", status=Payment.Status.SUCCEEDED
    ).exists():
        return Conflict(_("The consumer has already been paid from escrow."))
    return None


def _escrow_held(case: Case):
    """The succeeded escrow hold not yet released (nor being released), if any."""
    return (
        Payment.objects.filter(case=case, kind=Payment.Kind.ESCROW_HOLD, status=Payment.Status.SUCCEEDED)
        .exclude(releases__status__in=[Payment.Status.SUCCEEDED, Payment.Status.PENDING])
        .first()
    )


def payment_start(*, actor, case_id, kind: str) -> Payment:
    """The merchant refunds the consumer (counts as reported performance) or pays the amount into escrow
    (a guarantee while it performs otherwise: released to the merchant on confirmation, to the consumer
    on non-compliance). Three steps: record the pending payment, ask the provider, settle."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        refusal = payment_refusal(actor, case, kind)
        if refusal is not None:
            raise refusal
        owed = _owed(case)
        payment = Payment.objects.create(
            case=case,
            kind=kind,
            made_by=actor,
            amount=owed.amount,
            currency=owed.currency,
            payee="consumer" if kind == Payment.Kind.REFUND else "escrow",
            provider=payment_provider().name,
        )
    return payment_settle(payment_id=payment.pk)


def payment_settle(*, payment_id) -> Payment:
    """Ask the provider for a pending payment (again: the key makes it idempotent) and record its answer."""
    payment = Payment.objects.select_related("case", "hold").get(pk=payment_id)
    if payment.status != Payment.Status.PENDING:
        return payment
    money = Money(payment.amount, payment.currency)
    description = f"{payment.case.reference} {payment.kind}"
    try:
        if payment.kind == Payment.Kind.REFUND:
            result = payment_provider().refund(
                key=str(payment.pk), amount=money, payee=f"consumer:{payment.case.consumer_id}", description=description
            )
        elif payment.kind == Payment.Kind.ESCROW_RELEASE:
            result = payment_provider().escrow_release(
                key=str(payment.pk), hold_reference=payment.hold.provider_reference, to=payment.payee
            )
        else:
            result = payment_provider().escrow_hold(
                key=str(payment.pk), amount=money, payer=f"merchant:{payment.case.merchant_id}", description=description
            )
    except Exception as exc:
        logger.exception("payment %s: the provider did not answer", payment.pk)
        raise ServiceUnavailable(_("The payment provider did not answer; the payment will be retried.")) from exc
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=payment.case_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.PENDING:
            return payment
        payment.status = Payment.Status.SUCCEEDED if result.ok else Payment.Status.DECLINED
        payment.provider_reference = result.reference
        payment.message = result.message[:300]
        payment.settled_at = timezone.now()
        payment.save(update_fields=["status", "provider_reference", "message", "settled_at"])
        event_append(case=case, type="payment", actor=None, payload=payment_summary(payment))
        if result.ok and payment.kind == Payment.Kind.REFUND and case.status in PERFORMANCE_DUE:
            _report_refund(case, payment)
    return payment


def _report_refund(case: Case, payment: Payment) -> None:
    """The provider confirmed the refund: that is the merchant's performance, recorded by the platform
    (not under the paying user's policy, who may have left the organisation since)."""
    performance = {
        "kind": PerformanceKind.REFUND,
        "reference": payment.provider_reference,
        "carrier": "",
        "note": "",
        "payment": str(payment.pk),
        "provider": payment.provider,
        "paid_by": payment.made_by_id,
    }

    def run(locked):
        locked.report_compliance(performance=performance)
        deadline_cancel(locked, DeadlineKind.COMPLIANCE, met=True)  # the merchant did act, through the provider
        return {"reference": payment.provider_reference, "performance": performance}

    _perform(actor=None, case_id=case.pk, action="report_compliance", run=run, check=lambda c: None)


def payment_retry_sweep(*, older_than: dt.timedelta = dt.timedelta(minutes=2), batch: int = 50) -> int:
    """Settle payments left pending by a crash between the provider's call and its answer."""
    cutoff = timezone.now() - older_than
    done = 0
    pending = Payment.objects.filter(status=Payment.Status.PENDING, created_at__lte=cutoff)
    for pk in pending.order_by("created_at", "id").values_list("pk", flat=True)[:batch]:  # the oldest first
        try:
            if payment_settle(payment_id=pk).status != Payment.Status.PENDING:
                done += 1
        except Exception:
            logger.exception("payment %s could not be settled", pk)
    return done


def payment_summary(payment: Payment) -> dict:
    """A payment as the event log and the API show it."""
    return {
        "payment": str(payment.pk),
        "kind": payment.kind,
        "amount": Money(payment.amount, payment.currency).as_dict(),
        "payee": payment.payee,
        "provider": payment.provider,
        "provider_reference": payment.provider_reference,
        "status": payment.status,
        "message": payment.message,
    }


def _escrow_release(case: Case, to: str) -> dict:
    """Release the case's escrow hold, if any, inside the caller's transaction; the payload to log.

    The release is recorded as pending first; the sandbox answers at once. A real provider that cannot
    answer inside the transaction leaves the row pending for ``payment_retry_sweep``."""
    hold = _escrow_held(case)
    if hold is None:
        return {}
    release = Payment.objects.create(
        case=case,
        kind=Payment.Kind.ESCROW_RELEASE,
        amount=hold.amount,
        currency=hold.currency,
        payee=to,
        hold=hold,
        provider=hold.provider,
    )
    # The provider is asked once the release is committed (never inside the transaction: a rollback
    # after money moved would lose the row); the retry sweep asks again if this process dies first.
    transaction.on_commit(lambda pk=release.pk: _settle_quietly(pk))
    return {"escrow": {"payment": str(release.pk), "to": to, "status": "pending"}}


def _settle_quietly(payment_id) -> None:
    try:
        payment_settle(payment_id=payment_id)
    except Exception:
        logger.exception("payment %s: left pending for the retry sweep", payment_id)


def escrow_release_on_close(case: Case) -> dict:
    """The operator closes a case with money still in escrow: to the consumer if the outcome was not
    complied with, else back to the merchant."""
    return _escrow_release(case, "consumer" if case.status == Status.NON_COMPLIANT else "merchant")


def _escrow_back_to_merchant(case: Case) -> dict:
    return _escrow_release(case, "merchant")


def _escrow_to_consumer(case: Case) -> dict:
    return _escrow_release(case, "consumer")


def payment_list_for(user, case_id):
    case = selectors.case_get_for(user, case_id)
    return list(case.payments.order_by("created_at", "id"))


__all__ = [
    "case_confirm_compliance",
    "case_decide_compliance",
    "case_declare_non_compliance",
    "case_dispute_compliance",
    "case_report_compliance",
    "compliance_confirm_by_silence",
    "payment_list_for",
    "payment_retry_sweep",
    "payment_settle",
    "payment_summary",
    "payment_start",
]
