"""A stored file that no longer matches what was uploaded is caught at download: 409 integrity_failure, not
one byte of it sent, the failure on the case's event log, the row marked and the operators alerted.

Every way the vault can go wrong: a flipped bit anywhere (header, body, tag, a middle chunk), a truncated
or extended file, reordered chunks, a file key wrapped by another master key or belonging to another file,
a master key that is not configured, a missing file, and a whole file swapped for another case file.
"""

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

from cases.events import chain_verify
from cases.evidence import crypto
from cases.models import CaseEvent, Evidence
from notifications.models import Notification
from tests.conftest import TEST_EVIDENCE_KEY, client_for
from tests.evidence.helpers import CHUNK, body_of, download, stored_path, uploaded
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db

MARKER = b"INTEGRITY-MARKER-5c1e"
SMALL = b"Receipt for order ORD-1001\n" + MARKER + b"\nPaid 89.90 EUR\n"
#: Four chunks and a bit: altering the middle of the file, reordering chunks.
LARGE = b"".join(f"{MARKER.decode()} line {i:07d}\n".encode() for i in range(9000))


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    return case_in("negotiation", cast)


def flip(path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def assert_refused_and_recorded(cast, case, evidence, response, problem_part: str = "") -> None:
    assert response.status_code == 409, response
    assert not response.streaming
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "integrity_failure"
    assert MARKER not in response.content
    assert "Content-Disposition" not in response

    failures = CaseEvent.objects.filter(case=case, type="evidence_integrity_failure")
    assert failures.count() == 1
    event = failures.get()
    assert event.actor_id is None
    assert event.payload["evidence"] == str(evidence.pk)
    assert event.payload["sha256"] == evidence.sha256
    assert problem_part in event.payload["problem"]

    evidence.refresh_from_db()
    assert evidence.integrity_failed_at is not None
    alert = Notification.objects.filter(user=cast.operator, case=case, type="evidence_integrity_failure")
    assert alert.count() == 1 and alert.get().event_id == event.pk
    assert chain_verify(case).ok


def upload_one(cast, case, data=SMALL, name="receipt.txt", who=None) -> Evidence:
    body = uploaded(who or cast.consumer, case, name, data)
    return Evidence.objects.get(pk=body["id"])


# --- altered bytes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "where",
    [
        pytest.param(lambda size: 0, id="magic"),
        pytest.param(lambda size: crypto.HEADER_BYTES - 1, id="nonce-prefix"),
        pytest.param(lambda size: crypto.HEADER_BYTES + 20, id="first-ciphertext-byte-20"),
        pytest.param(lambda size: size - 1, id="last-tag-byte"),
    ],
)
def test_a_flipped_byte_is_caught_at_download(cast, case, where):
    evidence = upload_one(cast, case)
    path = stored_path(evidence)
    flip(path, where(path.stat().st_size))
    response = download(cast.merchant, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response)


def test_a_flipped_byte_in_a_middle_chunk_refuses_the_whole_file(cast, case):
    evidence = upload_one(cast, case, LARGE, "ledger.txt")
    path = stored_path(evidence)
    # Inside chunk 2 of 4+: chunks 0 and 1 authenticate, and still nothing at all is sent.
    flip(path, crypto.HEADER_BYTES + 2 * (CHUNK + crypto.TAG) + 100)
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response, "chunk 2")


# --- truncated, extended, reordered ---------------------------------------------------------------
@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(lambda raw: raw[:-1], id="last-byte"),
        pytest.param(lambda raw: raw[: len(raw) // 2], id="half"),
        pytest.param(lambda raw: raw[: crypto.HEADER_BYTES], id="header-only"),
        pytest.param(lambda raw: raw[:3], id="inside-the-header"),
        pytest.param(lambda raw: b"", id="empty"),
        pytest.param(lambda raw: raw + b"\x00", id="one-byte-appended"),
        pytest.param(lambda raw: raw + raw[crypto.HEADER_BYTES :], id="body-repeated"),
    ],
)
def test_a_truncated_or_extended_file_is_caught(cast, case, cut):
    evidence = upload_one(cast, case)
    path = stored_path(evidence)
    path.write_bytes(cut(path.read_bytes()))
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response)


def test_dropping_the_last_whole_chunk_is_caught(cast, case):
    """A cut exactly at a chunk boundary leaves chunks that each authenticate: the "last" flag catches it."""
    evidence = upload_one(cast, case, LARGE, "ledger.txt")
    path = stored_path(evidence)
    raw = path.read_bytes()
    sealed = CHUNK + crypto.TAG
    whole = (len(raw) - crypto.HEADER_BYTES) // sealed
    path.write_bytes(raw[: crypto.HEADER_BYTES + whole * sealed])
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response)


def test_reordered_chunks_are_caught(cast, case):
    evidence = upload_one(cast, case, LARGE, "ledger.txt")
    path = stored_path(evidence)
    raw = path.read_bytes()
    h, sealed = crypto.HEADER_BYTES, CHUNK + crypto.TAG
    first, second = raw[h : h + sealed], raw[h + sealed : h + 2 * sealed]
    path.write_bytes(raw[:h] + second + first + raw[h + 2 * sealed :])
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response, "chunk 0")


# --- keys -----------------------------------------------------------------------------------------
def test_a_file_key_wrapped_by_another_master_key_is_caught(cast, case):
    evidence = upload_one(cast, case)
    # The row still names the test key, but its file key was wrapped by some other master key.
    Evidence.objects.filter(pk=evidence.pk).update(
        wrapped_key=aes_key_wrap(secrets.token_bytes(32), secrets.token_bytes(32))
    )
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response, "unwrap")


def test_the_right_file_key_wrapped_under_an_unconfigured_master_is_caught(cast, case, settings):
    evidence = upload_one(cast, case)
    other = secrets.token_bytes(32)
    file_key = crypto.unwrap(evidence.key_id, evidence.wrapped_key)
    # Re-wrapped under a key "rogue" the platform does not hold.
    Evidence.objects.filter(pk=evidence.pk).update(key_id="rogue", wrapped_key=aes_key_wrap(other, file_key))
    response = download(cast.consumer, case, evidence.pk)
    # A master key missing from the configuration is a deployment problem, not tampering: 503, no
    # integrity event, no alert on the case, the file not marked.
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert MARKER not in response.content
    assert not CaseEvent.objects.filter(case=case, type="evidence_integrity_failure").exists()
    evidence.refresh_from_db()
    assert evidence.integrity_failed_at is None
    # With that master key configured after the current one, the same file downloads again.
    settings.ODR_EVIDENCE_KEYS = f"{TEST_EVIDENCE_KEY},rogue:{base64.b64encode(other).decode()}"
    response = download(cast.consumer, case, evidence.pk)
    assert response.status_code == 200
    assert body_of(response) == SMALL


def test_another_files_key_is_caught(cast, case):
    mine = upload_one(cast, case)
    theirs = upload_one(cast, case, b"The merchant's tracking page.\n", "tracking.txt", who=cast.merchant)
    Evidence.objects.filter(pk=mine.pk).update(wrapped_key=theirs.wrapped_key)
    response = download(cast.consumer, case, mine.pk)
    assert_refused_and_recorded(cast, case, mine, response, "chunk 0")
    # The other file is untouched.
    assert body_of(download(cast.consumer, case, theirs.pk)) == b"The merchant's tracking page.\n"


def test_a_whole_file_swapped_for_another_is_caught_by_its_hash(cast, case):
    """Ciphertext and key of another file moved into this row's place: it decrypts, but not to this file."""
    mine = upload_one(cast, case)
    theirs = upload_one(cast, case, b"A file the merchant would prefer.\n", "other.txt", who=cast.merchant)
    stored_path(mine).write_bytes(stored_path(theirs).read_bytes())
    Evidence.objects.filter(pk=mine.pk).update(wrapped_key=theirs.wrapped_key)
    response = download(cast.merchant, case, mine.pk)
    assert_refused_and_recorded(cast, case, mine, response, "differs from the recorded")


def test_a_missing_stored_file_is_caught(cast, case):
    evidence = upload_one(cast, case)
    stored_path(evidence).unlink()
    response = download(cast.consumer, case, evidence.pk)
    assert_refused_and_recorded(cast, case, evidence, response, "missing")


# --- around the refusal ---------------------------------------------------------------------------
def test_a_failed_file_stays_refused_and_the_others_still_download(cast, case):
    bad = upload_one(cast, case)
    good = upload_one(cast, case, b"A good file.\n", "good.txt")
    flip(stored_path(bad), crypto.HEADER_BYTES + 3)
    assert download(cast.consumer, case, bad.pk).status_code == 409
    assert download(cast.operator, case, bad.pk).status_code == 409
    assert body_of(download(cast.consumer, case, good.pk)) == b"A good file.\n"
    good.refresh_from_db()
    assert good.integrity_failed_at is None
    listing = client_for(cast.consumer).get(f"/api/v1/cases/{case.pk}/evidence/").json()["results"]
    assert {item["id"] for item in listing} == {str(bad.pk), str(good.pk)}


def test_the_failure_alerts_every_operator_alone_and_only_once(cast, case):
    from tests.factories import user

    second_operator = user("operator")
    evidence = upload_one(cast, case)
    flip(stored_path(evidence), crypto.HEADER_BYTES)
    assert download(cast.consumer, case, evidence.pk).status_code == 409
    assert download(cast.merchant, case, evidence.pk).status_code == 409  # refused again, not alerted again
    alerted = list(Notification.objects.filter(type="evidence_integrity_failure").values_list("user_id", flat=True))
    assert sorted(alerted) == sorted([cast.operator.pk, second_operator.pk])
    assert CaseEvent.objects.filter(case=case, type="evidence_integrity_failure").count() == 1


def test_a_failure_on_a_draft_case_alerts_the_operators(cast):
    case = case_in("draft", cast)
    evidence = upload_one(cast, case)
    flip(stored_path(evidence), crypto.HEADER_BYTES)
    response = download(cast.consumer, case, evidence.pk)
    assert response.status_code == 409
    assert CaseEvent.objects.filter(case=case, type="evidence_integrity_failure").exists()
    assert Notification.objects.filter(user=cast.operator, type="evidence_integrity_failure").exists()


def test_a_file_altered_between_the_check_and_the_sending_stops_the_stream(cast, case):
    """The bytes are decrypted twice (check, then send): a change in between must not reach the reader."""
    from cases.evidence import services

    evidence = upload_one(cast, case, LARGE, "ledger.txt")
    _row, chunks = services.evidence_open(actor=cast.consumer, case_id=case.pk, evidence_id=evidence.pk)
    flip(stored_path(evidence), crypto.HEADER_BYTES + (CHUNK + crypto.TAG) + 5)  # inside chunk 1
    sent = []
    with pytest.raises(crypto.VaultIntegrityError):
        for chunk in chunks:
            sent.append(chunk)
    assert b"".join(sent) == LARGE[:CHUNK]  # only the chunk that authenticated
