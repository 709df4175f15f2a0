"""1,000 deadlines due at once, swept by two Celery worker processes: each fires exactly once."""

import datetime as dt
import time

import pytest
from celery import Celery
from django.utils import timezone

from cases.models import CaseEvent, Deadline
from tests.factories import Cast, case_in

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_workers_fire_a_thousand_due_deadlines_exactly_once(workers, service_env):
    cast = Cast.make()
    cases = [case_in("settled", cast) for _ in range(50)]
    Deadline.objects.all().delete()
    past = timezone.now() - dt.timedelta(minutes=5)
    # An award clock on a settled case: firing it records the breach and changes nothing else, so every
    # one of the thousand fires (a compliance clock would make the case non-compliant and cancel the rest).
    Deadline.objects.bulk_create(
        Deadline(case=case, kind="award", party="arbitrator", started_at=past, due_at=past)
        for case in cases
        for _ in range(20)
    )
    assert Deadline.objects.filter(status="running").count() == 1000

    workers.start("sweeper-a")
    workers.start("sweeper-b")
    app = Celery("odr-test", broker=service_env["REDIS_URL"])
    for _ in range(8):  # several sweeps in flight at once, as overlapping beat ticks would send
        app.send_task("cases.deadline_sweep")

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and Deadline.objects.filter(status="running").exists():
        time.sleep(0.5)

    assert Deadline.objects.filter(status="fired").count() == 1000
    fired_events = CaseEvent.objects.filter(type="deadline_fired")
    assert fired_events.count() == 1000
    assert Deadline.objects.exclude(status="fired").count() == 0
    from cases.events import chain_verify

    assert all(chain_verify(case).ok for case in cases)
