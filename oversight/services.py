"""The operator's writes: sanctions on the ladder, and lifting them.

Each sanction goes on the merchant's record (``Sanction``) and on the event log of every case it answers
(``sanction_applied``), in one transaction; that event notifies the merchant's users and, by signed
webhook, its platform (``notifications``).
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import MerchantOrganisation
from cases.events import event_append
from cases.models import Case, Status
from odr.errors import Conflict, NotFound, ValidationFailed, uuids

from . import policies
from .models import LADDER, AlertStatus, RiskAlert, Sanction, SanctionLevel
from .selectors import register_forget

#: How many of the merchant's non-compliant cases a sanction cites when the operator names none.
DEFAULT_GROUNDS = 50


def _raise(refusal):
    if refusal is not None:
        raise refusal


def current_sanction(merchant_id) -> Sanction | None:
    """The merchant's highest active sanction."""
    active = list(Sanction.objects.filter(merchant_id=merchant_id, lifted_at__isnull=True))
    return max(active, key=lambda s: (s.rank, s.imposed_at), default=None)


#: A case whose outcome is not carried out now (grounds for a sanction).
NON_COMPLIANT_Q = Q(status=Status.NON_COMPLIANT)


def non_compliant_cases(merchant_id):
    return Case.objects.filter(NON_COMPLIANT_Q, merchant_id=merchant_id).order_by("-updated_at")


def sanction_apply(*, actor, merchant_id, level: str | None, reason: str, case_ids: list | None = None) -> Sanction:
    """The next step on the ladder (or ``level``, which must be above the merchant's current one)."""
    _raise(policies.sanction_write_refusal(actor))
    if level is not None and level not in LADDER:
        raise ValidationFailed(fields={"level": [_("Choose a level on the ladder.")]})
    with transaction.atomic():
        merchant = MerchantOrganisation.objects.select_for_update().filter(pk=merchant_id).first()
        if merchant is None:
            raise NotFound(_("There is no such merchant."))
        current = current_sanction(merchant.pk)
        rank = current.rank if current else -1
        if level is None:
            if rank + 1 >= len(LADDER):
                raise Conflict(_("The merchant is already at the top of the ladder: its store is closed."))
            level = LADDER[rank + 1]
        elif LADDER.index(level) <= rank:
            raise Conflict(
                _("The merchant is already under “%(level)s”; a new sanction must go up the ladder.")
                % {"level": SanctionLevel(current.level).label}
            )
        if case_ids:
            wanted = list(dict.fromkeys(str(c) for c in uuids(case_ids, field="cases")))
            cases = list(
                Case.objects.select_for_update().filter(pk__in=wanted, merchant=merchant).exclude(status=Status.DRAFT)
            )
            missing = sorted(set(wanted) - {str(c.pk) for c in cases})
            if missing:
                raise ValidationFailed(
                    fields={
                        "cases": [_("These are not cases against this merchant: %(ids)s") % {"ids": ", ".join(missing)}]
                    }
                )
        else:
            cases = list(non_compliant_cases(merchant.pk).select_for_update()[:DEFAULT_GROUNDS])
            if not cases:
                raise ValidationFailed(
                    fields={
                        "cases": [_("Name the cases this sanction answers: the merchant has no non-compliant case.")]
                    }
                )
        sanction = Sanction.objects.create(merchant=merchant, level=level, reason=reason, imposed_by=actor)
        sanction.cases.set(cases)
        payload = {
            "sanction": sanction.pk,
            "merchant": merchant.pk,
            "level": level,
            "previous": current.level if current else None,
            "reason": reason,
        }
        for case in sorted(cases, key=lambda c: c.reference):
            event_append(case=case, type="sanction_applied", actor=actor, payload=payload)
        transaction.on_commit(register_forget)
    return sanction


def sanction_lift(*, actor, merchant_id, sanction_id, reason: str) -> Sanction:
    _raise(policies.sanction_write_refusal(actor))
    with transaction.atomic():
        sanction = Sanction.objects.select_for_update().filter(pk=sanction_id, merchant_id=merchant_id).first()
        if sanction is None:
            raise NotFound(_("There is no such sanction."))
        if sanction.lifted_at is not None:
            raise Conflict(_("This sanction has already been lifted."))
        sanction.lifted_at = timezone.now()
        sanction.lifted_by = actor
        sanction.lift_reason = reason
        sanction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        payload = {"sanction": sanction.pk, "merchant": sanction.merchant_id, "level": sanction.level, "reason": reason}
        for case in sanction.cases.select_for_update().order_by("reference"):
            event_append(case=case, type="sanction_lifted", actor=actor, payload=payload)
        transaction.on_commit(register_forget)
    return sanction


# --- risk alerts ------------------------------------------------------------------------------------------


def _alert_locked(actor, alert_id) -> RiskAlert:
    _raise(policies.alert_refusal(actor))
    alert = RiskAlert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("There is no such alert."))
    if alert.status == AlertStatus.ACTIONED:
        raise Conflict(_("A sanction was already applied from this alert."))
    return alert


def alert_acknowledge(*, actor, alert_id, note: str = "") -> RiskAlert:
    """The operator saw the alert and needs no sanction (the note says why); it leaves the open list."""
    with transaction.atomic():
        alert = _alert_locked(actor, alert_id)
        if alert.status == AlertStatus.ACKNOWLEDGED:
            raise Conflict(_("This alert has already been acknowledged."))
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.handled_at = timezone.now()
        alert.handled_by = actor
        alert.note = note
        alert.save(update_fields=["status", "handled_at", "handled_by", "note"])
    return alert


def alert_sanction(*, actor, alert_id, level: str | None, reason: str, case_ids: list | None = None) -> RiskAlert:
    """Sanction the alert's merchant (the next step on the ladder unless ``level``). The grounds are the
    cases named, else the merchant's cases filed in the alert's window and its non-compliant ones."""
    with transaction.atomic():
        alert = _alert_locked(actor, alert_id)
        if alert.merchant_id is None:
            raise Conflict(_("This alert names no merchant: sanction a merchant from its record."))
        if not case_ids:
            window = (
                Case.objects.filter(
                    merchant_id=alert.merchant_id,
                    filed_at__gte=alert.window_start,
                    filed_at__lte=alert.window_end,
                )
                .exclude(status=Status.DRAFT)
                .order_by("-filed_at")
                .values_list("pk", flat=True)[:DEFAULT_GROUNDS]
            )
            non_compliant = non_compliant_cases(alert.merchant_id).values_list("pk", flat=True)[:DEFAULT_GROUNDS]
            case_ids = list(dict.fromkeys([*window, *non_compliant]))[:DEFAULT_GROUNDS]
        sanction = sanction_apply(
            actor=actor, merchant_id=alert.merchant_id, level=level, reason=reason, case_ids=case_ids or None
        )
        alert.status = AlertStatus.ACTIONED
        alert.sanction = sanction
        alert.handled_at = timezone.now()
        alert.handled_by = actor
        alert.note = reason
        alert.save(update_fields=["status", "sanction", "handled_at", "handled_by", "note"])
    return alert
