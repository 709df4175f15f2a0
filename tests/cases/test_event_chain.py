"""The hash-chained event log: its links, its API, tamper detection, erasure, and ``verify_case``.

Tampering goes through the real database with queryset ``.update()`` / ``.delete()`` (bypassing the model),
as someone with database access would. The chain is also recomputed here from the API's output with the
standard library alone, following the rule documented in ``cases/events.py``, as an outside auditor would.
"""

import datetime as dt
import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from cases.events import chain_verify
from cases.models import CaseEvent
from notifications.models import Delivery, Notification
from tests.factories import PASSWORD, case_in, filing_body, user

GENESIS = "0" * 64
EVENT_FIELDS = {"seq", "type", "actor", "actor_role", "at", "payload", "payload_hash", "prev_hash", "hash"}
#: The events of a case driven to "awarded" by the factories, in order.
AWARDED_TYPES = [
    "created",
    "submit",
    "respond",
    "accept_jurisdiction",
    "accept_jurisdiction",
    "request_mediation",
    "neutral_unavailable",  # the roster is asked for a mediator; the factories' neutrals are not on it
    "assign_mediator",
    "escalate",
    "neutral_unavailable",  # and for an arbitrator
    "assign_arbitrator",
    "submission",  # the consumer's, then the merchant's: the award waits for both
    "submission",
    "issue_award",
]
LAST = len(AWARDED_TYPES)


# --- an independent verifier, from the documented rule, over the API's JSON ------------------------------
def _canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hashed_time(at: str) -> str:
    """The API's ``at`` in the chain's time format: UTC, microseconds, ``Z``."""
    moment = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit(reference: str, events: list[dict]) -> None:
    """Check ``events`` (as the API lists them) against the chain rule, with hashlib and json alone."""
    prev = GENESIS
    for expected_seq, event in enumerate(events, start=1):
        assert event["seq"] == expected_seq
        assert event["prev_hash"] == prev
        if event["payload"] is not None:
            assert _sha256(_canonical(event["payload"])) == event["payload_hash"], event["seq"]
        body = {
            "case": reference,
            "seq": event["seq"],
            "type": event["type"],
            "actor": event["actor"],
            "actor_role": event["actor_role"],
            "at": _hashed_time(event["at"]),
            "payload_hash": event["payload_hash"],
        }
        assert _sha256(prev.encode() + _canonical(body)) == event["hash"], event["seq"]
        prev = event["hash"]


def all_events(client, case_id, **params) -> list[dict]:
    response = client.get(f"/api/v1/cases/{case_id}/events/", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def without_local_times(events: list[dict]) -> list[dict]:
    """The events without ``at_local``, which differs with the reader's time zone."""
    return [{k: v for k, v in event.items() if k != "at_local"} for event in events]


def verify_case(reference) -> str:
    out = StringIO()
    call_command("verify_case", reference, stdout=out)
    return out.getvalue()


# --- the chain's links ---------------------------------------------------------------------------------
def test_events_are_numbered_from_one_and_each_links_to_the_one_before(cast):
    case = case_in("awarded", cast)
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))

    assert [e.type for e in events] == AWARDED_TYPES
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.hash
    assert len({e.hash for e in events}) == len(events)
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in events)
    report = chain_verify(case)
    assert report.ok and report.count == len(events) and report.bad_seq is None


def test_each_case_has_its_own_chain(cast):
    first, second = case_in("filed", cast), case_in("negotiation", cast)
    for case in (first, second):
        events = list(case.events.order_by("seq"))
        assert events[0].seq == 1 and events[0].prev_hash == GENESIS
        assert chain_verify(case).ok
    assert first.events.count() == 2
    assert second.events.count() == 5


# --- the API --------------------------------------------------------------------------------------------
def test_events_api_lists_the_log_in_order_and_it_audits(cast, api):
    case = case_in("awarded", cast)
    events = all_events(api(cast.consumer), case.pk)

    assert [e["seq"] for e in events] == list(range(1, LAST + 1))
    assert [e["type"] for e in events] == AWARDED_TYPES
    for event in events:
        assert set(event) >= EVENT_FIELDS
        assert event["at"].endswith("Z")
    assert events[0]["actor"] == cast.consumer.pk and events[0]["actor_role"] == "consumer"
    assert events[2]["actor"] == cast.merchant.pk and events[2]["payload"]["position"] == "contest"
    assert events[-1]["actor"] == cast.arbitrator.pk
    assert events[-1]["payload"]["from"] == "arbitration" and events[-1]["payload"]["to"] == "awarded"
    audit(case.reference, events)


@pytest.mark.parametrize("who", ["merchant", "mediator", "arbitrator", "operator"])
def test_everyone_on_the_case_reads_the_same_log(cast, api, who):
    case = case_in("awarded", cast)
    mine = all_events(api(cast.consumer), case.pk)
    theirs = all_events(api(getattr(cast, who)), case.pk)
    assert without_local_times(theirs) == without_local_times(mine)


@pytest.mark.parametrize("role", ["consumer", "merchant", "mediator", "arbitrator"])
def test_outsiders_get_404_for_the_log(cast, api, role):
    case = case_in("awarded", cast)
    response = api(user(role)).get(f"/api/v1/cases/{case.pk}/events/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_events_api_pages_with_cursor_links_forward_and_back(cast, api):
    case = case_in("awarded", cast)
    client = api(cast.merchant)
    everything = all_events(client, case.pk)

    pages = []
    response = client.get(f"/api/v1/cases/{case.pk}/events/", {"page_size": 2})
    while True:
        assert response.status_code == 200
        page = response.json()
        assert set(page) >= {"results", "next", "previous"}
        assert 1 <= len(page["results"]) <= 2
        pages.append(page)
        if page["next"] is None:
            break
        assert len(pages) < 20, "the next links never end"
        response = client.get(page["next"])

    assert len(pages) == (LAST + 1) // 2
    assert pages[0]["previous"] is None
    assert [e for page in pages for e in page["results"]] == everything
    assert [e["seq"] for e in pages[2]["results"]] == [5, 6]

    # And back again from the last page, through the previous links.
    backwards = [pages[-1]["results"]]
    link = pages[-1]["previous"]
    while link is not None:
        page = client.get(link).json()
        backwards.append(page["results"])
        link = page["previous"]
        assert len(backwards) < 20, "the previous links never end"
    assert backwards == [page["results"] for page in reversed(pages)]


# --- tampering ------------------------------------------------------------------------------------------
def _event(case, seq):
    return CaseEvent.objects.filter(case=case, seq=seq)


def _change_payload(case):
    _event(case, 4).update(payload={"from": "jurisdiction", "to": "jurisdiction", "party": "merchant"})


def _change_payload_and_its_hash(case):
    forged = {"from": "jurisdiction", "to": "jurisdiction", "party": "merchant", "jurisdiction_status": "proposed"}
    _event(case, 4).update(payload=forged, payload_hash=_sha256(_canonical(forged)))


def _change_type(case):
    _event(case, 4).update(type="contest_jurisdiction")


def _change_time(case):
    event = _event(case, 4).get()
    _event(case, 4).update(at=event.at - dt.timedelta(days=3))


def _change_actor(case):
    _event(case, 4).update(actor_id=_event(case, 3).get().actor_id)  # the merchant's, not the consumer's


def _change_actor_role(case):
    _event(case, 4).update(actor_role="operator")


def _change_prev_hash(case):
    _event(case, 4).update(prev_hash="f" * 64)


def _change_hash(case):
    _event(case, 4).update(hash="e" * 64)


def _swap_hashes(case):
    fourth, fifth = _event(case, 4).get(), _event(case, 5).get()
    _event(case, 4).update(hash=fifth.hash)
    _event(case, 5).update(hash=fourth.hash)


def _delete_middle_event(case):
    # The notifications and deliveries the event caused protect it from the ORM: remove them first.
    Delivery.objects.filter(event__in=_event(case, 4)).delete()
    Notification.objects.filter(event__in=_event(case, 4)).delete()
    _event(case, 4).delete()


def _renumber_last_event(case):
    _event(case, LAST).update(seq=LAST + 2)


TAMPERING = {
    "payload changed": (_change_payload, 4),
    "payload and payload_hash changed": (_change_payload_and_its_hash, 4),
    "type changed": (_change_type, 4),
    "time changed": (_change_time, 4),
    "actor changed": (_change_actor, 4),
    "actor_role changed": (_change_actor_role, 4),
    "prev_hash changed": (_change_prev_hash, 4),
    "hash changed": (_change_hash, 4),
    "hashes of 4 and 5 swapped": (_swap_hashes, 4),
    "event 4 deleted": (_delete_middle_event, 5),
    "last event renumbered": (_renumber_last_event, LAST + 2),
}


@pytest.mark.parametrize("tamper", TAMPERING, ids=list(TAMPERING))
def test_tampering_is_detected_at_the_first_bad_event(cast, tamper):
    do, bad_seq = TAMPERING[tamper]
    case = case_in("awarded", cast)
    assert chain_verify(case).ok

    do(case)

    report = chain_verify(case)
    assert not report.ok
    assert report.bad_seq == bad_seq, report
    assert report.problem
    with pytest.raises(CommandError, match=rf"\b{case.reference}\b.*\bevent {bad_seq}\b"):
        verify_case(case.reference)


def test_a_deleted_event_is_reported_as_a_gap(cast):
    case = case_in("awarded", cast)
    _delete_middle_event(case)
    report = chain_verify(case)
    assert (report.bad_seq, report.problem) == (5, "sequence gap: expected 4, found 5")


def test_the_api_audit_also_catches_tampering(cast, api):
    case = case_in("awarded", cast)
    _change_payload(case)
    with pytest.raises(AssertionError):
        audit(case.reference, all_events(api(cast.consumer), case.pk))


# --- erasure --------------------------------------------------------------------------------------------
def test_erasing_payloads_keeps_the_chain_valid(cast, api):
    """The data-protection path: payloads set to null, everything else kept; the chain still verifies."""
    case = case_in("awarded", cast)
    _event(case, 1).update(payload=None)  # the complaint: the consumer's description and order
    report = chain_verify(case)
    assert report.ok and report.count == LAST
    assert "ok" in verify_case(case.reference)

    CaseEvent.objects.filter(case=case).update(payload=None)
    assert chain_verify(case).ok
    events = all_events(api(cast.consumer), case.pk)
    assert all(event["payload"] is None for event in events)
    audit(case.reference, events)


def test_erasure_leaves_no_hole_for_forging_the_rest(cast):
    """An erased event's payload_hash is still chained: changing it is caught."""
    case = case_in("awarded", cast)
    _event(case, 3).update(payload=None)
    _event(case, 3).update(payload_hash=_sha256(_canonical({"position": "accept"})))
    report = chain_verify(case)
    assert not report.ok and report.bad_seq == 3


# --- verify_case ----------------------------------------------------------------------------------------
def test_verify_case_says_ok_for_a_sound_case(cast):
    case = case_in("closed", cast)
    out = verify_case(case.reference)
    assert out.startswith("ok")
    assert case.reference in out
    assert f"{case.events.count()} events" in out


def test_verify_case_names_the_bad_event_when_tampered(cast):
    case = case_in("closed", cast)
    _event(case, 2).update(type="withdraw")
    with pytest.raises(CommandError) as excinfo:
        verify_case(case.reference)
    assert "event 2" in str(excinfo.value)
    assert case.reference in str(excinfo.value)


def test_verify_case_refuses_an_unknown_reference(db):
    with pytest.raises(CommandError, match="ODR-1999-999999"):
        verify_case("ODR-1999-999999")


# --- the whole happy path, through the API only -----------------------------------------------------------
def _register(anonymous, **fields):
    body = {
        "password": PASSWORD,
        "time_zone": "Europe/Madrid",
        "language": "en",
        **fields,
    }
    response = anonymous.post("/api/v1/auth/register/", body, format="json")
    assert response.status_code == 201, response.content
    token = anonymous.post("/api/v1/auth/token/", {"email": fields["email"], "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content
    return response.json(), token.json()["token"]


def test_happy_path_through_the_api_ends_closed_with_a_sound_chain(db):
    from rest_framework.test import APIClient

    anonymous = APIClient()
    consumer, consumer_token = _register(
        anonymous, email="ana@example.test", role="consumer", display_name="Ana", country="ES"
    )
    merchant, merchant_token = _register(
        anonymous,
        email="shop@example.test",
        role="merchant",
        display_name="Li",
        country="CN",
        time_zone="Asia/Shanghai",
        legal_name="Happy Path Trading Co",
    )
    ana, shop = APIClient(), APIClient()
    ana.credentials(HTTP_AUTHORIZATION=f"Token {consumer_token}")
    shop.credentials(HTTP_AUTHORIZATION=f"Token {merchant_token}")

    found = ana.get("/api/v1/merchants/", {"search": "Happy Path"}).json()["results"]
    assert [m["legal_name"] for m in found] == ["Happy Path Trading Co"]
    filed = ana.post("/api/v1/cases/", filing_body(found[0]["id"]), format="json")
    assert filed.status_code == 201, filed.content
    case = filed.json()
    case_id = case["id"]
    assert case["status"] == "filed"
    assert case["consumer"]["id"] == consumer["id"]

    def act(client, action, body=None, *, expect):
        response = client.post(f"/api/v1/cases/{case_id}/actions/{action}/", body or {}, format="json")
        assert response.status_code == 200, (action, response.content)
        assert response.json()["status"] == expect, action
        return response.json()

    assert "respond" in shop.get(f"/api/v1/cases/{case_id}/").json()["allowed_actions"]
    offer = {"amount": "60.00", "currency": "EUR"}
    act(shop, "respond", {"position": "offer", "statement": "We refund 60 EUR.", "offer": offer}, expect="jurisdiction")
    act(ana, "accept_jurisdiction", expect="jurisdiction")
    after = act(shop, "accept_jurisdiction", expect="negotiation")
    assert after["jurisdiction"]["status"] == "agreed"
    assert "accept_settlement" in ana.get(f"/api/v1/cases/{case_id}/").json()["allowed_actions"]
    settled = act(ana, "accept_settlement", expect="settled")
    assert settled["outcome"]["kind"] == "settlement"
    assert settled["outcome"]["amount"] == offer
    act(shop, "report_compliance", {"reference": "REFUND-60"}, expect="compliance")
    closed = act(ana, "confirm_compliance", expect="closed")
    assert closed["allowed_actions"] == []
    assert closed["closed_at"] is not None

    events = all_events(ana, case_id)
    assert [e["type"] for e in events] == [
        "created",
        "submit",
        "respond",
        "accept_jurisdiction",
        "accept_jurisdiction",
        "accept_settlement",
        "report_compliance",
        "confirm_compliance",
    ]
    assert [e["actor"] for e in events] == [consumer["id"]] * 2 + [merchant["id"]] + [
        consumer["id"],
        merchant["id"],
        consumer["id"],
        merchant["id"],
        consumer["id"],
    ]
    assert without_local_times(all_events(shop, case_id)) == without_local_times(events)
    audit(case["reference"], events)
    out = verify_case(case["reference"])
    assert out.startswith("ok") and "8 events" in out
