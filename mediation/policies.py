"""Who may do what in the consensual stages: offers, blind bids, chat rooms, sessions, agreements.

The same answers serve the API, the pages and the websocket consumer; each returns the refusal (a
DomainError: 403 for who may never, 409 for not now) or None. Callers answer 404 first when the user
may not see the case at all (``cases.policies.can_view``).
"""

from django.utils.translation import gettext_lazy as _

from cases.policies import can_view
from odr.errors import Conflict, Forbidden

NEGOTIATING = ("negotiation", "mediation")
ROOMS = ("joint", "caucus-consumer", "caucus-merchant")
#: The states in which each room takes messages (the joint room is the arbitrator's hearing room too).
ROOM_OPEN_STATES = {
    "joint": ("negotiation", "mediation", "arbitration"),
    "caucus-consumer": ("mediation",),
    "caucus-merchant": ("mediation",),
}


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def offer_refusal(user, case):
    if case.party_of(user) is None:
        return Forbidden(_("Only the parties make offers."))
    if case.status not in NEGOTIATING:
        return Conflict(_("Offers are made during negotiation and mediation."))
    return None


def blind_bid_refusal(user, case):
    if case.party_of(user) is None:
        return Forbidden(_("Only the parties bid."))
    if case.status not in NEGOTIATING:
        return Conflict(_("Blind bidding takes place during negotiation and mediation."))
    return None


def room_member(user, case, room) -> bool:
    """Whether ``user`` belongs in ``room`` of ``case`` now (asked at connect and for every message)."""
    if room not in ROOMS or not _active(user) or not can_view(user, case):
        return False
    party = case.party_of(user)
    neutral = case.current_neutral_id is not None and user.pk == case.current_neutral_id
    if room == "joint":
        return party is not None or neutral
    mediator = case.status == "mediation" and neutral
    if room == "caucus-consumer":
        return party == "consumer" or mediator
    return party == "merchant" or mediator


def room_read_refusal(user, case, room):
    if room not in ROOMS:
        return Forbidden(_("There is no such room."))
    if not room_member(user, case, room):
        return Forbidden(_("You are not a member of this room."))
    return None


def room_write_refusal(user, case, room):
    refusal = room_read_refusal(user, case, room)
    if refusal is not None:
        return refusal
    if case.status not in ROOM_OPEN_STATES[room]:
        return Conflict(_("This room is closed at this stage of the case."))
    return None


def session_refusal(user, case):
    if case.current_neutral_id is None or user.pk != case.current_neutral_id:
        return Forbidden(_("Only the case's mediator or arbitrator schedules sessions."))
    return None


def session_participant(user, case) -> bool:
    return case.party_of(user) is not None or user.pk in {case.mediator_id, case.arbitrator_id} - {None}


def agreement_draft_refusal(user, case):
    if case.status != "mediation" or user.pk != case.mediator_id:
        return Forbidden(_("Only the case's mediator drafts the settlement agreement."))
    return None


def agreement_accept_refusal(user, case, agreement):
    party = case.party_of(user)
    if party is None:
        return Forbidden(_("Only the parties accept the agreement."))
    if case.status != "mediation" or agreement.status != "proposed":
        return Conflict(_("This agreement is no longer open."))
    if party in agreement.accepted_by:
        return Conflict(_("You have already accepted this agreement."))
    return None
