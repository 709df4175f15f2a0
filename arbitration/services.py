"""Arbitration as services: the timetable, the parties' submissions, the award with its documents, and
corrections. One transaction each, its event on the chain (``cases.services.lifecycle.transition_perform``).
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from cases import selectors
from cases.calendars import deadline_after, local_end_of_day
from cases.deadlines import award_clock_start, business_days, deadline_cancel, deadline_move
from cases.events import event_append, iso_utc, sha256
from cases.models import Case, Deadline, DeadlineKind, DeadlineStatus, Evidence, Payment, Remedy
from cases.money import Money
from cases.services.lifecycle import transition_perform
from mediation.services import same_currency_check
from odr.errors import Conflict, NotFound, ValidationFailed, uuids

from . import policies
from .models import Award, AwardDocument, Submission


def _raise(refusal):
    if refusal is not None:
        raise refusal


# --- the timetable ------------------------------------------------------------------------------
def timetable_for(case: Case) -> dict:
    """The arbitration's clocks as they stand: submissions, the merchant's final notice, the award."""
    rows = {d.kind: d for d in Deadline.objects.filter(case=case).exclude(status=DeadlineStatus.CANCELLED)}

    def clock(kind):
        d = rows.get(kind)
        return {"due_at": iso_utc(d.due_at), "status": d.status} if d else None

    return {
        "submissions": clock(DeadlineKind.ARBITRATION_SUBMISSIONS),
        "final_notice": clock(DeadlineKind.FINAL_NOTICE),
        "award": clock(DeadlineKind.AWARD),
    }


def timetable_set(*, actor, case_id, submissions_due: dt.date) -> Case:
    """The arbitrator sets the last day for submissions: it ends at 23:59:59 of that day in whichever
    party's time zone ends it last, so neither loses a day."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.timetable_refusal(actor, case))
        today = timezone.now().date()
        if submissions_due <= today:
            raise ValidationFailed(fields={"submissions_due": [_("Choose a day after today.")]})
        if submissions_due > today + dt.timedelta(days=settings.ODR_TIMETABLE_MAX_DAYS):
            raise ValidationFailed(
                fields={
                    "submissions_due": [
                        _("Choose a day within %(days)d days.") % {"days": settings.ODR_TIMETABLE_MAX_DAYS}
                    ]
                }
            )
        due_at = max(local_end_of_day(submissions_due, tz) for tz in (case.consumer.time_zone, case.merchant.time_zone))
        deadline = (
            Deadline.objects.select_for_update()
            .filter(case=case, kind=DeadlineKind.ARBITRATION_SUBMISSIONS, status=DeadlineStatus.RUNNING)
            .first()
        )
        if deadline is None:  # fired between the policy check and the lock
            raise Conflict(_("The time for submissions is over; the timetable can no longer change."))
        previous = deadline.due_at
        deadline_move(deadline, due_at)
        event_append(
            case=case,
            type="timetable_set",
            actor=actor,
            payload={"submissions_due": due_at, "previous": previous, "date": submissions_due},
        )
    return case


# --- submissions --------------------------------------------------------------------------------
def submission_file(*, actor, case_id, statement: str, evidence_ids: list) -> Submission:
    """A party's submission: a statement and references to evidence already in the case's vault.

    A merchant's submission during the final notice answers it: the notice is met and the award is due."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.submission_refusal(actor, case))
        party = case.party_of(actor)
        wanted = list(dict.fromkeys(str(e) for e in uuids(evidence_ids, field="evidence")))
        evidence = list(Evidence.objects.filter(case=case, pk__in=wanted, erased_at__isnull=True))
        missing = sorted(set(wanted) - {str(e.pk) for e in evidence})
        if missing:
            raise ValidationFailed(
                fields={
                    "evidence": [_("No evidence with these ids on this case: %(ids)s") % {"ids": ", ".join(missing)}]
                }
            )
        submission = Submission.objects.create(case=case, party=party, author=actor, statement=statement)
        submission.evidence.set(evidence)
        if party == "merchant" and deadline_cancel(case, DeadlineKind.FINAL_NOTICE, met=True):
            award_clock_start(case, now=timezone.now())
        event_append(
            case=case,
            type="submission",
            actor=actor,
            payload={
                "submission": submission.pk,
                "party": party,
                "statement": statement,
                "evidence": [{"id": str(e.pk), "sha256": e.sha256} for e in evidence],
            },
        )
    return submission


def submission_list_for(user, case_id):
    return submissions_of(selectors.case_get_for(user, case_id))


def submissions_of(case: Case) -> list[Submission]:
    """A case's submissions, for a caller that already checked who may see the case."""
    return list(Submission.objects.filter(case=case).select_related("author").prefetch_related("evidence"))


# --- the award ----------------------------------------------------------------------------------
def _languages(case: Case) -> list[str]:
    """The languages the award is rendered in: each party's (the consumer's, the merchant's users'),
    and the case's, among those the platform has."""
    supported = [code for code, _name in settings.LANGUAGES]
    merchants = User.objects.filter(organisation_id=case.merchant_id, role=Role.MERCHANT, is_active=True)
    wanted = [case.consumer.language, *merchants.values_list("language", flat=True), case.language]
    found = []
    for code in wanted:
        code = (code or "").lower()
        match = next((s for s in supported if code == s or code.split("-")[0] == s.split("-")[0]), None)
        if match and match not in found:
            found.append(match)
    return found or [settings.LANGUAGE_CODE]


def _submission_counts(case: Case) -> dict:
    counts = {"consumer": 0, "merchant": 0}
    for party in Submission.objects.filter(case=case).values_list("party", flat=True):
        counts[party] = counts.get(party, 0) + 1
    return counts


def _documents(award: Award, previous: Award | None = None) -> list[AwardDocument]:
    from .pdf import render_award  # fpdf2 and its fonts: tens of MB a process, loaded by the first award only

    counts = _submission_counts(award.case)
    default = award.case.events.filter(type="default_proceedings").exists()
    earlier = [(d.language, d.sha256) for d in previous.documents.all()] if previous else None
    made = []
    for language in _languages(award.case):
        pdf = render_award(award, language=language, submissions=counts, default=default, previous_documents=earlier)
        made.append(
            AwardDocument.objects.create(award=award, language=language, pdf=pdf, sha256=sha256(pdf), size=len(pdf))
        )
    return made


def _award_summary(award: Award, documents: list[AwardDocument]) -> dict:
    return {
        "number": award.number,
        "decision": award.decision,
        "amount": Money(award.amount, award.currency).as_dict() if award.amount is not None else None,
        "remedy": award.remedy,
        "reasons": award.reasons,
        "forum": award.forum,
        "applicable_law": award.applicable_law,
        "comply_by": iso_utc(award.comply_by),
        "issued_at": iso_utc(award.issued_at),
        "arbitrator": award.arbitrator_id,
        "late": award.late,
        "corrects": award.corrects.number if award.corrects_id else None,
        "documents": [{"language": d.language, "sha256": d.sha256, "size": d.size} for d in documents],
    }


def _check_amount(case: Case, amount: Money | None) -> None:
    """In the claim's currency, and no more than was claimed (an award decides what was asked)."""
    if amount is None:
        return
    same_currency_check(case, amount, "amount")
    if amount.amount > case.claim_amount:
        claim = Money(case.claim_amount, case.claim_currency).as_dict()
        raise ValidationFailed(
            fields={
                "amount": [
                    _("An award cannot grant more than the claim (%(amount)s %(currency)s).")
                    % {"amount": claim["amount"], "currency": claim["currency"]}
                ]
            }
        )


def _printable_or_400(**texts) -> None:
    """The arbitrator's words must all reach the document: refuse characters no font of it can show."""
    from .pdf import unprintable

    for field, text in texts.items():
        missing = unprintable(text)
        if missing:
            shown = " ".join(f"{c} (U+{ord(c):04X})" for c in missing[:5])
            raise ValidationFailed(
                fields={field: [_("The award document cannot show these characters: %(chars)s") % {"chars": shown}]}
            )


def award_issue(
    *, actor, case_id, decision: str, amount: Money | None, remedy: str, reasons: str, comply_within_days=None
) -> Case:
    """The arbitrator decides: the award, its PDFs in each party's language, their SHA-256 on the log.

    The forum and the law come from the jurisdiction stage; the comply-by date is ``comply_within_days``
    (else the standard compliance period) business days in the merchant's calendar."""
    if decision != "dismissed" and amount is None:
        raise ValidationFailed(fields={"amount": [_("An award that grants the claim needs an amount.")]})
    if decision == "dismissed":
        amount = None  # a dismissed claim awards nothing
    _printable_or_400(reasons=reasons)

    def run(case):
        _check_amount(case, amount)
        now = timezone.now()
        comply_by = None
        if decision != "dismissed":
            days = comply_within_days or business_days(DeadlineKind.COMPLIANCE)
            comply_by = deadline_after(now, days, str(case.merchant.country), case.merchant.time_zone)
        late = Deadline.objects.filter(case=case, kind=DeadlineKind.AWARD, status=DeadlineStatus.FIRED).exists()
        award = Award.objects.create(
            case=case,
            arbitrator=actor,
            decision=decision,
            amount=amount.amount if amount else None,
            currency=amount.currency if amount else "",
            remedy=remedy,
            reasons=reasons,
            forum=(case.jurisdiction or {}).get("forum") or "",
            applicable_law=(case.jurisdiction or {}).get("applicable_law") or "",
            comply_by=comply_by,
            late=late,
            issued_at=now,
        )
        summary = _award_summary(award, _documents(award))
        case.issue_award(award=_outcome(summary, comply_within_days), at=now)
        return {"award": summary}

    return transition_perform(actor=actor, case_id=case_id, action="issue_award", run=run)


def _outcome(summary: dict, comply_within_days=None) -> dict:
    keep = ("number", "decision", "amount", "remedy", "reasons", "forum", "applicable_law", "comply_by", "late")
    outcome = {k: summary[k] for k in keep if summary[k] is not None or k != "amount"}  # dismissed: none
    outcome["issued_at"] = summary["issued_at"]
    outcome["arbitrator"] = summary["arbitrator"]
    outcome["pdf_sha256"] = {d["language"]: d["sha256"] for d in summary["documents"]}
    if comply_within_days:
        outcome["comply_within_days"] = comply_within_days
    return outcome


def award_latest(case: Case) -> Award | None:
    return Award.objects.filter(case=case).order_by("-number").first()


def award_correct(*, actor, case_id, amount: Money | None, remedy: str, reasons: str, note: str) -> Case:
    """A correction (a miscalculation, a clerical error): a new award and new documents that cite the
    first; the decision itself (granted or dismissed) and the date to comply stay as issued."""

    def check(case):
        _raise(policies.correction_refusal(actor, case, award_latest(case)))

    if remedy not in Remedy.values:
        raise ValidationFailed(fields={"remedy": [_("Choose a remedy from the list.")]})
    _printable_or_400(reasons=reasons, note=note)

    def run(case):
        previous = award_latest(case)
        if previous.decision != "dismissed" and amount is None:
            raise ValidationFailed(fields={"amount": [_("An award that grants the claim needs an amount.")]})
        _check_amount(case, amount if previous.decision != "dismissed" else None)
        _amount_unpaid_or_kept(case, previous, amount if previous.decision != "dismissed" else None)
        award = Award.objects.create(
            case=case,
            number=previous.number + 1,
            corrects=previous,
            arbitrator=actor,
            decision=previous.decision,
            amount=amount.amount if amount and previous.decision != "dismissed" else None,
            currency=amount.currency if amount and previous.decision != "dismissed" else "",
            remedy=remedy,
            reasons=reasons,
            correction_note=note,
            forum=previous.forum,
            applicable_law=previous.applicable_law,
            comply_by=previous.comply_by,
            late=previous.late,
        )
        summary = _award_summary(award, _documents(award, previous))
        kept = {k: v for k, v in (case.outcome or {}).items() if k not in ("amount", "remedy", "reasons")}
        case.outcome = {**kept, **_outcome(summary), "kind": "award", "corrected": True}
        return {"award": summary, "note": note}

    return transition_perform(
        actor=actor, case_id=case_id, action="award_corrected", run=run, check=check, event_type="award_corrected"
    )


def _amount_unpaid_or_kept(case: Case, previous: Award, amount: Money | None) -> None:
    """Once money moved through the platform on the award (a refund or an escrow hold, paid or under way),
    a correction keeps its amount: what was paid stays the measure of the performance; the reasons and
    the remedy's wording may still be corrected."""
    before = Money(previous.amount, previous.currency) if previous.amount is not None else None
    if amount == before:
        return
    moved = Payment.objects.filter(
        case=case,
        kind__in=(Payment.Kind.REFUND, Payment.Kind.ESCROW_HOLD),
        status__in=(Payment.Status.PENDING, Payment.Status.SUCCEEDED),
    )
    if moved.exists():
        raise Conflict(
            _("The award's amount has been paid or is being paid through the platform; a correction cannot change it.")
        )


def award_get_for(user, case_id, *, number: int | None = None) -> Award:
    """The case's award (the latest correction unless ``number``), if the user may see the case."""
    case = selectors.case_get_for(user, case_id)
    awards = Award.objects.filter(case=case).select_related("case", "arbitrator", "corrects")
    award = awards.filter(number=number).first() if number else awards.order_by("-number").first()
    if award is None:
        raise NotFound(_("This case has no award."))
    return award


def award_document_for(user, case_id, *, language: str | None = None, number: int | None = None) -> AwardDocument:
    """The award's PDF in ``language`` (else the user's, else the first one made)."""
    award = award_get_for(user, case_id, number=number)
    documents = list(award.documents.all())
    document = document_in(documents, language or getattr(user, "language", ""))
    if document is None and language:
        raise NotFound(_("The award has no document in this language."))
    return document or documents[0]


def document_in(documents, language: str | None):
    """The document in ``language`` ("zh" finds "zh-hans"), or None."""
    wanted = (language or "").lower()
    return next(
        (d for d in documents if d.language == wanted or d.language.split("-")[0] == wanted.split("-")[0]), None
    )
