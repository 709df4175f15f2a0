"""Who may do what with a case: the one answer used by the API, the web pages, the consumers and
``allowed_actions``.

Three questions, asked in this order, each with its own error:
1. may this user see the case at all? (no: 404, never revealing that it exists) -- ``can_view``;
2. may this user ever take this action on this case? (no: 403) -- ``PERMISSIONS``, also given to
   django-fsm as each transition's ``permission``;
3. does the case's state allow it now, for this user? (no: 409) -- the transition's source states and
   conditions, plus the per-user state checks in ``_STATE_CHECKS``.
"""

from django.utils.translation import gettext_lazy as _

from odr.errors import Conflict, DomainError, Forbidden

CONSUMER, MERCHANT, MEDIATOR, ARBITRATOR, OPERATOR = "consumer", "merchant", "mediator", "arbitrator", "operator"


def _authenticated(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def is_operator(user) -> bool:
    return _authenticated(user) and user.role == OPERATOR


def can_view(user, case) -> bool:
    """Parties, the case's neutrals and operators see a case; a draft only its consumer."""
    if not _authenticated(user):
        return False
    if user.pk == case.consumer_id:
        return True
    if case.status == "draft":
        return False
    if user.role == MERCHANT:
        return user.organisation_id == case.merchant_id
    if user.role == MEDIATOR:
        return user.pk == case.mediator_id
    if user.role == ARBITRATOR:
        return user.pk == case.arbitrator_id
    return user.role == OPERATOR


def can_file(user) -> bool:
    return _authenticated(user) and user.role == CONSUMER


# --- 2. who may take each action (role and relation to the case; no state) ---------------------
def _consumer(case, user):
    return _authenticated(user) and user.pk == case.consumer_id


def _merchant(case, user):
    return _authenticated(user) and user.role == MERCHANT and user.organisation_id == case.merchant_id


def _party(case, user):
    return _consumer(case, user) or _merchant(case, user)


def _operator(case, user):
    return is_operator(user)


def _operator_or_neutral(case, user):
    return is_operator(user) or (_authenticated(user) and user.pk in {case.mediator_id, case.arbitrator_id} - {None})


def _current_neutral(case, user):
    return _authenticated(user) and case.current_neutral_id is not None and user.pk == case.current_neutral_id


def _escalate(case, user):
    if case.status == "defaulted":
        # The merchant who stayed silent does not steer its own default.
        return _consumer(case, user) or is_operator(user)
    return _party(case, user) or is_operator(user) or (_authenticated(user) and user.pk == case.mediator_id)


def _arbitrator(case, user):
    return _authenticated(user) and case.arbitrator_id is not None and user.pk == case.arbitrator_id


PERMISSIONS = {
    "submit": _consumer,
    "withdraw": _consumer,
    "respond": _merchant,
    "declare_default": _operator,
    "accept_jurisdiction": _party,
    "contest_jurisdiction": _party,
    "decide_jurisdiction": _operator_or_neutral,
    "request_mediation": _party,
    "accept_settlement": _party,
    "escalate": _escalate,
    "assign_mediator": _operator,
    "assign_arbitrator": _operator,
    "challenge_neutral": _party,
    "issue_award": _arbitrator,
    "report_compliance": _merchant,
    "confirm_compliance": _consumer,
    "dispute_compliance": _consumer,
    "reject": _operator,
    "close": _operator,
    "disclose": _current_neutral,
    "decide_challenge": _operator,
    "decide_compliance": _operator,
    "declare_non_compliance": _operator,
}


def permission(action):
    """The permission callable ``(case, user) -> bool`` django-fsm stores on the transition."""
    return PERMISSIONS[action]


# --- 3. per-user state checks beyond the transition's source states and conditions -------------
def _party_name(case, user):
    return "consumer" if _consumer(case, user) else "merchant"


def _accept_jurisdiction_check(case, user):
    if _party_name(case, user) in (case.jurisdiction or {}).get("accepted_by", []):
        return _("You have already accepted the proposed forum and applicable law.")
    return None


def _accept_settlement_check(case, user):
    other = "merchant" if _party_name(case, user) == "consumer" else "consumer"
    if case.open_offer_party != other:
        return _("There is no open offer from the other party to accept.")
    return None


def _challenge_check(case, user):
    from mediation.services import active_appointment

    appointment = active_appointment(case)
    if appointment is None:
        return _("There is no appointment to challenge.")
    if appointment.challenged_by:
        return _("This neutral has already been challenged; the operator decides.")
    from django.utils import timezone

    if timezone.now() > appointment.challenge_until:
        return _("The time to challenge this neutral has passed.")
    return None


def _disclose_check(case, user):
    from mediation.services import active_appointment

    appointment = active_appointment(case)
    if appointment is None or appointment.neutral_id != user.pk:
        return _("There is no appointment of yours on this case to disclose for.")
    return None


def _decide_challenge_check(case, user):
    from mediation.services import active_appointment

    appointment = active_appointment(case)
    if appointment is None or not appointment.challenged_by:
        return _("No challenge is waiting for a decision.")
    return None


def _declare_non_compliance_check(case, user):
    from django.utils import timezone

    comply_by = case.comply_by()
    if comply_by is None or timezone.now() <= comply_by:
        return _("The date to comply has not passed yet.")
    return refund_hold(case)


def refund_hold(case):
    """Why the case may not become non-compliant yet though its date to comply passed (a refund under way
    holds it: ``Payment.holds_compliance``), or None. The operator's action and the sweep's both ask."""
    from django.utils import timezone

    from .models import Payment

    if Payment.holds_compliance(case, timezone.now()):
        return _("A refund on this case is still being processed; its answer decides whether the merchant complied.")
    return None


def _issue_award_check(case, user):
    from mediation.services import active_appointment

    appointment = active_appointment(case)
    if appointment is not None and appointment.challenged_by:
        return _("A challenge against you awaits the operator's decision; the award must wait for it.")
    return _submissions_open(case)


def _submissions_open(case):
    """Why the parties may still be heard, or None: the award waits until both have filed a submission or
    their time has ended, and until the merchant's final notice is answered or has run out. A clock counts
    until the deadline sweep closes it (its next round, ``ODR_SWEEP_SECONDS``, after it is due): a merchant
    silent at the end of the submissions is sent the final notice first, and the award may not overtake it.
    Reads the case's deadlines through ``case.deadlines`` (the case lists prefetch them)."""
    from django.utils import timezone

    from arbitration.models import Submission

    from .models import DeadlineKind, DeadlineStatus

    running = {
        deadline.kind: deadline
        for deadline in case.deadlines.all()
        if deadline.status == DeadlineStatus.RUNNING
        and deadline.kind in (DeadlineKind.ARBITRATION_SUBMISSIONS, DeadlineKind.FINAL_NOTICE)
    }
    if DeadlineKind.FINAL_NOTICE in running:
        return _("The merchant's final notice is running; the award waits for its answer or its end.")
    submissions = running.get(DeadlineKind.ARBITRATION_SUBMISSIONS)
    if submissions is None:
        return None
    if set(Submission.objects.filter(case=case).values_list("party", flat=True)) >= {"consumer", "merchant"}:
        return None  # both heard: the award need not wait for the end of their time
    if submissions.due_at <= timezone.now():
        return _(
            "The parties' time for submissions has ended; the award waits until the platform has closed it "
            "(a merchant that filed nothing is sent a final notice first)."
        )
    return _(
        "The parties' time for submissions is still running; the award waits until both have filed or the "
        "time has ended."
    )


def _report_compliance_check(case, user):
    from .models import Payment

    if Payment.objects.filter(case=case, status=Payment.Status.PENDING).exists():
        return _("A payment on this case is still being processed; its answer will be the report.")
    return None


_STATE_CHECKS = {
    "issue_award": _issue_award_check,
    "report_compliance": _report_compliance_check,
    "declare_non_compliance": _declare_non_compliance_check,
    "accept_jurisdiction": _accept_jurisdiction_check,
    "accept_settlement": _accept_settlement_check,
    "challenge_neutral": _challenge_check,
    "disclose": _disclose_check,
    "decide_challenge": _decide_challenge_check,
}


def _check(user, case, action) -> tuple[str, str | None] | None:
    """What stops ``user`` taking ``action`` now: ``("forbidden", None)``, ``("state", None)``,
    ``("condition", message)``, or None. Builds no message for the first two (``allowed_actions`` asks
    this of every action on every case of a page)."""
    check = PERMISSIONS.get(action)
    if check is None or not check(case, user):
        return ("forbidden", None)
    meta = getattr(case, action)._django_fsm
    state = case.status
    if not meta.has_transition(state) or not meta.conditions_met(case, state):
        return ("state", None)
    extra = _STATE_CHECKS.get(action)
    message = extra(case, user) if extra else None
    if message:
        return ("condition", message)
    return None


def refusal(user, case, action) -> DomainError | None:
    """Why ``user`` may not take ``action`` on ``case`` now, or None if they may.

    Assumes ``can_view(user, case)``; callers answer 404 before asking this.
    """
    found = _check(user, case, action)
    if found is None:
        return None
    kind, message = found
    if kind == "forbidden":
        return Forbidden()
    if kind == "state":
        from .labels import ACTION_LABELS

        return Conflict(
            _("“%(action)s” is not allowed while the case is “%(status)s”.")
            % {"action": ACTION_LABELS.get(action, action), "status": case.get_status_display()},
        )
    return Conflict(message)


def waiting_for(user, case, action) -> str | None:
    """Why ``user``, who may take ``action`` in this state, must wait before taking it (the condition's
    message), or None (they may take it now, or it is not theirs to take in this state)."""
    found = _check(user, case, action)
    return str(found[1]) if found is not None and found[0] == "condition" else None


def enforce(user, case, action) -> None:
    """Raise the refusal, if any."""
    error = refusal(user, case, action)
    if error is not None:
        raise error


def allowed_actions(user, case) -> list[str]:
    """Exactly the actions ``user`` may take on ``case`` now (the same checks the services make)."""
    from .models import ACTIONS

    if not can_view(user, case):
        return []
    return [action for action in ACTIONS if _check(user, case, action) is None]


# --- evidence -----------------------------------------------------------------------------------
#: A case that has ended takes no more evidence.
EVIDENCE_CLOSED_STATES = ("closed", "withdrawn", "rejected")


def evidence_upload_refusal(user, case) -> DomainError | None:
    """Why ``user`` may not add evidence to ``case`` now, or None. Assumes ``can_view``."""
    if not (_consumer(case, user) or _merchant(case, user)):
        return Forbidden(_("Only the parties can add evidence."))
    if case.status in EVIDENCE_CLOSED_STATES:
        return Conflict(_("Evidence cannot be added to a case that has ended."))
    return None


def can_upload_evidence(user, case) -> bool:
    return can_view(user, case) and evidence_upload_refusal(user, case) is None
