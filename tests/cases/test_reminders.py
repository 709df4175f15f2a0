"""Reminders before each deadline, to whoever must act, never in the recipient's night."""

import datetime as dt
import zoneinfo

import time_machine

from cases import services
from cases.calendars import business_days_before, quiet_hours_shift
from cases.deadlines import reminder_sweep, sweep_all
from cases.models import Deadline, Reminder
from notifications.models import Notification
from tests.factories import case_in, file_case

MONDAY = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


def test_quiet_hours_move_to_eight_in_the_morning_local_time():
    late = dt.datetime(2026, 12, 1, 22, 30, tzinfo=SHANGHAI)
    early = dt.datetime(2026, 12, 1, 3, 0, tzinfo=SHANGHAI)
    noon = dt.datetime(2026, 12, 1, 12, 0, tzinfo=SHANGHAI)
    assert quiet_hours_shift(late, "Asia/Shanghai") == dt.datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
    assert quiet_hours_shift(early, "Asia/Shanghai") == dt.datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert quiet_hours_shift(noon, "Asia/Shanghai") == noon


def test_the_merchant_is_reminded_three_business_days_and_one_day_before_at_eight_local(cast):
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    deadline = Deadline.objects.get(case=case, kind="merchant_response")
    reminders = {r.lead: r for r in Reminder.objects.filter(deadline=deadline)}
    assert set(reminders) == {"3_business_days", "1_day"}
    assert {r.party for r in reminders.values()} == {"merchant"}
    local_due = deadline.due_at.astimezone(SHANGHAI)
    three = reminders["3_business_days"].send_at.astimezone(SHANGHAI)
    one = reminders["1_day"].send_at.astimezone(SHANGHAI)
    # The natural times (23:59:59 on those days) fall in the night: both move to 08:00 the next morning.
    assert three.time() == one.time() == dt.time(8, 0)
    assert three.date() == business_days_before(deadline.due_at, 3, "CN", "Asia/Shanghai") + dt.timedelta(days=1)
    assert one.date() == local_due.date()


def test_a_due_reminder_is_sent_once_to_the_merchant_only(cast):
    with time_machine.travel(MONDAY, tick=False):
        case = file_case(cast)
    reminder = Reminder.objects.get(deadline__case=case, lead="3_business_days")
    with time_machine.travel(reminder.send_at - dt.timedelta(minutes=1), tick=False):
        assert reminder_sweep() == 0
    with time_machine.travel(reminder.send_at + dt.timedelta(minutes=1), tick=False):
        assert sweep_all() == {"reminders": 1, "session_reminders": 0, "deadlines": 0, "payments": 0}
        assert reminder_sweep() == 0
    event = case.events.get(type="reminder")
    assert event.payload["party"] == "merchant" and event.payload["kind"] == "merchant_response"
    assert list(Notification.objects.filter(event=event).values_list("user", flat=True)) == [cast.merchant.pk]


def test_a_deadline_for_both_parties_reminds_each_in_their_own_morning(cast):
    case = case_in("negotiation", cast)
    deadline = Deadline.objects.get(case=case, kind="negotiation", status="running")
    by_party = {}
    for reminder in Reminder.objects.filter(deadline=deadline, lead="1_day"):
        by_party[reminder.party] = reminder.send_at
    assert by_party["consumer"].astimezone(MADRID).time() == dt.time(8, 0)
    assert by_party["merchant"].astimezone(SHANGHAI).time() == dt.time(8, 0)


def test_reminders_of_a_met_deadline_are_cancelled(cast):
    case = file_case(cast)
    services.case_respond(actor=cast.merchant, case_id=case.pk, position="contest", statement="No.")
    deadline = Deadline.objects.get(case=case, kind="merchant_response")
    assert set(deadline.reminders.values_list("status", flat=True)) == {"cancelled"}


def test_the_consumer_is_reminded_to_answer_a_reported_performance_until_they_dispute_it(cast):
    case = case_in("settled", cast)
    services.case_report_compliance(actor=cast.merchant, case_id=case.pk, reference="SEPA-1", kind="refund")
    deadline = Deadline.objects.get(case=case, kind="compliance_confirmation", status="running")
    reminders = list(Reminder.objects.filter(deadline=deadline))
    assert {r.lead for r in reminders} == {"3_business_days", "1_day"}
    assert {r.party for r in reminders} == {"consumer"}
    # 23:59:59 in Madrid is in the night: both at 08:00 the next morning, the consumer's time.
    assert {r.send_at.astimezone(MADRID).time() for r in reminders} == {dt.time(8, 0)}

    services.case_dispute_compliance(actor=cast.consumer, case_id=case.pk, reason="Nothing arrived.")

    assert set(deadline.reminders.values_list("status", flat=True)) == {"cancelled"}
    with time_machine.travel(deadline.due_at + dt.timedelta(days=1), tick=False):
        assert reminder_sweep() == 0
