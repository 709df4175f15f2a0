"""The consensual stages as services: offers, double-blind bidding, neutrals' appointment, sessions,
chat messages and the mediator's settlement agreement. One transaction each, its event on the chain."""

import contextlib
import datetime as dt
import json
import logging
import secrets
import uuid
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from cases import selectors
from cases.events import canonical, event_append, event_append_many, sha256
from cases.models import Case, Party
from cases.money import Money, minor_units
from cases.services import lifecycle
from odr.bulk import insert_many
from odr.errors import Conflict, NotFound, ValidationFailed
from odr.realtime import group_send_many

from . import policies
from .models import (
    AgreementStatus,
    Appointment,
    BlindBid,
    ChatMessage,
    MediationSession,
    NeutralProfile,
    Offer,
    OfferStatus,
    SettlementAgreement,
)

logger = logging.getLogger(__name__)


def _raise(refusal):
    if refusal is not None:
        raise refusal


def same_currency_check(case: Case, money: Money, field: str) -> None:
    """Amounts on a case are in the claim's currency (400 on ``<field>.currency`` otherwise)."""
    if money.currency != case.claim_currency:
        raise ValidationFailed(
            fields={f"{field}.currency": [_("Use the claim's currency, %(c)s.") % {"c": case.claim_currency}]}
        )


# --- offers ---------------------------------------------------------------------------------------
def offer_create(*, actor, case_id, amount: Money, remedy: str, note: str = "") -> Offer:
    """A party's offer (or counter-offer): it replaces that party's open offer and awaits the other."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.offer_refusal(actor, case))
        same_currency_check(case, amount, "amount")
        party = case.party_of(actor)
        offer = lifecycle.offer_make(case=case, actor=actor, party=party, amount=amount, remedy=remedy, note=note)
        case.save(update_fields=["open_offer_party", "updated_at"])
        event_append(
            case=case,
            type="offer_made",
            actor=actor,
            payload={"offer": offer.pk, "party": party, "amount": amount.as_dict(), "remedy": remedy, "note": note},
        )
    return offer


def offer_accept(*, actor, case_id, offer_id: int) -> Case:
    """Accept the other party's open offer ``offer_id``: the case settles on its terms."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        offer = Offer.objects.filter(case=case, pk=offer_id).first()
        if offer is None:
            raise NotFound()
        if offer.party == case.party_of(actor):
            raise Conflict(_("You cannot accept your own offer."))
        if offer.status != OfferStatus.OPEN:
            raise Conflict(_("This offer is no longer open."))
        return lifecycle.case_accept_settlement(actor=actor, case_id=case_id)


def offer_list_for(user, case_id):
    case = selectors.case_get_for(user, case_id)
    return Offer.objects.filter(case=case).order_by("created_at", "id")


# --- double-blind bidding -------------------------------------------------------------------------
def _commitment(amount: Money, salt: str) -> str:
    return sha256(canonical({"amount": amount.as_dict()["amount"], "currency": amount.currency, "salt": salt}))


def _rounds(case: Case) -> dict[int, dict[str, BlindBid]]:
    rounds: dict[int, dict[str, BlindBid]] = {}
    for bid in BlindBid.objects.filter(case=case).order_by("round"):
        rounds.setdefault(bid.round, {})[bid.party] = bid
    return rounds


def blind_settles(demand: Decimal, offer: Decimal) -> bool:
    """The rule: the merchant's offer reaches the consumer's demand, or comes within the gap of it."""
    gap = Decimal(str(settings.ODR_BLIND_BID_GAP))
    return offer >= demand * (Decimal(1) - gap)


def blind_midpoint(demand: Decimal, offer: Decimal, currency: str) -> Decimal:
    step = Decimal(1).scaleb(-minor_units()[currency])
    return ((demand + offer) / 2).quantize(step, rounding=ROUND_HALF_UP)


def blind_bid_place(*, actor, case_id, amount: Money) -> dict:
    """Enter a hidden figure for the current round; settle at the midpoint when the rule is met.

    Neither the API, the event log nor the pages ever show one party's figure to the other: the log
    holds a salted commitment, and a round that does not settle says only that it did not.
    """
    max_rounds = settings.ODR_BLIND_BID_ROUNDS
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.blind_bid_refusal(actor, case))
        same_currency_check(case, amount, "amount")
        if amount.amount <= 0:
            raise ValidationFailed(fields={"amount.amount": [_("Enter a figure above zero.")]})
        party = case.party_of(actor)
        rounds = _rounds(case)
        current = next((n for n in range(1, max_rounds + 1) if len(rounds.get(n, {})) < 2), None)
        if current is None:
            raise Conflict(_("All %(n)s rounds of blind bidding are used.") % {"n": max_rounds})
        if party in rounds.get(current, {}):
            raise Conflict(_("You have bid in this round; wait for the other party."))
        salt = secrets.token_hex(16)
        bid = BlindBid.objects.create(
            case=case,
            party=party,
            made_by=actor,
            round=current,
            amount=amount.amount,
            currency=amount.currency,
            salt=salt,
            commitment=_commitment(amount, salt),
        )
        event_append(
            case=case,
            type="blind_bid",
            actor=actor,
            payload={"party": party, "round": current, "commitment": bid.commitment},
        )
        other = rounds.get(current, {}).get(Party.MERCHANT if party == Party.CONSUMER else Party.CONSUMER)
        if other is None:
            return {"round": current, "status": "waiting", "rounds_left": max_rounds - current + 1}
        demand = bid.amount if party == Party.CONSUMER else other.amount
        offer = bid.amount if party == Party.MERCHANT else other.amount
        if not blind_settles(demand, offer):
            last = current == max_rounds
            event_append(
                case=case,
                type="blind_bidding_round_failed",
                payload={"round": current, "rounds_left": max_rounds - current, "ended": last},
            )
            return {
                "round": current,
                "status": "ended" if last else "no_agreement",
                "rounds_left": max_rounds - current,
            }
        figure = Money(blind_midpoint(demand, offer, case.claim_currency), case.claim_currency)

        def run(locked):
            terms = lifecycle.settlement_terms(
                locked, source="blind_bidding", round=current, amount=figure.as_dict(), remedy=locked.remedy
            )
            locked.accept_settlement(terms=terms)
            Offer.objects.filter(case=locked, status=OfferStatus.OPEN).update(status=OfferStatus.LAPSED)
            return {"terms": terms}

        lifecycle.transition_perform(
            actor=actor,
            case_id=case.pk,
            action="accept_settlement",
            run=run,
            check=lambda locked: None,
            event_type="blind_bidding_settled",
        )
        return {"round": current, "status": "settled", "amount": figure.as_dict(), "rounds_left": 0}


def blind_bid_state_for(user, case_id) -> dict:
    """What ``user`` may know of the bidding: their own figures, whether the other has bid, outcomes."""
    case = selectors.case_get_for(user, case_id)
    party = case.party_of(user)
    rounds = _rounds(case)
    max_rounds = settings.ODR_BLIND_BID_ROUNDS
    out = []
    for number in range(1, max_rounds + 1):
        bids = rounds.get(number, {})
        mine = bids.get(party) if party else None
        other = [p for p in bids if p != party]
        out.append(
            {
                "round": number,
                "mine": Money(mine.amount, mine.currency).as_dict() if mine else None,
                "other_submitted": bool(other) if party else None,
                "complete": len(bids) == 2,
            }
        )
    settled = (case.outcome or {}).get("source") == "blind_bidding"
    current = next((r["round"] for r in out if not r["complete"]), None)
    return {
        "rounds": out,
        "current_round": None if settled else current,
        "settled": settled,
        "settlement": (case.outcome or {}).get("amount") if settled else None,
        "gap": str(settings.ODR_BLIND_BID_GAP),
        "max_rounds": max_rounds,
    }


# --- neutrals: roster, appointment, disclosure, challenge -------------------------------------------
def _party_languages(case: Case) -> tuple[set[str], set[str]]:
    merchant = set(
        User.objects.filter(organisation_id=case.merchant_id, is_active=True).values_list("language", flat=True)
    )
    return {case.consumer.language}, merchant or {settings.LANGUAGE_CODE}


def neutral_pick(case: Case, role: str, *, exclude: set[int] = frozenset()) -> User | None:
    """The least-loaded active neutral of ``role`` who speaks both parties' languages (else the platform's
    default language), covers one of their countries (or any), has room, and has no conflict: not from
    the merchant's organisation, not on a case of the same merchant in the past year, never the case's
    other neutral."""
    consumer_langs, merchant_langs = _party_languages(case)
    field = "mediator" if role == Role.MEDIATOR else "arbitrator"
    active_state = "mediation" if role == Role.MEDIATOR else "arbitration"
    year_ago = timezone.now() - dt.timedelta(days=365)
    # Served on another case of the same merchant in the past year: any appointment (even one later
    # replaced), and any case that names them (assigned before appointments were recorded).
    conflicted = set(
        Appointment.objects.filter(case__merchant_id=case.merchant_id, appointed_at__gte=year_ago)
        .exclude(case=case)
        .values_list("neutral_id", flat=True)
    ) | set(
        Case.objects.filter(merchant_id=case.merchant_id, created_at__gte=year_ago)
        .exclude(pk=case.pk)
        .exclude(**{f"{field}__isnull": True})
        .values_list(field, flat=True)
    )
    other = case.mediator_id if role == Role.ARBITRATOR else case.arbitrator_id
    # Never again on this case: a neutral whose challenge was upheld here.
    upheld = set(
        Appointment.objects.filter(case=case, role=role, status=Appointment.Status.REPLACED)
        .exclude(challenged_by="")
        .values_list("neutral_id", flat=True)
    )
    exclude = set(exclude) | upheld
    candidates = (
        NeutralProfile.objects.select_related("user")
        .filter(user__role=role, user__is_active=True, active=True)
        .exclude(user__organisation_id=case.merchant_id)
        .exclude(user_id__in=conflicted | set(exclude) | ({other} if other else set()))
        .annotate(load=Count(f"user__cases_as_{field}", filter=Q(**{f"user__cases_as_{field}__status": active_state})))
        .order_by("load", "user_id")
    )
    countries = {case.consumer_country.code, case.merchant_country.code}
    fitting = []
    for profile in candidates:
        if profile.load >= profile.max_load:
            continue
        if profile.countries and not countries & set(profile.countries):
            continue
        langs = set(profile.languages)
        both = bool(langs & consumer_langs) and bool(langs & merchant_langs)
        fitting.append((0 if both else 1, profile))
    fallback = [p for rank, p in fitting if rank == 1 and settings.LANGUAGE_CODE in p.languages]
    best = [p for rank, p in fitting if rank == 0] or fallback
    return best[0].user if best else None


def neutral_profile_set(*, user, languages: list[str], countries: list[str] = (), max_load: int = 10):
    """Put a mediator or arbitrator on the roster (or update their place on it)."""
    profile, _created = NeutralProfile.objects.update_or_create(
        user=user,
        defaults={"languages": list(languages), "countries": list(countries), "max_load": max_load, "active": True},
    )
    return profile


def appointment_record(*, case: Case, neutral: User, role: str, automatic: bool) -> Appointment:
    """Note an appointment (in the caller's transaction); the previous active one of the role is replaced.

    A challenge still pending against the replaced neutral is moot: the new appointment's
    ``superseded_challenge`` names the party who had made it, for the event log."""
    replaced = list(Appointment.objects.filter(case=case, role=role, status=Appointment.Status.ACTIVE))
    Appointment.objects.filter(pk__in=[a.pk for a in replaced]).update(status=Appointment.Status.REPLACED)
    now = timezone.now()
    appointment = Appointment.objects.create(
        case=case,
        neutral=neutral,
        role=role,
        automatic=automatic,
        appointed_at=now,
        challenge_until=now + dt.timedelta(days=settings.ODR_CHALLENGE_DAYS),
    )
    appointment.superseded_challenge = next((a.challenged_by for a in replaced if a.challenged_by), "")
    return appointment


def appointments_end(case: Case, role: str) -> None:
    """The case left the neutral's stage (mediation or arbitration): their appointment has ended."""
    Appointment.objects.filter(case=case, role=role, status=Appointment.Status.ACTIVE).update(
        status=Appointment.Status.ENDED
    )


def active_appointment(case: Case) -> Appointment | None:
    neutral = case.current_neutral_id
    if neutral is None:
        return None
    return (
        Appointment.objects.filter(case=case, neutral_id=neutral, status=Appointment.Status.ACTIVE)
        .order_by("-appointed_at")
        .first()
    )


def neutral_assign_auto(*, case_id, role: str, exclude: set[int] = frozenset()) -> Case | None:
    """Appoint from the roster when the case needs a neutral and none is assigned; None if nobody fits
    (the operators are told by a ``neutral_unavailable`` event and assign by hand)."""
    action = "assign_mediator" if role == Role.MEDIATOR else "assign_arbitrator"
    state = "mediation" if role == Role.MEDIATOR else "arbitration"
    with transaction.atomic():
        case = Case.objects.select_for_update().select_related("consumer").get(pk=case_id)
        current = case.mediator_id if role == Role.MEDIATOR else case.arbitrator_id
        if case.status != state or current is not None:
            return None
        neutral = neutral_pick(case, role, exclude=exclude)
        if neutral is None:
            event_append(case=case, type="neutral_unavailable", payload={"role": role})
            return None

        def run(locked):
            getattr(locked, action)(neutral=neutral)
            appointment_record(case=locked, neutral=neutral, role=role, automatic=True)
            return {role: neutral.pk, "previous": None, "automatic": True}

        return lifecycle.transition_perform(actor=None, case_id=case.pk, action=action, run=run, event_type=action)


def neutral_disclose_record(*, case: Case, neutral, statement: str) -> dt.datetime:
    """Keep the neutral's disclosure on the appointment (caller's transaction); the parties' challenge
    window runs ODR_CHALLENGE_DAYS from it. Returns the window's end."""
    appointment = active_appointment(case)
    if appointment is None or appointment.neutral_id != neutral.pk:
        raise Conflict(_("Only the case's current neutral discloses."))
    now = timezone.now()
    appointment.disclosure = statement
    appointment.disclosed_at = now
    if not appointment.challenge_reason:  # neither pending nor decided: the window runs from here
        appointment.challenge_until = now + dt.timedelta(days=settings.ODR_CHALLENGE_DAYS)
    appointment.save(update_fields=["disclosure", "disclosed_at", "challenge_until"])
    return appointment.challenge_until


# --- live sessions ------------------------------------------------------------------------------
def session_schedule(*, actor, case_id, starts_at: dt.datetime, minutes: int) -> MediationSession:
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.session_refusal(actor, case))
        now = timezone.now()
        if starts_at <= now:
            raise ValidationFailed(fields={"starts_at": [_("Choose a time in the future.")]})
        reminder_at = max(now, starts_at - dt.timedelta(minutes=settings.ODR_SESSION_REMINDER_MINUTES))
        session = MediationSession.objects.create(
            case=case, scheduled_by=actor, starts_at=starts_at, minutes=minutes, reminder_at=reminder_at
        )
        event_append(
            case=case,
            type="session_scheduled",
            actor=actor,
            payload={"session": session.pk, "starts_at": starts_at, "minutes": minutes, "room": session.room},
        )
    return session


def session_reminder_sweep(*, now: dt.datetime | None = None, batch: int = 200) -> int:
    """Remind the participants of sessions about to start; each reminder once (SKIP LOCKED)."""
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        rows = list(
            MediationSession.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(reminder_status="pending", reminder_at__lte=now)
            .order_by("reminder_at", "id")[:batch]
        )
        for session in rows:
            case = Case.objects.select_for_update().get(pk=session.case_id)
            # Only a session that can still take place: not over, and the case still in a live stage.
            live = session.starts_at > now - dt.timedelta(minutes=session.minutes) and case.status in (
                "mediation",
                "arbitration",
            )
            if live:
                event_append(
                    case=case,
                    type="session_reminder",
                    payload={"session": session.pk, "starts_at": session.starts_at, "minutes": session.minutes},
                )
                sent += 1
            session.reminder_status = "sent" if live else "cancelled"
            session.save(update_fields=["reminder_status"])
    return sent


def session_list_for(user, case_id):
    case = selectors.case_get_for(user, case_id)
    return case, MediationSession.objects.filter(case=case).order_by("starts_at")


def session_ics(*, user, case_id, session_id) -> bytes:
    """The session as an iCalendar file (RFC 5545), times in UTC so every calendar shows them locally."""
    import icalendar

    case = selectors.case_get_for(user, case_id)
    if not policies.session_participant(user, case):
        raise NotFound()
    session = MediationSession.objects.filter(case=case, pk=session_id).first()
    if session is None:
        raise NotFound()
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//ODR platform//mediation sessions//EN")
    calendar.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", f"session-{session.pk}-{case.pk}@odr")
    event.add("dtstamp", timezone.now())
    event.add("dtstart", session.starts_at.astimezone(dt.UTC))
    event.add("dtend", (session.starts_at + dt.timedelta(minutes=session.minutes)).astimezone(dt.UTC))
    event.add("summary", _("Mediation session, case %(ref)s") % {"ref": case.reference})
    event.add("url", f"{settings.ODR_BASE_URL}/cases/{case.pk}/#h-chat")
    alarm = icalendar.Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("description", _("Mediation session, case %(ref)s") % {"ref": case.reference})
    alarm.add("trigger", dt.timedelta(minutes=-settings.ODR_SESSION_REMINDER_MINUTES))
    event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()


# --- chat -----------------------------------------------------------------------------------------
def _rate_client():
    """The Redis the shared cache lives on, or None on the in-process cache."""
    if not settings.REDIS_URL:
        return None
    from odr.redis_clients import client

    return client(settings.REDIS_URL)


def _rate_limited_many(senders: list[tuple[int, object]], counted: list | None = None) -> list[bool]:
    """For each ``(user_id, case_id)`` in turn, whether that message goes over the limit: at most
    ODR_CHAT_RATE messages a user and case in any ODR_CHAT_RATE_SECONDS.

    A sliding-window counter: this window's count plus the previous window's, weighted by how much of
    it still overlaps the last ODR_CHAT_RATE_SECONDS, so a burst across a window boundary counts whole.
    Counters live in Redis in a deployment, so every ASGI process applies one limit; a batch's counters
    take one round trip (a pipeline), a user's several messages in it counting one after the other.
    The counters raised are added to ``counted`` (for ``_rate_uncount`` when the messages are not stored).
    """
    window = settings.ODR_CHAT_RATE_SECONDS
    now = timezone.now().timestamp()
    current = int(now // window)
    overlap = 1 - (now % window) / window
    keys = [f"{settings.ODR_CACHE_PREFIX}:chat-rate:{user_id}:{case_id}:" for user_id, case_id in senders]
    client = _rate_client()
    if client is None:  # one process: the local cache
        counts = []
        for key in keys:
            cache.add(key + str(current), 0, timeout=window * 3)
            try:
                count = cache.incr(key + str(current))
            except ValueError:  # expired between add and incr
                cache.set(key + str(current), 1, timeout=window * 3)
                count = 1
            counts.append((cache.get(key + str(current - 1)) or 0, count))
    else:
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key + str(current - 1))
            pipe.incr(key + str(current))
            pipe.expire(key + str(current), window * 3)
        replies = pipe.execute()
        counts = [(int(replies[n] or 0), replies[n + 1]) for n in range(0, len(replies), 3)]
    if counted is not None:
        counted += [key + str(current) for key in keys]
    return [previous * overlap + count > settings.ODR_CHAT_RATE for previous, count in counts]


_UNCOUNT = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"


def _rate_uncount(counted: list[str]) -> None:
    """Take back what ``_rate_limited_many`` counted for messages a failed transaction did not store (a
    counter that has expired meanwhile stays gone). Best effort: a failure here is logged, not raised."""
    if not counted:
        return
    try:
        client = _rate_client()
        if client is None:
            for key in counted:
                with contextlib.suppress(ValueError):  # expired meanwhile
                    cache.decr(key)
            return
        uncount = client.register_script(_UNCOUNT)
        pipe = client.pipeline(transaction=False)
        for key in counted:
            uncount(keys=[key], client=pipe)
        pipe.execute()
    except Exception:
        logger.warning("chat: could not take back %s rate counts", len(counted), exc_info=True)


def _body_refusal(body: str):
    if not body:
        return ValidationFailed(fields={"body": [_("Write a message.")]})
    if "\x00" in body:  # PostgreSQL stores no NUL in text (the API's serializer refuses it the same way)
        return ValidationFailed(fields={"body": [_("Null characters are not allowed.")]})
    try:
        body.encode()
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the websocket's JSON): not storable text
        return ValidationFailed(fields={"body": [_("Surrogate characters are not allowed.")]})
    if len(body) > settings.ODR_CHAT_MAX_LENGTH:
        return ValidationFailed(
            fields={"body": [_("A message may be at most %(n)s characters.") % {"n": settings.ODR_CHAT_MAX_LENGTH}]}
        )
    return None


def message_post(*, actor, case_id, room: str, body: str) -> ChatMessage:
    """A member's message: checked (membership, stage, length, rate), stored, hashed onto the chain and
    sent to the room's open connections (``message_post_many`` of one)."""
    result = message_post_many([(actor, case_id, room, body)])[0]
    if isinstance(result, Exception):
        raise result
    return result


class CaseBusy(Exception):  # noqa: N818 -- a result, not an error
    """``message_post_many(wait=False)``'s result for a message whose case another transaction holds."""


#: What a chat batch reads of its cases (locked): what the room's policy and the chain's hash ask, and the
#: chain's head.
CHAT_CASE_FIELDS = (
    *("id", "reference", "status", "consumer_id", "merchant_id", "mediator_id", "arbitrator_id"),
    *("event_count", "event_head"),
)
#: What the chat reads of its members: what the policies and a message's author ask.
CHAT_USER_FIELDS = ("id", "role", "organisation_id", "is_active", "display_name", "email")


def message_post_many(posts, *, wait: bool = True, lock_timeout: float | None = None) -> list:
    """Members' messages, each ``(actor, case_id, room, body)`` (the actor a ``User``, or a user's id to be
    read here as the user stands now, with the cases' lock): for each in turn its ``ChatMessage``,
    stored, hashed onto its case's chain and sent to the room's open connections, or the ``DomainError``
    that refuses it (the others go on). The chat consumers of a process hand in what their connections
    sent while the previous batch was being written: one transaction, a handful of statements and one
    Redis round trip for the rate limit, however many messages and cases.

    The messages are sent while their cases are still locked, so that a room's members on every process
    get its messages in the order of their ids (two posts at once on two processes cannot overtake).
    With ``wait=False`` a case another transaction holds (another process's batch) is skipped, not waited
    for: its messages get ``CaseBusy`` and nothing else happens to them, for the caller to hand in again.
    With ``lock_timeout`` (seconds, PostgreSQL), a wait for a lock longer than that gives up the same way.
    A batch the database refuses as a whole is retried a message at a time.
    """
    results: list = [None] * len(posts)
    todo = []
    for index, (actor, case_id, room, body) in enumerate(posts):
        body = (body or "").strip()
        results[index] = _body_refusal(body)
        if results[index] is None:
            todo.append((index, actor, case_id, room, body))
    if not todo:
        return results
    counted: list[str] = []
    sent: list[bool] = []
    try:
        with transaction.atomic():
            if lock_timeout and connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}")
            _post_locked(todo, results, wait, counted, sent)
    except Exception as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available: its lock_timeout ran out
            _rate_uncount(counted)
            for index, *_post in todo:
                results[index] = CaseBusy()
            return results
        if sent:  # the commit itself failed: the room heard them and they may be stored; no second copy
            logger.error("chat: the commit of a batch of %s messages failed after sending them", len(todo))
            for index, *_post in todo:
                results[index] = exc
            return results
        _rate_uncount(counted)  # none of them was stored
        if len(todo) == 1 or not isinstance(exc, DatabaseError):  # one message's error, or Redis and the like
            for index, *_post in todo:
                results[index] = exc
            return results
        # The database refused the batch for one message it cannot take: the others go one at a time.
        # Not the error's text: PostgreSQL's detail may quote a row, a message's body in it.
        logger.warning(
            "chat: a batch of %s messages failed (%s, SQLSTATE %s); posting them one at a time",
            len(todo),
            type(exc).__name__,
            getattr(exc.__cause__, "sqlstate", None),
        )
        busy = set()
        for index, actor, case_id, room, body in todo:
            if str(case_id) in busy:  # a later message of a busy case waits with the earlier one (order)
                results[index] = CaseBusy()
                continue
            results[index] = message_post_many([(actor, case_id, room, body)], wait=wait)[0]
            if isinstance(results[index], CaseBusy):
                busy.add(str(case_id))
    return results


def _uuid_or_none(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _read_locked(case_ids: set, user_ids: set, wait: bool) -> tuple[dict, dict]:
    """The cases, locked (in the order of their ids: two batches that wait for each other's cases cannot
    deadlock; with ``wait=False`` those another transaction holds are left out), and the users, each by
    id. On PostgreSQL both in one round trip, without the query compiler (a chat batch's hot path): two
    statements in one ``execute``, which psycopg's client-side binding allows (Django's default; with the
    ``server_side_binding`` option it would not)."""
    if connection.vendor != "postgresql":
        locked = Case.objects.select_for_update(skip_locked=not wait).only(*CHAT_CASE_FIELDS)
        users = User.objects.only(*CHAT_USER_FIELDS).in_bulk(user_ids) if user_ids else {}
        return {case.pk: case for case in locked.filter(pk__in=case_ids).order_by("pk")}, users
    case_fields = _columns(Case, CHAT_CASE_FIELDS)
    user_fields = _columns(User, CHAT_USER_FIELDS)
    quote = connection.ops.quote_name
    pk = quote(Case._meta.pk.column)
    sql = (
        f"SELECT {', '.join(quote(f.column) for f in case_fields)} FROM {quote(Case._meta.db_table)} "  # noqa: S608 (names from the models)
        f"WHERE {pk} = ANY(%s) ORDER BY {pk} FOR UPDATE{'' if wait else ' SKIP LOCKED'}"
    )
    params: list = [list(case_ids)]
    if user_ids:
        sql += (
            f"; SELECT {', '.join(quote(f.column) for f in user_fields)} FROM {quote(User._meta.db_table)} "  # noqa: S608
            f"WHERE {quote(User._meta.pk.column)} = ANY(%s)"
        )
        params.append(list(user_ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [f.attname for f in case_fields]
        cases = {case.pk: case for case in (Case.from_db(connection.alias, names, row) for row in cursor.fetchall())}
        users = {}
        if user_ids:
            cursor.nextset()
            names = [f.attname for f in user_fields]
            users = {
                user.pk: user for user in (User.from_db(connection.alias, names, row) for row in cursor.fetchall())
            }
    return cases, users


def _columns(model, names) -> list:
    """``model``'s concrete fields among ``names`` (attribute names), in the model's order (``from_db``'s)."""
    return [field for field in model._meta.concrete_fields if field.attname in names]


def _post_locked(todo, results, wait: bool, counted: list, sent: list) -> None:
    from cases.policies import can_view

    from .consumers import room_group

    todo = [(index, actor, _uuid_or_none(case_id), room, body) for index, actor, case_id, room, body in todo]
    ids = {case_id for _index, _actor, case_id, _room, _body in todo if case_id is not None}
    # Actors given by id are read with the cases; anything else that is not a User is no one (NotFound).
    cases, users = _read_locked(ids, {actor for _i, actor, *_post in todo if type(actor) is int}, wait)
    busy = set() if wait else set(Case.objects.filter(pk__in=ids - cases.keys()).values_list("pk", flat=True))
    todo = [
        (index, users.get(actor), *post) if not isinstance(actor, User) else (index, actor, *post)
        for index, actor, *post in todo
    ]
    # Authors the database does not know are refused here, not by the commit's foreign key. Those read from
    # it (the consumers', the request's user) are known; only ones built in memory are asked about.
    built = {actor.pk for _index, actor, *_post in todo if actor is not None and actor._state.adding}
    unknown = built - set(User.objects.filter(pk__in=built).values_list("pk", flat=True)) if built else set()
    allowed = []
    for index, actor, case_id, room, body in todo:
        case = cases.get(case_id)
        if case_id in busy:
            results[index] = CaseBusy()
            continue
        if case is None or actor is None or actor.pk in unknown or not can_view(actor, case):
            results[index] = NotFound()
            continue
        results[index] = policies.room_write_refusal(actor, case, room)
        if results[index] is None:
            allowed.append((index, actor, case, room, body))
    limited = _rate_limited_many([(actor.pk, case.pk) for _index, actor, case, _room, _body in allowed], counted)
    posted = []
    for over, (index, actor, case, room, body) in zip(limited, allowed, strict=True):
        if over:
            results[index] = Conflict(_("You are sending messages too fast; wait a moment."), code="rate_limited")
        else:
            posted.append((index, ChatMessage(case=case, room=room, author=actor, role=actor.role, body=body)))
    if not posted:
        return
    insert_many([message for _index, message in posted], ("case", "room", "author", "role", "body", "sent_at"))
    # The log keeps each message's hash, not its text: caucus messages stay private to their room.
    event_append_many(
        [
            (
                message.case_id,
                "message",
                {
                    "room": message.room,
                    "message": message.pk,
                    "body_sha256": sha256(message.body.encode()),
                },
                message.author,
            )
            for _index, message in posted
        ],
        cases=cases,
    )
    sends = [(room_group(message.case_id, message.room), message_event(message)) for _index, message in posted]
    errors = group_send_many(sends)  # never raises: each send's error, or None
    sent.append(True)
    for (group, _message), error in zip(sends, errors, strict=True):
        if error is not None:  # stored and on the chain: the room reads it on its next load
            logger.warning("chat: could not send a message to %s: %r", group, error)
    for index, message in posted:
        results[index] = message


def message_list_for(user, case_id, room: str, *, after: int = 0, limit: int = 200):
    case = selectors.case_get_for(user, case_id)
    _raise(policies.room_read_refusal(user, case, room))
    return (
        ChatMessage.objects.filter(case=case, room=room, pk__gt=after).select_related("author").order_by("id")[:limit]
    )


def message_event(message: ChatMessage) -> dict:
    """The channel-layer event that brings ``message`` to its room's connections: the websocket frame's
    text, encoded once here rather than by every connection that hears it."""
    return {"type": "chat.message", "text": json.dumps({"type": "message", **message_json(message)})}


def message_json(message: ChatMessage) -> dict:
    return {
        "id": message.pk,
        "room": message.room,
        "author": message.author.display_name,
        "author_id": message.author_id,
        "role": message.role,
        "body": message.body,
        "sent_at": message.sent_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }


# --- the settlement agreement ----------------------------------------------------------------------
def agreement_draft(*, actor, case_id, terms: str, amount: Money | None, remedy: str, comply_within_days: int):
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        _raise(policies.agreement_draft_refusal(actor, case))
        if amount is not None:
            same_currency_check(case, amount, "amount")
        SettlementAgreement.objects.filter(case=case, status=AgreementStatus.PROPOSED).update(
            status=AgreementStatus.WITHDRAWN
        )
        agreement = SettlementAgreement.objects.create(
            case=case,
            drafted_by=actor,
            terms=terms,
            amount=amount.amount if amount else None,
            currency=amount.currency if amount else "",
            remedy=remedy,
            comply_within_days=comply_within_days,
        )
        event_append(
            case=case,
            type="agreement_drafted",
            actor=actor,
            payload={
                "agreement": agreement.pk,
                "terms": terms,
                "amount": amount.as_dict() if amount else None,
                "remedy": remedy,
                "comply_within_days": comply_within_days,
            },
        )
    return agreement


def agreement_accept(*, actor, case_id, agreement_id: int) -> Case:
    """A party accepts the mediator's draft; once both have, the case settles on it."""
    with transaction.atomic():
        case = selectors.case_get_for_update(actor, case_id)
        agreement = SettlementAgreement.objects.select_for_update().filter(case=case, pk=agreement_id).first()
        if agreement is None:
            raise NotFound()
        _raise(policies.agreement_accept_refusal(actor, case, agreement))
        party = case.party_of(actor)
        agreement.accepted_by = sorted({*agreement.accepted_by, party})
        if len(agreement.accepted_by) < 2:
            agreement.save(update_fields=["accepted_by"])
            event_append(
                case=case, type="agreement_accepted", actor=actor, payload={"agreement": agreement.pk, "party": party}
            )
            return case
        agreement.status = AgreementStatus.ACCEPTED
        agreement.save(update_fields=["accepted_by", "status"])

        def run(locked):
            amount = Money(agreement.amount, agreement.currency).as_dict() if agreement.amount is not None else None
            terms = lifecycle.settlement_terms(
                locked, source="mediation_agreement", agreement=agreement.pk, terms=agreement.terms,
                amount=amount, remedy=agreement.remedy, comply_within_days=agreement.comply_within_days,
            )  # fmt: skip
            locked.accept_settlement(terms=terms)
            Offer.objects.filter(case=locked, status=OfferStatus.OPEN).update(status=OfferStatus.LAPSED)
            return {"terms": terms, "party": party}

        return lifecycle.transition_perform(
            actor=actor,
            case_id=case.pk,
            action="accept_settlement",
            run=run,
            check=lambda locked: None,
            event_type="agreement_accepted",
        )
