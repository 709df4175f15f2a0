"""Deadlines: started and closed by the services, fired once by the sweep at the right moment."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import time_machine

from arbitration.services import submission_file
from cases import services
from cases.calendars import deadline_after
from cases.deadlines import deadline_sweep
from cases.events import chain_verify
from cases.models import Case, Deadline, StageDuration
from cases.money import Money
from tests.factories import case_in, file_case

MONDAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def running(case, kind):
    return Deadline.objects.get(case=case, kind=kind, status="running")


def test_filing_starts_the_merchants_clock_in_its_own_calendar(cast, api):
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    deadline = running(case, "merchant_response")
    assert deadline.party == "merchant"
    assert deadline.due_at == deadline_after(MONDAY, 10, "CN", "Asia/Shanghai")
    # The consumer (Europe/Madrid) sees it in the API in UTC and in their own zone.
    body = api(cast.consumer).get(f"/api/v1/cases/{case.pk}/").json()
    [shown] = body["deadlines"]
    assert shown["kind"] == "merchant_response" and shown["party"] == "merchant" and shown["status"] == "running"
    assert shown["due_at"] == deadline.due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    madrid = deadline.due_at.astimezone(zoneinfo.ZoneInfo("Europe/Madrid"))
    assert shown["due_at_local"] == madrid.isoformat()


def test_the_merchant_responding_meets_its_deadline_and_starts_the_next(cast):
    case = file_case(cast)
    services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="No.")
    assert Deadline.objects.get(case=case, kind="merchant_response").status == "met"
    assert running(case, "jurisdiction_objections").party == "parties"


def test_withdrawal_cancels_the_running_clock(cast):
    case = file_case(cast)
    services.case_withdraw(actor=cast.consumer, case_id=case.pk)
    assert Deadline.objects.get(case=case, kind="merchant_response").status == "cancelled"
    assert not Deadline.objects.filter(case=case, status="running").exists()


def test_merchant_silence_defaults_the_case_once_and_sends_it_to_arbitration(cast):
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    due = running(case, "merchant_response").due_at
    with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 0
    assert Case.objects.get(pk=case.pk).status == "filed"
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 1
        assert deadline_sweep() == 0  # never twice
    case.refresh_from_db()
    assert case.status == "arbitration"
    types = list(case.events.order_by("seq").values_list("type", "actor_role"))
    # With nobody on the arbitrators' roster, the operators are told (neutral_unavailable).
    assert types[-4:] == [
        ("declare_default", "system"),
        ("escalate", "system"),
        ("neutral_unavailable", "system"),
        ("deadline_fired", "system"),
    ]
    assert Deadline.objects.get(case=case, kind="merchant_response").status == "fired"
    assert running(case, "arbitration_submissions")
    assert chain_verify(case).ok


def test_no_objection_in_time_confirms_the_proposal(cast):
    case = case_in("jurisdiction", cast)
    due = running(case, "jurisdiction_objections").due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert deadline_sweep() == 1
    case.refresh_from_db()
    assert case.status == "negotiation"
    assert case.jurisdiction["status"] == "decided"


def test_expired_negotiation_goes_to_mediation_and_expired_mediation_to_arbitration(cast):
    case = case_in("negotiation", cast)
    due = running(case, "negotiation").due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        deadline_sweep()
    case.refresh_from_db()
    assert case.status == "mediation"
    due = running(case, "mediation").due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        deadline_sweep()
    case.refresh_from_db()
    assert case.status == "arbitration"


def merchant_files_a_submission(cast, case):
    submission_file(actor=cast.merchant, case_id=case.pk, statement="The parcel was delivered.", evidence_ids=[])


def test_submissions_closing_start_the_award_clock_and_a_late_award_is_recorded(cast):
    case = case_in("arbitration", cast)
    merchant_files_a_submission(cast, case)
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert deadline_sweep() == 1
    # The merchant was heard: no final notice, the award is due at once.
    assert not Deadline.objects.filter(case=case, kind="final_notice").exists()
    award = running(case, "award")
    assert award.party == "arbitrator"
    # The arbitrator (Germany, Europe/Berlin in the cast) has 20 business days after submissions closed.
    assert award.due_at == deadline_after(due + dt.timedelta(minutes=1), 20, "DE", "Europe/Berlin")
    with time_machine.travel(award.due_at + dt.timedelta(minutes=1), tick=False):
        assert deadline_sweep() == 1
    case.refresh_from_db()
    assert case.status == "arbitration"  # the operators are alerted; the case waits for the award
    overdue, fired = case.events.order_by("-seq")[:2][::-1]
    assert (overdue.type, overdue.actor_role) == ("award_overdue", "system")
    assert overdue.payload["arbitrator"] == cast.arbitrator.pk
    assert (fired.type, fired.payload["kind"]) == ("deadline_fired", "award")
    assert not case.events.filter(type__in=["final_notice", "default_proceedings"]).exists()
    assert chain_verify(case).ok


def test_a_silent_merchant_gets_a_final_notice_before_the_award_clock_starts(cast):
    case = case_in("arbitration", cast)
    due = running(case, "arbitration_submissions").due_at
    closed = due + dt.timedelta(minutes=1)
    with time_machine.travel(closed, tick=False):
        assert deadline_sweep() == 1
    case.refresh_from_db()
    assert case.status == "arbitration"
    notice = running(case, "final_notice")
    # Five business days, in the merchant's calendar (China, Asia/Shanghai).
    assert notice.party == "merchant"
    assert notice.due_at == deadline_after(closed, 5, "CN", "Asia/Shanghai")
    assert case.events.filter(type="final_notice", actor_role="system").exists()
    assert not Deadline.objects.filter(case=case, kind="award").exists()

    with time_machine.travel(notice.due_at - dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 0
    with time_machine.travel(notice.due_at + dt.timedelta(minutes=1), tick=False):
        assert deadline_sweep() == 1
    case.refresh_from_db()
    assert case.status == "arbitration"
    default = case.events.get(type="default_proceedings")
    assert (default.actor_id, default.actor_role) == (None, "system")
    assert Deadline.objects.get(case=case, kind="final_notice").status == "fired"
    award = running(case, "award")
    assert award.due_at == deadline_after(notice.due_at + dt.timedelta(minutes=1), 20, "DE", "Europe/Berlin")
    assert chain_verify(case).ok


def test_an_award_in_time_meets_the_award_clock_and_starts_compliance_to_its_date(cast):
    case = case_in("arbitration", cast)
    merchant_files_a_submission(cast, case)
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        deadline_sweep()
        case = services.case_issue_award(
            actor=cast.arbitrator,
            case_id=case.pk,
            decision="granted",
            amount=Money(Decimal("89.90"), "EUR"),
            remedy="refund",
            reasons="Delivery not proven.",
        )
    assert Deadline.objects.get(case=case, kind="award").status == "met"
    compliance = running(case, "compliance")
    assert compliance.party == "merchant"
    assert compliance.due_at == case.comply_by()  # the clock runs to the date the award set


def test_missed_compliance_makes_the_outcome_non_compliant(cast):
    case = case_in("settled", cast)
    due = running(case, "compliance").due_at
    with time_machine.travel(due - dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 0
    with time_machine.travel(due + dt.timedelta(minutes=1), tick=False):
        assert deadline_sweep() == 1
        assert deadline_sweep() == 0
    case.refresh_from_db()
    assert case.status == "non_compliant"
    declared, fired = case.events.order_by("-seq")[:2][::-1]
    assert (declared.type, declared.actor_id, declared.actor_role) == ("declare_non_compliance", None, "system")
    assert (declared.payload["from"], declared.payload["to"]) == ("settled", "non_compliant")
    assert (fired.type, fired.payload["kind"]) == ("deadline_fired", "compliance")
    assert not Deadline.objects.filter(case=case, status="running").exists()
    assert chain_verify(case).ok


def test_the_operator_sets_a_stage_length(cast):
    StageDuration.objects.create(kind="merchant_response", business_days=3)
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    assert running(case, "merchant_response").due_at == deadline_after(MONDAY, 3, "CN", "Asia/Shanghai")


# --- the sweep's batches -------------------------------------------------------------------------
def test_a_batch_of_firings_on_several_cases_keeps_every_chain_whole_and_notifies_once_each(cast):
    """The sweep records a batch's firings together (one insert of events, heads moved at once, the
    notices in bulk): each case's log still verifies, one event per fired clock, in due order."""
    from accounts.models import Role, User
    from notifications.models import Delivery, Notification

    cases = [file_case(cast) for _ in range(3)]
    due = MONDAY - dt.timedelta(days=1)
    clocks = [
        Deadline.objects.create(
            case=case,
            kind="award",
            party="arbitrator",
            started_at=due - dt.timedelta(days=5),
            due_at=due + i * dt.timedelta(minutes=1),
        )
        for case in cases
        for i in range(4)
    ]
    operators = User.objects.filter(role=Role.OPERATOR, is_active=True).count()
    with time_machine.travel(MONDAY, tick=False):
        assert deadline_sweep(batch=5) == len(clocks)
    for case in cases:
        case.refresh_from_db()
        assert chain_verify(case).ok
        fired = list(case.events.filter(type="deadline_fired").order_by("seq"))
        assert [e.payload["due_at"] for e in fired] == sorted(e.payload["due_at"] for e in fired)
        assert len(fired) == 4 and {e.payload["kind"] for e in fired} == {"award"}
        assert case.event_count == case.events.count()
        for event in fired:  # the award clock's firing is for the operators (and an arbitrator, none here)
            assert Notification.objects.filter(event=event).count() == operators
            assert Delivery.objects.filter(event=event, channel="email").count() == operators
    assert set(Deadline.objects.filter(pk__in=[c.pk for c in clocks]).values_list("status", flat=True)) == {"fired"}


def test_a_clock_an_earlier_firing_of_the_batch_stopped_does_not_fire(cast):
    """The merchant's silence defaults the case and sends it to arbitration, which stops the case's other
    clocks; one of them, due a moment later in the same batch, is then left cancelled, not fired."""
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    response = running(case, "merchant_response")
    other = Deadline.objects.create(
        case=case,
        kind="jurisdiction_objections",
        party="parties",
        started_at=MONDAY,
        due_at=response.due_at + dt.timedelta(seconds=30),
    )
    with time_machine.travel(other.due_at + dt.timedelta(seconds=1), tick=False):
        assert deadline_sweep() == 1
    other.refresh_from_db()
    assert other.status == "cancelled"
    assert Case.objects.get(pk=case.pk).status == "arbitration"
    assert [e.payload["kind"] for e in case.events.filter(type="deadline_fired")] == ["merchant_response"]
    assert chain_verify(Case.objects.get(pk=case.pk)).ok
