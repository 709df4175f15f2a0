"""Deadlines (ARCHITECTURE.md design 3): one row per running clock, started, met and cancelled by the
services as the case moves, and fired by a periodic sweep that applies each consequence exactly once.

Stage durations are business days of the acting party's country, ending at 23:59:59 in that party's time
zone (``cases.calendars``); operators change them in the admin (``StageDuration``).
"""

import datetime as dt
import logging
import zoneinfo

from django.db import transaction
from django.utils import timezone

from notifications.services import read_once
from oversight import summaries

from .calendars import business_days_before, deadline_after, quiet_hours_shift
from .events import event_append, event_append_many
from .models import (
    Case,
    Deadline,
    DeadlineKind,
    DeadlineStatus,
    JurisdictionStatus,
    Payment,
    Reminder,
    StageDuration,
    Status,
)

logger = logging.getLogger(__name__)

DEFAULT_BUSINESS_DAYS = {
    DeadlineKind.MERCHANT_RESPONSE: 10,
    DeadlineKind.JURISDICTION_OBJECTIONS: 5,
    DeadlineKind.NEGOTIATION: 15,
    DeadlineKind.MEDIATION: 30,
    DeadlineKind.ARBITRATION_SUBMISSIONS: 10,
    DeadlineKind.AWARD: 20,
    DeadlineKind.COMPLIANCE: 14,
    DeadlineKind.FINAL_NOTICE: 5,
    DeadlineKind.COMPLIANCE_CONFIRMATION: 10,
}

#: The clocks that run while a case is in a state, and who must act before each ends.
STAGE_CLOCKS = {
    Status.FILED: [(DeadlineKind.MERCHANT_RESPONSE, "merchant")],
    Status.JURISDICTION: [(DeadlineKind.JURISDICTION_OBJECTIONS, "parties")],
    Status.NEGOTIATION: [(DeadlineKind.NEGOTIATION, "parties")],
    Status.MEDIATION: [(DeadlineKind.MEDIATION, "parties")],
    Status.ARBITRATION: [(DeadlineKind.ARBITRATION_SUBMISSIONS, "parties")],
    Status.SETTLED: [(DeadlineKind.COMPLIANCE, "merchant")],
    Status.AWARDED: [(DeadlineKind.COMPLIANCE, "merchant")],
    Status.COMPLIANCE: [(DeadlineKind.COMPLIANCE_CONFIRMATION, "consumer")],
}
#: Clocks that keep running through the states listed (the award clock outlives the submissions).
KEEP_RUNNING = {DeadlineKind.AWARD: {Status.ARBITRATION}}


def business_days(kind: str) -> int:
    row = StageDuration.objects.filter(kind=kind).values_list("business_days", flat=True).first()
    return row if row is not None else DEFAULT_BUSINESS_DAYS[kind]


def _calendars(case: Case, party: str) -> list[tuple[str, str]]:
    """``(country, time zone)`` of whoever must act: the later deadline wins for "parties"."""
    consumer = (str(case.consumer.country), case.consumer.time_zone)
    merchant = (str(case.merchant.country), case.merchant.time_zone)
    if party == "merchant":
        return [merchant]
    if party == "consumer":
        return [consumer]
    if party == "arbitrator" and case.arbitrator_id:
        return [(str(case.arbitrator.country), case.arbitrator.time_zone)]
    if party == "arbitrator":
        return [("", "UTC")]
    return [consumer, merchant]


def due_at_for(case: Case, kind: str, party: str, start: dt.datetime) -> dt.datetime:
    if kind == DeadlineKind.COMPLIANCE and case.comply_by() is not None:
        return case.comply_by()  # the date the settlement or award set
    days = business_days(kind)
    if kind == DeadlineKind.COMPLIANCE and (case.outcome or {}).get("comply_within_days"):
        days = int(case.outcome["comply_within_days"])  # what the parties agreed to
    return max(deadline_after(start, days, country, tz) for country, tz in _calendars(case, party))


def deadline_start(case: Case, kind: str, party: str, *, now: dt.datetime) -> Deadline:
    deadline = Deadline.objects.create(
        case=case, kind=kind, party=party, started_at=now, due_at=due_at_for(case, kind, party, now)
    )
    reminders_plan(deadline, now=now)
    return deadline


def _reminded(case: Case, party: str) -> list[tuple[str, str, str]]:
    """``(party, country, time zone)`` of each side to remind for a deadline of ``party``."""
    if party == "parties":
        return [("consumer", *_calendars(case, "consumer")[0]), ("merchant", *_calendars(case, "merchant")[0])]
    return [(party, *_calendars(case, party)[0])]


def reminders_plan(deadline: Deadline, *, now: dt.datetime) -> list[Reminder]:
    """Reminders 3 business days and 1 day before the deadline, to whoever must act, each moved out of the
    recipient's quiet hours (21:00-08:00 local) to 08:00 their time; none already in the past."""
    rows = []
    for party, country, tz in _reminded(deadline.case, deadline.party):
        zone = zoneinfo.ZoneInfo(tz)
        local_due = deadline.due_at.astimezone(zone)
        three_days = dt.datetime.combine(
            business_days_before(deadline.due_at, 3, country, tz), local_due.time(), tzinfo=zone
        )
        for lead, natural in (("3_business_days", three_days), ("1_day", local_due - dt.timedelta(days=1))):
            send_at = quiet_hours_shift(natural.astimezone(dt.UTC), tz)
            if now < send_at < deadline.due_at:
                rows.append(Reminder(deadline=deadline, party=party, lead=lead, send_at=send_at))
    return Reminder.objects.bulk_create(rows)


def deadline_sync(case: Case, *, previous_status: str, actor=None, now: dt.datetime | None = None) -> None:
    """Close the clocks of the state left and start those of the state entered.

    Call inside the service's transaction, with the case row locked, after the transition. A clock whose
    party acted (the merchant responding, a party moving the case on) is *met*; one made moot by
    someone else (a withdrawal, a rejection, the operator) is *cancelled*.
    """
    if previous_status == case.status:
        return
    now = now or timezone.now()
    keep = {kind for kind, states in KEEP_RUNNING.items() if case.status in states}
    running = Deadline.objects.filter(case=case, status=DeadlineStatus.RUNNING).exclude(kind__in=keep)
    party = case.party_of(actor) if actor is not None else None
    if actor is not None and case.arbitrator_id is not None and actor.pk == case.arbitrator_id:
        party = "arbitrator"
    for deadline in running:
        acted = party is not None and (
            deadline.party == party or (deadline.party == "parties" and party != "arbitrator")
        )
        deadline.status = DeadlineStatus.MET if acted else DeadlineStatus.CANCELLED
        deadline.closed_at = now
        deadline.save(update_fields=["status", "closed_at"])
        deadline.reminders.filter(status="pending").update(status="cancelled")
    for kind, who in STAGE_CLOCKS.get(case.status, []):
        deadline_start(case, kind, who, now=now)


def deadline_cancel(case: Case, kind: str, *, now: dt.datetime | None = None, met: bool = False) -> int:
    """Stop the case's running clock of ``kind`` (met: its party acted), with its reminders."""
    now = now or timezone.now()
    running = list(Deadline.objects.filter(case=case, kind=kind, status=DeadlineStatus.RUNNING))
    for deadline in running:
        deadline.status = DeadlineStatus.MET if met else DeadlineStatus.CANCELLED
        deadline.closed_at = now
        deadline.save(update_fields=["status", "closed_at"])
        deadline.reminders.filter(status="pending").update(status="cancelled")
    return len(running)


def deadline_move(deadline: Deadline, due_at: dt.datetime, *, now: dt.datetime | None = None) -> Deadline:
    """Give a running clock a new end (the arbitrator's timetable); its reminders are planned again."""
    now = now or timezone.now()
    deadline.reminders.filter(status="pending").delete()
    deadline.due_at = due_at
    deadline.save(update_fields=["due_at"])
    reminders_plan(deadline, now=now)
    return deadline


def deadline_list_for_case(case: Case):
    return [d for d in case.deadlines.all() if d.status == DeadlineStatus.RUNNING]


# --- the sweep ----------------------------------------------------------------------------------
def _consequence(deadline: Deadline, status: str, now: dt.datetime):
    """What firing ``deadline`` does to its case, now in ``status``: a function to call, or None when the
    clock's end changes nothing (the case moved on; the firing is then only recorded)."""
    from . import services  # the services import this module

    case = deadline.case
    kind = deadline.kind
    if kind == DeadlineKind.MERCHANT_RESPONSE and status == Status.FILED:

        def default():
            services.case_declare_default(actor=None, case_id=case.pk)
            # The consumer's claim then goes to arbitration on its own.
            services.case_escalate(actor=None, case_id=case.pk, reason="merchant_did_not_respond")

        return default
    if kind == DeadlineKind.JURISDICTION_OBJECTIONS and status == Status.JURISDICTION:
        if case.jurisdiction_status() == JurisdictionStatus.PROPOSED:
            # Nobody contested in time: the platform confirms the proposal as it stands. A contested
            # proposal waits for the operator or the neutral; the fired event alerts the operators.
            return lambda: services.case_confirm_jurisdiction(case_id=case.pk)
        return None
    if kind == DeadlineKind.NEGOTIATION and status == Status.NEGOTIATION:
        return lambda: services.case_request_mediation(actor=None, case_id=case.pk)
    if kind == DeadlineKind.MEDIATION and status == Status.MEDIATION:
        return lambda: services.case_escalate(actor=None, case_id=case.pk, reason="mediation_period_ended")
    if kind in (DeadlineKind.ARBITRATION_SUBMISSIONS, DeadlineKind.FINAL_NOTICE) and status == Status.ARBITRATION:
        return lambda: _submissions_closed(deadline, now)
    if kind == DeadlineKind.AWARD and status == Status.ARBITRATION:

        def overdue():
            # The arbitrator is late: the operators (and the arbitrator) are alerted; the award is still due.
            locked = Case.objects.select_for_update().get(pk=case.pk)
            payload = {"due_at": deadline.due_at, "arbitrator": case.arbitrator_id}
            event_append(case=locked, type="award_overdue", payload=payload)

        return overdue
    if kind == DeadlineKind.COMPLIANCE and status in (Status.SETTLED, Status.AWARDED):
        from .services.compliance import case_declare_non_compliance

        return lambda: case_declare_non_compliance(actor=None, case_id=case.pk)
    if kind == DeadlineKind.COMPLIANCE_CONFIRMATION and status == Status.COMPLIANCE and not case.compliance_disputed():
        from .services.compliance import compliance_confirm_by_silence

        return lambda: compliance_confirm_by_silence(case_id=case.pk)
    return None


def _record_fired(fired: list[tuple[Deadline, str]], now: dt.datetime) -> None:
    """For the batch at once: the breaches counted, a ``deadline_fired`` event on each case's log after the
    firing's consequences (the cases' chains and the notifications in bulk), the rows marked fired and
    their pending reminders cancelled."""
    if not fired:
        return
    for deadline, _status in fired:
        summaries.breach_count(deadline)
    event_append_many(
        [
            (
                deadline.case_id,
                "deadline_fired",
                {"kind": deadline.kind, "party": deadline.party, "due_at": deadline.due_at, "status": status},
            )
            for deadline, status in fired
        ]
    )
    ids = [deadline.pk for deadline, _status in fired]
    Deadline.objects.filter(pk__in=ids).update(status=DeadlineStatus.FIRED, closed_at=now)
    Reminder.objects.filter(deadline_id__in=ids, status="pending").update(status="cancelled")


def _submissions_closed(deadline: Deadline, now: dt.datetime) -> None:
    """The parties' time to file ended. A merchant that filed nothing gets a final notice first; when that
    too passes in silence, the arbitration proceeds on the consumer's claim alone. Then the award is due."""
    from arbitration.models import Submission

    locked = Case.objects.select_for_update().get(pk=deadline.case_id)
    merchant_filed = Submission.objects.filter(case=locked, party="merchant").exists()
    if deadline.kind == DeadlineKind.ARBITRATION_SUBMISSIONS and not merchant_filed:
        notice = deadline_start(locked, DeadlineKind.FINAL_NOTICE, "merchant", now=now)
        event_append(case=locked, type="final_notice", payload={"party": "merchant", "due_at": notice.due_at})
        return
    if not merchant_filed:
        event_append(case=locked, type="default_proceedings", payload={"on": "consumer_claim", "party": "merchant"})
    award_clock_start(locked, now=now)


def award_clock_start(case: Case, *, now: dt.datetime) -> Deadline | None:
    """Start the arbitrator's clock for the award, once."""
    if Deadline.objects.filter(case=case, kind=DeadlineKind.AWARD).exclude(status=DeadlineStatus.CANCELLED).exists():
        return None
    return deadline_start(case, DeadlineKind.AWARD, "arbitrator", now=now)


def reminder_sweep(*, now: dt.datetime | None = None, batch: int = 200) -> int:
    """Send the reminders that are due: each appends a ``reminder`` event (proof of notice on the record)
    whose notifications go to the reminded party. Claimed with SKIP LOCKED like deadlines; sent once."""
    sent = 0
    now = now or timezone.now()
    with transaction.atomic():
        rows = list(
            # The deadline's row too: a reminder whose deadline a sweep batch holds is left for the next tick
            # (that batch cancels it or it is sent then), so the two never wait on each other's locks.
            Reminder.objects.select_for_update(skip_locked=True, of=("self", "deadline"))
            .select_related("deadline")
            .filter(status="pending", send_at__lte=now)
            .order_by("send_at", "id")[:batch]
        )
        for reminder in rows:
            deadline = reminder.deadline
            running = deadline.status == DeadlineStatus.RUNNING
            if running:
                case = Case.objects.select_for_update().get(pk=deadline.case_id)
                payload = {
                    "kind": deadline.kind,
                    "party": reminder.party,
                    "lead": reminder.lead,
                    "due_at": deadline.due_at,
                }
                event_append(case=case, type="reminder", payload=payload)
                sent += 1
            reminder.status = "sent" if running else "cancelled"
            reminder.save(update_fields=["status"])
    return sent


def deadline_sweep(*, now: dt.datetime | None = None, batch: int = 100) -> int:
    """Fire every running deadline due by ``now``; return how many fired.

    Steps, each batch in one transaction: claim up to ``batch`` due rows with
    ``SELECT ... FOR UPDATE SKIP LOCKED`` (so several workers share the work and never take the same row),
    apply each row's consequence in a savepoint of its own, then record the batch's firings together (a
    ``deadline_fired`` event on each case's log with its notifications, the rows marked fired), commit. A
    row whose consequence fails is left running and logged; a crash before commit leaves every row as it
    was.
    """
    fired = 0
    while True:
        now_ = now or timezone.now()
        with transaction.atomic():
            # Each due row with its case, both locked; a row whose case someone holds (a party acting, the
            # reminder sweep, another batch) waits for a later batch: a sweep never waits for a lock, so
            # it cannot deadlock with them, and the conditions below read the case as it stands.
            rows = list(
                Deadline.objects.select_for_update(skip_locked=True, of=("self", "case"))
                .select_related("case")
                .filter(status=DeadlineStatus.RUNNING, due_at__lte=now_)
                .exclude(Payment.compliance_held(now_))  # a refund under way: its answer decides
                .order_by("due_at", "id")[:batch]
            )
            if not rows:
                return fired
            statuses = {d.case_id: d.case.status for d in rows}
            recorded = 0
            pending: list[tuple[Deadline, str]] = []
            # The statistics' rows are written once for the batch, in their fixed order (not fire by fire,
            # which would hold some while waiting for others, for as long as the batch runs); the people
            # every firing notifies are read once for the batch.
            with summaries.deferred(), read_once():
                for deadline in rows:
                    if deadline.case.status != statuses[deadline.case_id]:
                        # An earlier firing of this batch moved the case: that may have stopped this clock.
                        deadline.refresh_from_db(fields=["status"])
                        if deadline.status != DeadlineStatus.RUNNING:
                            continue
                        deadline.case = Case.objects.get(pk=deadline.case_id)
                    action = _consequence(deadline, statuses[deadline.case_id], now_)
                    if action is None:  # nothing to apply: the firing is only recorded
                        pending.append((deadline, statuses[deadline.case_id]))
                        continue
                    if any(d.case_id == deadline.case_id for d, _status in pending):
                        # The case's log gets its earlier firing before this one's consequences.
                        recorded += _record(pending, now_)
                        pending = []
                    try:
                        with transaction.atomic(), summaries.deferred():
                            action()
                            status = Case.objects.filter(pk=deadline.case_id).values_list("status", flat=True).get()
                    except Exception:
                        logger.exception("deadline %s (%s) could not fire", deadline.pk, deadline.kind)
                        continue
                    statuses[deadline.case_id] = status
                    pending.append((deadline, status))
                recorded += _record(pending, now_)
            fired += recorded
            if not recorded and all(d.status == DeadlineStatus.RUNNING for d in rows):
                return fired  # every row failed: leave them to the next sweep


def _record(fired: list[tuple[Deadline, str]], now: dt.datetime) -> int:
    """Record ``fired`` together, in a savepoint; should that fail, one by one (a firing that cannot be
    recorded is logged and stays running, and the batch goes on). Returns how many were recorded."""
    if not fired:
        return 0
    try:
        with transaction.atomic(), summaries.deferred():
            _record_fired(fired, now)
        return len(fired)
    except Exception:
        logger.exception("recording %d firings together failed; recording them one by one", len(fired))
    count = 0
    for one in fired:
        try:
            with transaction.atomic(), summaries.deferred():
                _record_fired([one], now)
            count += 1
        except Exception:
            logger.exception("deadline %s (%s) could not be recorded as fired", one[0].pk, one[0].kind)
    return count


def sweep_all(*, now: dt.datetime | None = None) -> dict:
    """One tick of the clock: due reminders first, then due deadlines (what beat runs every 30 s)."""
    from mediation.services import session_reminder_sweep

    from .services.compliance import payment_retry_sweep

    return {
        "reminders": reminder_sweep(now=now),
        "session_reminders": session_reminder_sweep(now=now),
        "deadlines": deadline_sweep(now=now),
        "payments": payment_retry_sweep(),
    }
