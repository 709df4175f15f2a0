"""Filing a complaint through ``POST /api/v1/cases/``: references, drafts, who may file, the Idempotency-Key,
and bad input of every kind answered 400 in the error shape with nothing written."""

import copy
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from cases.models import Case, CaseEvent, IdempotencyKey, ReferenceCounter
from tests.factories import filing_body, user

URL = "/api/v1/cases/"
REFERENCE = re.compile(r"^ODR-\d{4}-\d{6}$")


def db_state() -> dict:
    """Everything a filing writes: cases, events, idempotency keys and the reference counters' values."""
    return {
        "cases": Case.objects.count(),
        "events": CaseEvent.objects.count(),
        "idempotency keys": IdempotencyKey.objects.count(),
        "reference counters": sorted(ReferenceCounter.objects.values_list("year", "last")),
    }


def file(client, body, **headers):
    return client.post(URL, body, format="json", **headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


# --- filing and references ---------------------------------------------------------------------
def test_filing_answers_201_with_the_case(cast, api):
    response = file(api(cast.consumer), filing_body(cast.merchant.organisation_id))

    assert response.status_code == 201, response.content
    case = response.json()
    assert REFERENCE.match(case["reference"])
    assert case["reference"].startswith(f"ODR-{timezone.now().year}-")
    assert case["status"] == "filed"
    assert case["claim"] == {"amount": "89.90", "currency": "EUR"}
    assert case["order"]["price"] == {"amount": "89.90", "currency": "EUR"}
    assert case["order"]["reference"] == "ORD-1001"
    assert case["merchant"]["id"] == cast.merchant.organisation_id
    assert case["consumer"]["id"] == cast.consumer.pk
    assert "submit" not in case["allowed_actions"]
    stored = Case.objects.get(pk=case["id"])
    assert stored.reference == case["reference"]
    assert list(stored.events.order_by("seq").values_list("type", flat=True)) == ["created", "submit"]


def test_references_are_unique_and_increasing(cast, api):
    client = api(cast.consumer)
    references = []
    for n in range(4):
        order = {**filing_body(0)["order"], "reference": f"ORD-{n}"}
        response = file(client, filing_body(cast.merchant.organisation_id, order=order, submit=n % 2 == 0))
        assert response.status_code == 201, response.content
        references.append(response.json()["reference"])

    assert all(REFERENCE.match(r) for r in references), references
    assert len(set(references)) == len(references)
    numbers = [int(r.rsplit("-", 1)[1]) for r in references]
    assert numbers == sorted(numbers)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))


def test_submit_false_keeps_a_draft_that_the_submit_action_files(cast, api):
    client = api(cast.consumer)

    drafted = file(client, filing_body(cast.merchant.organisation_id, submit=False))

    assert drafted.status_code == 201, drafted.content
    draft = drafted.json()
    assert draft["status"] == "draft"
    assert "submit" in draft["allowed_actions"]
    assert draft["filed_at"] is None
    assert list(CaseEvent.objects.filter(case_id=draft["id"]).values_list("type", flat=True)) == ["created"]

    submitted = client.post(f"{URL}{draft['id']}/actions/submit/", {}, format="json")

    assert submitted.status_code == 200, submitted.content
    case = submitted.json()
    assert case["id"] == draft["id"]
    assert case["reference"] == draft["reference"]
    assert case["status"] == "filed"
    assert case["filed_at"] is not None
    assert "submit" not in case["allowed_actions"]
    assert client.get(f"{URL}{draft['id']}/").json()["status"] == "filed"
    events = client.get(f"{URL}{draft['id']}/events/").json()["results"]
    assert [e["type"] for e in events] == ["created", "submit"]


def test_submitting_twice_is_a_conflict(cast, api):
    client = api(cast.consumer)
    draft = file(client, filing_body(cast.merchant.organisation_id, submit=False)).json()
    assert client.post(f"{URL}{draft['id']}/actions/submit/", {}, format="json").status_code == 200

    again = client.post(f"{URL}{draft['id']}/actions/submit/", {}, format="json")

    assert_error(again, 409, "invalid_state")
    assert CaseEvent.objects.filter(case_id=draft["id"]).count() == 2


# --- who may file ------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["merchant", "mediator", "arbitrator", "operator"])
def test_only_consumers_may_file(cast, api, role):
    before = db_state()

    response = file(api(getattr(cast, role)), filing_body(cast.merchant.organisation_id))

    assert_error(response, 403, "forbidden")
    assert db_state() == before


@pytest.mark.parametrize("role", ["merchant", "mediator", "arbitrator", "operator"])
def test_non_consumers_are_refused_before_their_input_is_examined(cast, api, role):
    """Like the actions (policies.py: see, then permitted, then the rest), filing answers 403 first."""
    response = file(api(getattr(cast, role)), {})

    assert_error(response, 403, "forbidden")


def test_anonymous_may_not_file(cast, api):
    before = db_state()

    response = file(api(None), filing_body(cast.merchant.organisation_id))

    assert_error(response, 401, "not_authenticated")
    assert db_state() == before


# --- Idempotency-Key ---------------------------------------------------------------------------
def test_the_same_key_and_body_return_the_same_case(cast, api):
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)
    before = db_state()

    first = file(client, body, HTTP_IDEMPOTENCY_KEY="order-1001-attempt")
    after_first = db_state()
    replay = file(client, body, HTTP_IDEMPOTENCY_KEY="order-1001-attempt")

    assert first.status_code == 201, first.content
    assert replay.status_code == 201, replay.content
    assert "Idempotent-Replayed" not in first.headers
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["reference"] == first.json()["reference"]
    assert db_state() == after_first
    assert after_first["cases"] == before["cases"] + 1
    assert after_first["idempotency keys"] == before["idempotency keys"] + 1
    assert Case.objects.filter(consumer=cast.consumer).count() == 1
    types = list(CaseEvent.objects.filter(case_id=first.json()["id"]).order_by("seq").values_list("type", flat=True))
    assert types == ["created", "submit"]
    assert after_first["events"] == before["events"] + 2


def test_the_same_key_with_the_same_body_in_another_key_order_replays(cast, api):
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)
    shuffled = dict(reversed(list(body.items())))

    first = client.post(URL, json.dumps(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    replay = client.post(URL, json.dumps(shuffled), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json()["id"] == first.json()["id"]
    assert Case.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused_and_writes_nothing(cast, api):
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)
    first = file(client, body, HTTP_IDEMPOTENCY_KEY="order-1001-attempt")
    assert first.status_code == 201
    before = db_state()

    changed = filing_body(cast.merchant.organisation_id, claim={"amount": "500.00", "currency": "EUR"})
    response = file(client, changed, HTTP_IDEMPOTENCY_KEY="order-1001-attempt")

    assert_error(response, 422, "idempotency_key_reused")
    assert first.json()["id"] not in response.content.decode()
    assert db_state() == before
    assert Case.objects.get(pk=first.json()["id"]).claim_amount == Decimal("89.90")


def test_the_same_key_used_by_two_consumers_files_two_cases(cast, api):
    other_consumer = user("consumer")
    body = filing_body(cast.merchant.organisation_id)

    mine = file(api(cast.consumer), body, HTTP_IDEMPOTENCY_KEY="shared-key")
    theirs = file(api(other_consumer), body, HTTP_IDEMPOTENCY_KEY="shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert mine.json()["id"] != theirs.json()["id"]
    assert mine.json()["reference"] != theirs.json()["reference"]
    assert theirs.json()["consumer"]["id"] == other_consumer.pk
    assert Case.objects.count() == 2
    assert IdempotencyKey.objects.count() == 2


def test_without_a_key_the_same_body_files_twice(cast, api):
    client = api(cast.consumer)
    body = filing_body(cast.merchant.organisation_id)

    first, second = file(client, body), file(client, body)

    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert IdempotencyKey.objects.count() == 0


def test_an_overlong_idempotency_key_is_refused_and_writes_nothing(cast, api):
    before = db_state()

    response = file(api(cast.consumer), filing_body(cast.merchant.organisation_id), HTTP_IDEMPOTENCY_KEY="k" * 256)

    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"Idempotency-Key"}
    assert db_state() == before


# --- bad input: 400, the dotted path of the offending field, nothing written -------------------
def _set(body, path, value):
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    node[last] = value


def _drop(body, path):
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[name]
    del node[last]


def _in_days(days: int) -> str:
    return (timezone.now().date() + dt.timedelta(days=days)).isoformat()


#: (id, dotted path to set, value, the field error expected); values are callables when computed late.
BAD_VALUES = [
    ("unknown currency", "claim.currency", "EUX", "claim.currency"),
    ("unknown price currency", "order.price.currency", "EUX", "order.price.currency"),
    ("gold has no minor units", "claim.currency", "XAU", "claim.currency"),
    ("XXX has no minor units", "order.price.currency", "XXX", "order.price.currency"),
    ("currency not a string", "claim.currency", 978, "claim.currency"),
    ("currency empty", "claim.currency", "", "claim.currency"),
    ("three decimals in EUR", "claim.amount", "1.001", "claim.amount"),
    ("three decimals in EUR price", "order.price.amount", "1.001", "order.price.amount"),
    ("negative", "claim.amount", "-5.00", "claim.amount"),
    ("negative price", "order.price.amount", "-89.90", "order.price.amount"),
    ("zero", "claim.amount", "0", "claim.amount"),
    ("zero with decimals", "order.price.amount", "0.00", "order.price.amount"),
    ("JSON float", "claim.amount", 89.9, "claim.amount"),
    ("JSON float price", "order.price.amount", 89.9, "order.price.amount"),
    ("non-numeric", "claim.amount", "eighty", "claim.amount"),
    ("empty amount", "claim.amount", "", "claim.amount"),
    ("null amount", "claim.amount", None, "claim.amount"),
    ("boolean amount", "claim.amount", True, "claim.amount"),
    ("NaN", "claim.amount", "NaN", "claim.amount"),
    ("Infinity", "order.price.amount", "Infinity", "order.price.amount"),
    ("absurdly large", "claim.amount", "10000000000000", "claim.amount"),
    ("money as a string", "claim", "89.90 EUR", "claim"),
    ("money without currency", "claim", {"amount": "89.90"}, "claim"),
    ("price without amount", "order.price", {"currency": "EUR"}, "order.price"),
    ("unknown merchant", "merchant", 987654, "merchant"),
    ("merchant id zero", "merchant", 0, "merchant"),
    ("merchant id not a number", "merchant", "Shop 1 Ltd", "merchant"),
    ("merchant id beyond any database integer", "merchant", 10**20, "merchant"),
    ("unknown category", "category", "bad_vibes", "category"),
    ("unknown remedy", "remedy", "revenge", "remedy"),
    ("unsupported language", "language", "fr", "language"),
    ("blank description", "description", "   ", "description"),
    ("oversized description", "description", lambda: "x" * (settings.ODR_MAX_TEXT_LENGTH + 1), "description"),
    ("oversized product", "order.product", "p" * 301, "order.product"),
    ("oversized order reference", "order.reference", "r" * 101, "order.reference"),
    ("oversized platform", "order.platform", "m" * 101, "order.platform"),
    ("order date the day after tomorrow", "order.date", lambda: _in_days(2), "order.date"),
    ("order date far in the future", "order.date", "2099-01-01", "order.date"),
    ("order date not a date", "order.date", "01/10/2026", "order.date"),
    ("order date impossible", "order.date", "2026-02-30", "order.date"),
    ("submit not a boolean", "submit", "perhaps", "submit"),
]

REQUIRED = [
    "merchant",
    "order",
    "order.reference",
    "order.date",
    "order.product",
    "order.price",
    "category",
    "description",
    "remedy",
    "claim",
]


def assert_refused_without_writing(client, body, field):
    before = db_state()
    response = file(client, body)
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {field}, error["fields"]
    assert all(isinstance(m, str) and m for m in error["fields"][field])
    assert db_state() == before


@pytest.mark.parametrize(("path", "value", "field"), [b[1:] for b in BAD_VALUES], ids=[b[0] for b in BAD_VALUES])
def test_bad_values_are_refused_with_the_field_path_and_nothing_written(cast, api, path, value, field):
    body = filing_body(cast.merchant.organisation_id)
    _set(body, path, value() if callable(value) else value)

    assert_refused_without_writing(api(cast.consumer), body, field)


@pytest.mark.parametrize("path", REQUIRED)
def test_each_required_field_missing_is_refused_and_nothing_written(cast, api, path):
    body = copy.deepcopy(filing_body(cast.merchant.organisation_id))
    _drop(body, path)

    assert_refused_without_writing(api(cast.consumer), body, path)


@pytest.mark.parametrize("path", ["order", "order.price"])
def test_a_nested_object_given_as_a_string_is_reported_under_its_own_path(cast, api, path):
    """Not ``order.non_field_errors``: a client maps ``fields`` keys onto its form fields."""
    body = filing_body(cast.merchant.organisation_id)
    _set(body, path, "ORD-1001")

    assert_refused_without_writing(api(cast.consumer), body, path)


def test_a_description_of_exactly_the_maximum_length_is_accepted(cast, api):
    body = filing_body(cast.merchant.organisation_id, description="x" * settings.ODR_MAX_TEXT_LENGTH)

    response = file(api(cast.consumer), body)

    assert response.status_code == 201, response.content[:300]


def test_an_order_dated_today_is_accepted(cast, api):
    body = filing_body(cast.merchant.organisation_id)
    body["order"]["date"] = _in_days(0)

    response = file(api(cast.consumer), body)

    assert response.status_code == 201, response.content
    assert response.json()["order"]["date"] == _in_days(0)


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("text/plain", "merchant=1&category=other"),
        ("application/x-www-form-urlencoded", "merchant=1&category=other"),
        ("application/xml", "<case><merchant>1</merchant></case>"),
        ("application/json", "{this is not json"),
        ("application/json", ""),
        ("application/json", "[]"),
        ("application/json", '"a string"'),
    ],
    ids=["text", "form", "xml", "malformed json", "empty body", "json array", "json string"],
)
def test_a_body_that_is_not_a_json_object_is_refused_in_the_error_shape(cast, api, content_type, payload):
    before = db_state()

    response = api(cast.consumer).post(URL, payload, content_type=content_type)

    assert response.status_code in (400, 415), response.content
    body = response.json()
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] in {"unsupported_media_type", "parse_error", "invalid"}
    assert db_state() == before


# --- valid edge cases --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("1000", "JPY", "1000"),
        (1000, "JPY", "1000"),
        ("1.234", "BHD", "1.234"),
        ("12.50", "EUR", "12.50"),
        ("12.5", "EUR", "12.50"),
        ("12", "EUR", "12.00"),
        ("0.01", "EUR", "0.01"),
    ],
    ids=["JPY string", "JPY integer", "BHD three decimals", "trailing zero", "one decimal", "whole", "one cent"],
)
def test_valid_money_edge_cases_are_accepted(cast, api, amount, currency, shown):
    money = {"amount": amount, "currency": currency}
    order = {**filing_body(0)["order"], "price": money}
    response = file(api(cast.consumer), filing_body(cast.merchant.organisation_id, order=order, claim=money))

    assert response.status_code == 201, response.content
    case = response.json()
    assert case["claim"] == {"amount": shown, "currency": currency}
    assert case["order"]["price"] == {"amount": shown, "currency": currency}
    again = api(cast.consumer).get(f"{URL}{case['id']}/").json()
    assert again["claim"] == {"amount": shown, "currency": currency}
