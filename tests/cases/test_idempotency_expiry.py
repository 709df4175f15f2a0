"""An Idempotency-Key is remembered for ODR_IDEMPOTENCY_TTL_HOURS, then may be used afresh."""

import datetime as dt

import time_machine

from cases.models import Case
from tests.factories import filing_body


def test_key_replays_within_ttl_and_files_afresh_after(cast, api, settings):
    settings.ODR_IDEMPOTENCY_TTL_HOURS = 24
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        first = client.post("/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1001")
    with time_machine.travel(start + dt.timedelta(hours=23), tick=False):
        again = client.post("/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1001")
    with time_machine.travel(start + dt.timedelta(hours=25), tick=False):
        later = client.post("/api/v1/cases/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1001")
    assert first.status_code == again.status_code == later.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert later.json()["id"] != first.json()["id"]
    assert Case.objects.filter(consumer=cast.consumer).count() == 2
