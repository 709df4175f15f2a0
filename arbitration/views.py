"""Arbitration and compliance on the case page: submissions, the timetable, the award with its
documents and corrections, and payments through the provider. Thin: each form posts to a view that
calls the same service as the API and comes back to the case page with a message."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.api.serializers import validated
from cases.models import Payment, Remedy, Status
from cases.money import MoneyError, parse_money
from cases.services import compliance
from cases.web import act_and_return, case_or_404
from odr.errors import Conflict, NotFound, ValidationFailed

from . import policies, services
from .api.views import CorrectionInput, SubmissionInput, pdf_response
from .models import Award


def page_context(request, case) -> dict:
    """What the case page's arbitration and compliance panels show to this user."""
    user = request.user
    awards = list(
        Award.objects.filter(case=case).select_related("arbitrator", "corrects").prefetch_related("documents")
    )
    latest = awards[-1] if awards else None
    in_arbitration = case.status == Status.ARBITRATION or bool(awards)
    context = {
        "awards": list(reversed(awards)),
        "award": latest,
        "arbitration_visible": in_arbitration,
        "submissions": services.submissions_of(case) if in_arbitration else [],
        "timetable": services.timetable_for(case) if case.status == Status.ARBITRATION else None,
        "can_submit": policies.submission_refusal(user, case) is None,
        "can_set_timetable": case.status == Status.ARBITRATION and policies.timetable_refusal(user, case) is None,
        "can_correct": latest is not None and policies.correction_refusal(user, case, latest) is None,
        "remedies": list(Remedy.choices),
        "payments": list(case.payments.order_by("created_at", "id")),
        "can_refund": False,
        "can_escrow": False,
    }
    if (
        case.party_of(user) == "merchant"
        and case.status in compliance.PERFORMANCE_DUE
        and (case.outcome or {}).get("amount")
    ):
        context["can_refund"] = compliance.payment_refusal(user, case, Payment.Kind.REFUND) is None
        context["can_escrow"] = compliance.payment_refusal(user, case, Payment.Kind.ESCROW_HOLD) is None
    if context["can_submit"]:
        context["own_evidence"] = [e for e in case.evidence.all() if e.erased_at is None]
    return context


@require_POST
@login_required
def submission_file(request, case_id):
    return act_and_return(
        request,
        case_id,
        "h-arbitration",
        lambda: _submit(request, case_id),
        _("Your submission is filed; the arbitrator and the other party are told."),
    )


def _submit(request, case_id):
    v = validated(
        SubmissionInput, {"statement": request.POST.get("statement", ""), "evidence": request.POST.getlist("evidence")}
    )
    return services.submission_file(
        actor=request.user, case_id=case_id, statement=v["statement"], evidence_ids=v["evidence"]
    )


@require_POST
@login_required
def timetable_set(request, case_id):
    def call():
        try:
            day = dt.date.fromisoformat(request.POST.get("submissions_due", ""))
        except ValueError:
            raise ValidationFailed(fields={"submissions_due": [_("Give a date.")]}) from None
        services.timetable_set(actor=request.user, case_id=case_id, submissions_due=day)

    return act_and_return(request, case_id, "h-arbitration", call, _("The timetable is set; the parties are told."))


@require_POST
@login_required
def award_correct(request, case_id):
    case = case_or_404(request, case_id)

    def call():
        raw = request.POST.get("amount", "").strip()
        try:
            amount = parse_money(raw, case.claim_currency) if raw else None
        except MoneyError as exc:
            raise ValidationFailed(fields={"amount": [str(exc)]}) from None
        v = validated(
            CorrectionInput,
            {
                "remedy": request.POST.get("remedy") or case.remedy,
                "reasons": request.POST.get("reasons", "").strip(),
                "note": request.POST.get("note", "").strip(),
            },
        )
        services.award_correct(
            actor=request.user, case_id=case_id, amount=amount, remedy=v["remedy"], reasons=v["reasons"], note=v["note"]
        )

    return act_and_return(request, case_id, "h-award", call, _("The correction is issued; the parties are told."))


@require_GET
@login_required
def award_pdf(request, case_id, number, language):
    try:
        document = services.award_document_for(request.user, case_id, language=language, number=number)
    except NotFound:
        raise Http404 from None
    return pdf_response(document)


@require_POST
@login_required
def payment_start(request, case_id, kind):
    if kind not in (Payment.Kind.REFUND, Payment.Kind.ESCROW_HOLD):
        raise Http404

    def call():
        payment = compliance.payment_start(actor=request.user, case_id=case_id, kind=kind)
        if payment.status == Payment.Status.DECLINED:  # recorded; the page says why instead of "sent"
            raise Conflict(_("The payment provider declined the payment: %(why)s") % {"why": payment.message})

    return act_and_return(request, case_id, "h-compliance", call, _("The payment was sent to the payment provider."))
