"""The case records its chain's head, so deleting the newest events is detected too."""

import pytest
from django.core.management import CommandError, call_command

from cases.events import chain_verify
from cases.models import CaseEvent
from notifications.models import Delivery, Notification
from tests.factories import case_in


def test_deleting_the_last_event_is_detected(cast):
    case = case_in("awarded", cast)
    assert chain_verify(case).ok
    last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert last.type == "issue_award"
    Delivery.objects.filter(event=last).delete()
    Notification.objects.filter(event=last).delete()
    CaseEvent.objects.filter(pk=last.pk).delete()
    report = chain_verify(case)
    assert not report.ok
    assert report.bad_seq == last.seq
    with pytest.raises(CommandError, match=f"event {last.seq}"):
        call_command("verify_case", case.reference)


def test_head_moves_with_every_event(cast):
    case = case_in("negotiation", cast)
    case.refresh_from_db()
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert case.event_count == len(events)
    assert case.event_head == events[-1].hash
