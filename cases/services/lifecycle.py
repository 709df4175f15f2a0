"""Every lifecycle action on a filed case: one service each, one transaction each.

Each follows STYLE.md rule 2 through ``_perform``: lock the case row, ask the policy (404, 403, 409),
run the transition, save, append the event -- all inside one ``transaction.atomic``.
"""

import datetime as dt
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from mediation.models import Offer, OfferStatus
from odr.errors import ValidationFailed
from odr.realtime import group_send
from oversight import summaries

from .. import policies, selectors
from ..calendars import deadline_after
from ..deadlines import business_days, deadline_sync
from ..events import event_append
from ..jurisdiction.common import NO_OBJECTION
from ..models import Case, DeadlineKind, Party
from ..money import Money
from .jurisdiction import PLEADING_FIELDS, proposal_for_case


def _perform(
    *,
    actor,
    case_id,
    action: str,
    run: Callable[[Case], dict | None],
    check: Callable[[Case], None] | None = None,
    event_type: str | None = None,
) -> Case:
    """Lock, check, transition, save and record ``action``; ``run`` returns the event's extra payload.

    ``actor=None`` is the system (the deadline sweep), which passes the policy's role checks. ``check``
    replaces the action's policy when another rule decides (a blind-bid round settling, an agreement
    accepted by both); ``event_type`` then names what happened on the log.
    """
    # The summary rows go last, just before the commit (``summaries.deferred``): every move of every case
    # filed in one month, pair and category bumps the same row, and it stays locked until the commit.
    with transaction.atomic(), summaries.deferred():
        case = selectors.case_get_for_update(actor, case_id)
        if check is not None:
            check(case)
        elif actor is not None:
            policies.enforce(actor, case, action)
        before = case.status
        counted = summaries.contribution(case)
        extra = run(case) or {}
        case.stats_stamp(previous=before, at=timezone.now())
        case.save()
        summaries.apply(counted, summaries.contribution(case))
        deadline_sync(case, previous_status=before, actor=actor)
        if before != case.status and before in NEUTRAL_STAGES:
            from mediation.services import appointments_end

            appointments_end(case, NEUTRAL_STAGES[before])
        event_append(
            case=case, type=event_type or action, actor=actor, payload={"from": before, "to": case.status, **extra}
        )
        transaction.on_commit(lambda: _chat_recheck(case.pk), robust=True)  # the move stands either way
    return case


#: The stages a neutral leads, and their role: leaving one ends that neutral's appointment.
NEUTRAL_STAGES = {"mediation": Role.MEDIATOR, "arbitration": Role.ARBITRATOR}


def _chat_recheck(case_id) -> None:
    """Ask the case's open chat connections to check their membership again (a neutral replaced, a stage
    ended): whoever no longer belongs is cut off."""
    group_send(f"chat.case.{case_id}", {"type": "chat.recheck"})


#: The one way other apps run a transition (mediation's blind bids and agreements, arbitration).
transition_perform = _perform


def settlement_terms(case: Case, *, comply_within_days: int | None = None, **terms) -> dict:
    """A settlement's terms with the date by which it must be carried out: ``comply_within_days``
    business days when the parties agreed a period, else the compliance clock's; in the merchant's
    calendar. The compliance deadline then runs to the same date."""
    days = comply_within_days or business_days(DeadlineKind.COMPLIANCE)
    comply_by = deadline_after(timezone.now(), days, str(case.merchant.country), case.merchant.time_zone)
    extra = {"comply_within_days": comply_within_days} if comply_within_days else {}
    return {**terms, **extra, "comply_by": comply_by.isoformat().replace("+00:00", "Z")}


def _party(case, actor) -> str:
    return case.party_of(actor) or ""


def case_submit(*, actor, case_id) -> Case:
    return _perform(actor=actor, case_id=case_id, action="submit", run=lambda c: c.submit(at=timezone.now()))


def case_withdraw(*, actor, case_id, reason: str = "") -> Case:
    def run(case):
        case.withdraw(at=timezone.now())
        return {"reason": reason}

    return _perform(actor=actor, case_id=case_id, action="withdraw", run=run)


def offer_make(*, case: Case, actor, party: str, amount: Money, remedy: str, note: str = "") -> Offer:
    """Record an offer by ``party``; it supersedes that party's earlier open offers.

    Needs the case locked; marks the case as awaiting the other party's answer (the caller saves it).
    """
    # A new offer answers every open one: the other party's is countered, the party's own replaced.
    Offer.objects.filter(case=case, status=OfferStatus.OPEN).update(status=OfferStatus.SUPERSEDED)
    case.open_offer_party = party
    return Offer.objects.create(
        case=case, party=party, made_by=actor, amount=amount.amount, currency=amount.currency, remedy=remedy, note=note
    )


def case_respond(
    *,
    actor,
    case_id,
    position: str,
    statement: str,
    offer: Money | None = None,
    pleading: dict | None = None,
    odr_agreement: bool = False,
) -> Case:
    """The merchant's answer: accept the claim (settles), make an offer, or contest.

    Unless it accepts, the case moves to the jurisdiction stage with the engine's proposal of the forum
    and the law, computed from the consumer's answers at filing and the merchant's ``pleading`` (the
    contract's choice of law and forum) and ``odr_agreement``.
    """
    if position == "offer" and offer is None:
        raise ValidationFailed(fields={"offer": [_("An offer needs an amount.")]})
    pleading = {k: v for k, v in (pleading or {}).items() if k in PLEADING_FIELDS and v is not None}

    def run(case):
        proposal = None
        if position != "accept":
            case.jurisdiction_facts = {
                **(case.jurisdiction_facts or {}),
                **pleading,
                "merchant_odr_agreement": bool(odr_agreement),
            }
            proposal = proposal_for_case(case)
        case.respond(position=position, proposal=proposal)
        if position == "accept":  # settled on the claim: by when it must be carried out
            case.outcome = {**case.outcome, "comply_by": settlement_terms(case)["comply_by"]}
        payload = {"position": position, "statement": statement}
        if proposal is not None:
            payload["jurisdiction"] = _proposal_summary(proposal)
        if position == "offer":
            made = offer_make(case=case, actor=actor, party=Party.MERCHANT, amount=offer, remedy=case.remedy)
            payload["offer"] = {"id": made.pk, **offer.as_dict()}
        return payload

    return _perform(actor=actor, case_id=case_id, action="respond", run=run)


def case_declare_default(*, actor, case_id) -> Case:
    """The merchant did not respond in time; the deadline sweep (issue 4) calls this with ``actor=None``."""
    return _perform(actor=actor, case_id=case_id, action="declare_default", run=lambda c: c.declare_default())


def case_accept_jurisdiction(*, actor, case_id) -> Case:
    def run(case):
        party = _party(case, actor)
        case.accept_jurisdiction(party=party)
        return {"party": party, "jurisdiction_status": case.jurisdiction["status"]}

    return _perform(actor=actor, case_id=case_id, action="accept_jurisdiction", run=run)


def case_contest_jurisdiction(*, actor, case_id, reason: str) -> Case:
    def run(case):
        party = _party(case, actor)
        case.contest_jurisdiction(party=party, reason=reason)
        return {"party": party, "reason": reason}

    return _perform(actor=actor, case_id=case_id, action="contest_jurisdiction", run=run)


def case_decide_jurisdiction(*, actor, case_id, forum: str, applicable_law: str, reason: str) -> Case:
    """The operator or the case's neutral decides the forum and the law, with reasons (after a contest)."""

    def run(case):
        by = actor.role if actor is not None else "platform"
        reasons = [{"rule": "decision", "kind": "decision", "citation": "", "text": reason, "by": by}]
        case.decide_jurisdiction(forum=forum, applicable_law=applicable_law, reasons=reasons, decided_by=by)
        return {"forum": forum, "applicable_law": applicable_law, "reason": reason}

    return _perform(actor=actor, case_id=case_id, action="decide_jurisdiction", run=run)


def case_confirm_jurisdiction(*, case_id) -> Case:
    """Nobody contested the proposal in time (the deadline sweep): it stands, decided by the platform."""

    def run(case):
        proposal = case.jurisdiction
        reasons = [_no_objection_reason(), *proposal.get("reasons", [])]
        case.decide_jurisdiction(
            forum=proposal.get("forum"),
            applicable_law=proposal.get("applicable_law"),
            reasons=reasons,
            decided_by="platform",
        )
        case.jurisdiction["forum_options"] = proposal.get("forum_options") or [proposal.get("forum")]
        return {
            "forum": proposal.get("forum"),
            "applicable_law": proposal.get("applicable_law"),
            "rule": NO_OBJECTION.id,
        }

    return _perform(actor=None, case_id=case_id, action="decide_jurisdiction", run=run)


def _no_objection_reason() -> dict:
    with translation.override("en"):
        return {"rule": NO_OBJECTION.id, "kind": "decision", "citation": "", "text": str(NO_OBJECTION.statement)}


def _proposal_summary(proposal: dict) -> dict:
    """What the event log keeps of a proposal: the conclusions, the rules and the rule set's version."""
    return {
        "forum": proposal["forum"],
        "forum_options": proposal["forum_options"],
        "applicable_law": proposal["applicable_law"],
        "rules": [r["rule"] for r in proposal["reasons"]],
        "mandatory_protection": [p["country"] for p in proposal["mandatory_protection"]],
        "ruleset": proposal["ruleset"],
        "ruleset_version": proposal["ruleset_version"],
        "facts": proposal["facts"],
    }


def case_request_mediation(*, actor, case_id) -> Case:
    """To mediation; a mediator is appointed from the roster at once when one fits."""
    from mediation.services import neutral_assign_auto

    case = _perform(actor=actor, case_id=case_id, action="request_mediation", run=lambda c: c.request_mediation())
    return neutral_assign_auto(case_id=case.pk, role=Role.MEDIATOR) or case


def case_accept_settlement(*, actor, case_id) -> Case:
    """Accept the other party's latest open offer; the case settles on its terms."""

    def run(case):
        other = Party.MERCHANT if _party(case, actor) == Party.CONSUMER else Party.CONSUMER
        offer = (
            Offer.objects.select_for_update()
            .filter(case=case, party=other, status=OfferStatus.OPEN)
            .order_by("-created_at", "-id")
            .first()
        )
        terms = settlement_terms(
            case,
            source="offer",
            offer=offer.pk,
            amount=Money(offer.amount, offer.currency).as_dict(),
            remedy=offer.remedy,
            note=offer.note,
        )
        case.accept_settlement(terms=terms)
        Offer.objects.filter(pk=offer.pk).update(status=OfferStatus.ACCEPTED)
        Offer.objects.filter(case=case, status=OfferStatus.OPEN).update(status=OfferStatus.LAPSED)
        return {"terms": terms}

    return _perform(actor=actor, case_id=case_id, action="accept_settlement", run=run)


def case_escalate(*, actor, case_id, reason: str = "") -> Case:
    """To arbitration; an arbitrator is appointed from the roster at once when one fits (never the
    case's mediator)."""
    from mediation.services import neutral_assign_auto

    def run(case):
        case.escalate()
        Offer.objects.filter(case=case, status=OfferStatus.OPEN).update(status=OfferStatus.LAPSED)
        return {"reason": reason}

    case = _perform(actor=actor, case_id=case_id, action="escalate", run=run)
    return neutral_assign_auto(case_id=case.pk, role=Role.ARBITRATOR) or case


def _neutral(user_id, role: str, *, field: str = "user") -> User:
    neutral = User.objects.filter(pk=user_id, role=role, is_active=True).first()
    if neutral is None:
        raise ValidationFailed(
            fields={field: [_("There is no active %(role)s with this id.") % {"role": Role(role).label}]}
        )
    return neutral


def _superseded(appointment) -> dict:
    """A challenge left pending against the neutral the operator replaced, for the event log."""
    party = getattr(appointment, "superseded_challenge", "")
    return {"superseded_challenge": party} if party else {}


def case_assign_mediator(*, actor, case_id, user_id: int) -> Case:
    neutral = _neutral(user_id, Role.MEDIATOR)

    def run(case):
        from mediation.services import appointment_record

        previous = case.mediator_id
        case.assign_mediator(neutral=neutral)
        made = appointment_record(case=case, neutral=neutral, role=Role.MEDIATOR, automatic=False)
        return {"mediator": neutral.pk, "previous": previous, **_superseded(made)}

    return _perform(actor=actor, case_id=case_id, action="assign_mediator", run=run)


def case_assign_arbitrator(*, actor, case_id, user_id: int) -> Case:
    neutral = _neutral(user_id, Role.ARBITRATOR)

    def run(case):
        from mediation.services import appointment_record

        previous = case.arbitrator_id
        case.assign_arbitrator(neutral=neutral)
        made = appointment_record(case=case, neutral=neutral, role=Role.ARBITRATOR, automatic=False)
        return {"arbitrator": neutral.pk, "previous": previous, **_superseded(made)}

    return _perform(actor=actor, case_id=case_id, action="assign_arbitrator", run=run)


def case_challenge_neutral(*, actor, case_id, reason: str) -> Case:
    """A party challenges the current neutral within the window; the operator decides."""

    def run(case):
        from mediation.services import active_appointment

        neutral = case.current_neutral_id
        case.challenge_neutral(reason=reason)
        appointment = active_appointment(case)
        appointment.challenged_by = _party(case, actor)
        appointment.challenge_reason = reason
        appointment.save(update_fields=["challenged_by", "challenge_reason"])
        return {"party": _party(case, actor), "neutral": neutral, "reason": reason}

    return _perform(actor=actor, case_id=case_id, action="challenge_neutral", run=run)


def case_disclose(*, actor, case_id, statement: str) -> Case:
    """The neutral's disclosure; the parties' challenge window runs from it."""

    def run(case):
        from mediation.services import neutral_disclose_record

        case.disclose(statement=statement)
        until = neutral_disclose_record(case=case, neutral=actor, statement=statement)
        return {"statement": statement, "challenge_until": until}

    return _perform(actor=actor, case_id=case_id, action="disclose", run=run)


def case_decide_challenge(*, actor, case_id, upheld: bool, reason: str) -> Case:
    """The operator decides a challenge; upheld, the neutral is replaced from the roster."""
    from mediation.models import Appointment
    from mediation.services import active_appointment, neutral_assign_auto

    challenged = {}

    def run(case):
        appointment = active_appointment(case)
        challenged.update(neutral=appointment.neutral_id, role=appointment.role)
        case.decide_challenge(upheld=upheld)
        if upheld:
            appointment.status = Appointment.Status.REPLACED
        else:
            # Dismissed: the neutral stays and the window closes for good (the reason is kept, which
            # also stops a later disclosure from reopening it).
            appointment.challenged_by = ""
            appointment.challenge_until = timezone.now() - dt.timedelta(microseconds=1)
        appointment.save(update_fields=["status", "challenged_by", "challenge_until"])
        return {"upheld": upheld, "reason": reason, "neutral": appointment.neutral_id}

    case = _perform(actor=actor, case_id=case_id, action="decide_challenge", run=run)
    if upheld:
        return neutral_assign_auto(case_id=case.pk, role=challenged["role"], exclude={challenged["neutral"]}) or case
    return case


def case_issue_award(
    *, actor, case_id, decision: str, amount: Money | None, remedy: str, reasons: str, comply_within_days=None
) -> Case:
    """The arbitrator's award, with its documents (``arbitration.services.award_issue``)."""
    from arbitration.services import award_issue

    return award_issue(
        actor=actor,
        case_id=case_id,
        decision=decision,
        amount=amount,
        remedy=remedy,
        reasons=reasons,
        comply_within_days=comply_within_days,
    )


def case_reject(*, actor, case_id, reason: str) -> Case:
    def run(case):
        case.reject(reason=reason, at=timezone.now())
        return {"reason": reason}

    return _perform(actor=actor, case_id=case_id, action="reject", run=run)


def case_close(*, actor, case_id, reason: str = "") -> Case:
    from .compliance import escrow_release_on_close

    def run(case):
        escrow = escrow_release_on_close(case)
        case.close(reason=reason, at=timezone.now())
        return {"reason": reason, **escrow}

    return _perform(actor=actor, case_id=case_id, action="close", run=run)
