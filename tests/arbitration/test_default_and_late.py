"""The clocks of arbitration: a silent merchant gets a final notice, then the case goes on without it;
an arbitrator who misses the award's time is flagged to the operators, and the award says it was late."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Role
from arbitration.models import Award
from cases.calendars import deadline_after
from cases.deadlines import deadline_sweep
from cases.events import chain_verify
from cases.models import Case, CaseEvent, Deadline
from notifications.models import Notification
from tests.conftest import client_for
from tests.factories import case_in, user

from .helpers import (
    act,
    acted,
    award_body,
    error,
    event_types,
    fetch_pdf,
    pdf_text,
    running,
    squeeze,
    submit,
    url,
)

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DEFAULT_EN = "The merchant filed no submission after a final notice"
DEFAULT_ZH = "经最后通知后商家仍未提交书面陈述"
LATE_EN = "This award was issued after the time set for it."


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(START):
        yield


def _sweep_at(moment: dt.datetime) -> int:
    with time_machine.travel(moment, tick=False):
        return deadline_sweep()


def test_a_silent_merchant_gets_a_final_notice_then_the_award_is_made_without_it(cast):
    case = case_in("arbitration", cast)
    assert submit(cast.consumer, case, "I paid and nothing came.").status_code == 201
    submissions_due = running(case, "arbitration_submissions").due_at

    # One second early, nothing happens.
    assert _sweep_at(submissions_due - dt.timedelta(seconds=1)) == 0
    assert "final_notice" not in event_types(case)

    # The merchant's time runs out: a final notice, in its own calendar, and the merchant is told.
    fired_at = submissions_due + dt.timedelta(seconds=1)
    _sweep_at(fired_at)
    notice = running(case, "final_notice")
    assert notice.party == "merchant"
    assert notice.due_at == deadline_after(fired_at, 5, "CN", "Asia/Shanghai")
    [event] = CaseEvent.objects.filter(case=case, type="final_notice")
    assert event.payload["party"] == "merchant"
    assert Notification.objects.filter(user=cast.merchant, event=event).exists()
    assert not Deadline.objects.filter(case=case, kind="award").exists()
    assert Case.objects.get(pk=case.pk).status == "arbitration"

    # Still silent when the notice ends: the arbitration proceeds on the consumer's claim.
    _sweep_at(notice.due_at + dt.timedelta(seconds=1))
    types = event_types(case)
    assert types.index("final_notice") < types.index("default_proceedings")
    award_clock = running(case, "award")
    assert award_clock.party == "arbitrator"
    assert award_clock.started_at == notice.due_at + dt.timedelta(seconds=1)
    with time_machine.travel(notice.due_at + dt.timedelta(minutes=5), tick=False):
        response = submit(cast.merchant, case, "Sorry, we were on holiday.")
        assert response.status_code == 409
        body = acted(cast.arbitrator, case, "issue_award", award_body("granted", "89.90", reasons="Not delivered."))
    assert body["status"] == "awarded"
    award = client_for(cast.consumer).get(url(case, "award/")).json()
    assert award["late"] is False

    en = squeeze(pdf_text(fetch_pdf(cast.consumer, case, language="en").content))
    assert squeeze(DEFAULT_EN) in en
    assert "consumer:1,merchant:0" in en
    zh = squeeze(pdf_text(fetch_pdf(cast.merchant, case, language="zh-hans").content))
    assert DEFAULT_ZH in zh
    assert chain_verify(case).ok


def test_the_award_waits_until_the_parties_are_heard_or_their_time_is_over(cast):
    case = case_in("arbitration", cast)
    body = award_body("granted", "89.90", reasons="Not delivered.")

    def refused() -> str:
        response = act(cast.arbitrator, case, "issue_award", body)
        assert response.status_code == 409, response.content
        assert "issue_award" not in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]
        assert not Award.objects.filter(case=case).exists()
        return error(response)["message"]

    # Nobody has filed yet, then only the consumer.
    assert "time for submissions is still running" in refused()
    assert submit(cast.consumer, case, "I paid and nothing came.").status_code == 201
    assert "time for submissions is still running" in refused()
    # The time is up, but the sweep has not closed it yet: the silent merchant's final notice comes first.
    submissions_due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(submissions_due + dt.timedelta(seconds=30), tick=False):
        assert "final notice first" in refused()
    _sweep_at(submissions_due + dt.timedelta(seconds=30))
    notice = running(case, "final_notice")
    with time_machine.travel(notice.started_at + dt.timedelta(hours=1), tick=False):
        assert "final notice is running" in refused()
        # The merchant answers the notice: now the arbitrator decides, on both sides.
        assert submit(cast.merchant, case, "Delivered.").status_code == 201
        assert "issue_award" in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]
        assert acted(cast.arbitrator, case, "issue_award", body)["status"] == "awarded"
    assert "consumer:1,merchant:1" in squeeze(pdf_text(fetch_pdf(cast.consumer, case, language="en").content))


def test_both_parties_filed_the_award_need_not_wait_for_the_end_of_their_time(cast):
    case = case_in("arbitration", cast)
    assert submit(cast.merchant, case, "Delivered on 3 October.").status_code == 201
    response = act(cast.arbitrator, case, "issue_award", award_body("dismissed", None))
    assert response.status_code == 409
    assert "time for submissions is still running" in error(response)["message"]
    assert submit(cast.consumer, case, "It never came.").status_code == 201
    assert acted(cast.arbitrator, case, "issue_award", award_body("dismissed", None))["status"] == "closed"
    # Leaving arbitration ends the parties' clock with it.
    assert not Deadline.objects.filter(case=case, kind="arbitration_submissions", status="running").exists()


def test_an_award_where_the_merchant_was_heard_says_nothing_of_a_default(cast):
    case = case_in("arbitration", cast)
    assert submit(cast.merchant, case, "Delivered on 3 October.").status_code == 201
    _sweep_at(running(case, "arbitration_submissions").due_at + dt.timedelta(seconds=1))
    assert "final_notice" not in event_types(case) and "default_proceedings" not in event_types(case)
    acted(cast.arbitrator, case, "issue_award", award_body("dismissed", None, reasons="Delivery is proven."))
    en = squeeze(pdf_text(fetch_pdf(cast.consumer, case, language="en").content))
    assert squeeze(DEFAULT_EN) not in en
    assert "consumer:0,merchant:1" in en


def _late_case(cast):
    """A case whose award clock has run out; returns the case and the ``award_overdue`` event."""
    case = case_in("arbitration", cast)
    assert submit(cast.consumer, case, "Never arrived.").status_code == 201
    assert submit(cast.merchant, case, "Delivered.").status_code == 201
    _sweep_at(running(case, "arbitration_submissions").due_at + dt.timedelta(seconds=1))
    award_due = running(case, "award").due_at
    assert _sweep_at(award_due - dt.timedelta(seconds=1)) == 0
    assert "award_overdue" not in event_types(case)
    _sweep_at(award_due + dt.timedelta(seconds=1))
    [overdue] = CaseEvent.objects.filter(case=case, type="award_overdue")
    return case, overdue, award_due


def test_an_overdue_award_alerts_the_operators_and_the_arbitrator_only_and_the_award_says_it_is_late(cast):
    second_operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    case, overdue, award_due = _late_case(cast)
    assert overdue.payload["arbitrator"] == cast.arbitrator.pk
    alerted = set(Notification.objects.filter(event=overdue).values_list("user_id", flat=True))
    assert alerted == {cast.operator.pk, second_operator.pk, cast.arbitrator.pk}
    for bystander in (cast.consumer, cast.merchant, cast.mediator):
        assert not Notification.objects.filter(user=bystander, type="award_overdue").exists()
    # The award is still due; the case waits for it.
    assert Case.objects.get(pk=case.pk).status == "arbitration"

    with time_machine.travel(award_due + dt.timedelta(days=2), tick=False):
        body = acted(cast.arbitrator, case, "issue_award", award_body("granted", "89.90", reasons="Not delivered."))
    assert body["status"] == "awarded"
    assert Award.objects.get(case=case).late is True
    award = client_for(cast.merchant).get(url(case, "award/")).json()
    assert award["late"] is True
    [issued] = CaseEvent.objects.filter(case=case, type="issue_award")
    assert issued.payload["award"]["late"] is True
    en = squeeze(pdf_text(fetch_pdf(cast.consumer, case, language="en").content))
    assert squeeze(LATE_EN) in en
    assert chain_verify(case).ok


def test_the_parties_are_not_notified_when_the_award_is_overdue(cast):
    case, overdue, _due = _late_case(cast)
    fired = CaseEvent.objects.filter(case=case, seq__gte=overdue.seq)
    for party in (cast.consumer, cast.merchant):
        assert not Notification.objects.filter(user=party, event__in=fired).exists(), party
