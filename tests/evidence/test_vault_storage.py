"""Evidence at rest and on the way out: the vault holds ciphertext only, under random names, and a download
gives back the exact bytes, as an attachment of the sniffed type that browsers must not sniff again."""

import hashlib
from urllib.parse import quote

import pytest

from cases.evidence import crypto
from cases.models import CaseEvent, Evidence
from tests.evidence.helpers import (
    CHUNK,
    body_of,
    download,
    pdf,
    png,
    stored_path,
    upload,
    uploaded,
    vault,
    vault_files,
)
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    return case_in("filed", cast)


def long_text(lines: int, tag: str) -> bytes:
    """Distinct, printable lines (no repeat a compressor or a lucky chunk could hide)."""
    return "".join(
        f"{tag} line {i:06d} {hashlib.sha256(f'{tag}{i}'.encode()).hexdigest()}\n" for i in range(lines)
    ).encode()


def assert_nowhere_in_vault(*needles: bytes) -> None:
    files = vault_files()
    assert files, "nothing was stored"
    for path in files:
        raw = path.read_bytes()
        for needle in needles:
            assert needle not in raw, f"plaintext {needle[:40]!r}… found in {path}"


def round_trip(user, case, name: str, data: bytes) -> tuple[dict, object]:
    body = uploaded(user, case, name, data)
    response = download(user, case, body["id"])
    assert response.status_code == 200
    assert body_of(response) == data
    return body, response


# --- no plaintext at rest -------------------------------------------------------------------------
def test_a_text_file_is_stored_encrypted_and_downloads_byte_for_byte(cast, case):
    marker = b"MARKER-7f3a9c-the-parcel-never-arrived-ORD-1001"
    data = b"Dear shop,\n" + marker + b"\nRegards, Lucia\n"
    body, response = round_trip(cast.consumer, case, "complaint letter.txt", data)

    assert_nowhere_in_vault(marker, b"Dear shop", b"Lucia")
    evidence = Evidence.objects.get()
    raw = stored_path(evidence).read_bytes()
    # Header, then one sealed chunk: the file is as long as the plaintext plus header and tag, no more.
    assert raw.startswith(crypto.MAGIC)
    assert len(raw) == crypto.HEADER_BYTES + len(data) + crypto.TAG
    assert body["sha256"] == evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert body["size"] == evidence.size == len(data)
    assert response["X-Evidence-SHA256"] == evidence.sha256


def test_a_marker_longer_than_a_chunk_is_not_in_the_vault(cast, case):
    marker = long_text(900, "CHUNKMARK")  # ~ 80 KiB, more than one 64 KiB chunk
    assert len(marker) > CHUNK
    round_trip(cast.consumer, case, "statement.txt", marker)
    # Not the whole, and no slice of it either (each 1 KiB window at several offsets).
    assert_nowhere_in_vault(marker, *(marker[i : i + 1024] for i in range(0, len(marker), 7919)))


def test_a_file_of_several_chunks_is_encrypted_chunk_by_chunk(cast, case):
    chunks = [long_text(820, f"PART{n}") for n in range(4)]  # each part ~ 74 KiB: 4 parts, 5 chunks
    data = b"".join(chunks)
    assert len(data) > 4 * CHUNK
    round_trip(cast.merchant, case, "ledger.txt", data)

    assert_nowhere_in_vault(*(part[:64] for part in chunks), *(part[-64:] for part in chunks))
    raw = stored_path(Evidence.objects.get()).read_bytes()
    n_chunks = -(-len(data) // CHUNK)
    assert len(raw) == crypto.HEADER_BYTES + len(data) + n_chunks * crypto.TAG


@pytest.mark.parametrize("size", [2, 100, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5])
def test_chunk_boundaries_round_trip(cast, case, size):
    if size == 2:
        name, data = "a.txt", b"ok"  # libmagic calls a lone byte octet-stream
    else:
        name, data = "file.pdf", (b"%PDF-1.4\n" + bytes(range(256)) * (size // 256 + 1))[:size]
    body, _response = round_trip(cast.consumer, case, name, data)
    assert body["size"] == size
    raw = stored_path(Evidence.objects.get()).read_bytes()
    assert len(raw) == crypto.HEADER_BYTES + size + max(1, -(-size // CHUNK)) * crypto.TAG


def test_two_uploads_of_the_same_file_have_different_ciphertexts_and_keys(cast, case):
    data = b"The same receipt, sent twice.\n"
    uploaded(cast.consumer, case, "one.txt", data)
    uploaded(cast.consumer, case, "two.txt", data)
    first, second = Evidence.objects.order_by("created_at")
    assert first.sha256 == second.sha256
    assert stored_path(first).read_bytes() != stored_path(second).read_bytes()
    assert bytes(first.wrapped_key) != bytes(second.wrapped_key)


# --- names and the vault's layout -----------------------------------------------------------------
def test_the_stored_file_name_is_random_not_the_users(cast, case):
    uploaded(cast.consumer, case, "Lucia Garcia passport scan.png", png())
    evidence = Evidence.objects.get()
    assert evidence.filename == "Lucia Garcia passport scan.png"
    files = vault_files()
    assert files == [stored_path(evidence)]  # the one file, and no partial file left over
    relative = files[0].relative_to(vault()).as_posix()
    assert "Lucia" not in relative and "passport" not in relative and "scan" not in relative
    assert relative.endswith(".odre") and ".partial" not in relative
    assert evidence.storage_name not in {evidence.filename, "Lucia Garcia passport scan.png"}
    assert relative == f"{evidence.storage_name[:2]}/{evidence.storage_name}"


def test_a_path_in_the_uploaded_name_is_dropped(cast, case):
    body = uploaded(cast.consumer, case, "../../etc/passwd.txt", b"root:x:0:0\n")
    assert body["filename"] == "passwd.txt"
    assert all(vault() in p.parents for p in vault_files())


# --- the download's headers -----------------------------------------------------------------------
def test_download_is_an_attachment_of_the_sniffed_type_never_sniffed_again(cast, case, api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    # A PNG sent as "receipt.pdf", the client claiming a PDF: the bytes decide.
    response = api(cast.consumer).post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": SimpleUploadedFile("receipt.pdf", png(), content_type="application/pdf")},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "image/png"
    assert body["filename"] == "receipt.pdf.png"

    response = download(cast.merchant, case, body["id"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="receipt.pdf.png"' in disposition
    assert response["Content-Length"] == str(len(png()))
    assert "no-store" in response["Cache-Control"]
    assert "sandbox" in response["Content-Security-Policy"]
    assert body_of(response) == png()


def test_a_text_file_named_pdf_is_served_as_text(cast, case):
    body = uploaded(cast.consumer, case, "notes.pdf", b"Just some notes, not a PDF.\n")
    assert body["content_type"] == "text/plain"
    response = download(cast.consumer, case, body["id"])
    assert response["Content-Type"].split(";")[0] == "text/plain"
    assert 'filename="notes.pdf.txt"' in response["Content-Disposition"]


def test_a_chinese_file_name_is_kept_and_encoded_for_the_header(cast, case):
    name = "收据 说明.txt"
    data = "订单 ORD-1001：包裹没有送到。\n".encode()
    body = uploaded(cast.merchant, case, name, data)
    assert body["filename"] == name
    response = download(cast.consumer, case, body["id"])
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(name)}" in disposition
    disposition.encode("latin-1")  # the header itself is plain ASCII
    assert body_of(response) == data


# --- the list and the log -------------------------------------------------------------------------
def test_the_hash_goes_on_the_event_log_and_the_list_shows_the_file(cast, case, api):
    data = pdf(b"Invoice 1001")
    body = uploaded(cast.consumer, case, "invoice.pdf", data, description="The invoice")
    event = CaseEvent.objects.filter(case=case, type="evidence_added").get()
    assert event.actor_id == cast.consumer.pk
    assert event.payload["evidence"] == body["id"]
    assert event.payload["sha256"] == hashlib.sha256(data).hexdigest()
    assert event.payload["size"] == len(data)
    assert event.payload["content_type"] == "application/pdf"

    listing = api(cast.merchant).get(f"/api/v1/cases/{case.pk}/evidence/")
    assert listing.status_code == 200
    (item,) = listing.json()["results"]
    assert item["id"] == body["id"]
    assert item["filename"] == "invoice.pdf"
    assert item["description"] == "The invoice"
    assert item["party"] == "consumer"
    assert item["erased"] is False
    assert item["sha256"] == event.payload["sha256"]
    # Nothing about where or how it is stored leaks into the API.
    assert not {"storage_name", "key_id", "wrapped_key"} & set(item)


def test_an_upload_without_a_file_is_invalid_and_stores_nothing(cast, case, api):
    response = api(cast.consumer).post(
        f"/api/v1/cases/{case.pk}/evidence/", {"description": "forgot it"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "file" in response.json()["error"]["fields"]
    assert not Evidence.objects.exists()
    assert vault_files() == []


def test_upload_only_takes_multipart(cast, case, api):
    response = api(cast.consumer).post(f"/api/v1/cases/{case.pk}/evidence/", {"file": "aGVsbG8="}, format="json")
    assert response.status_code == 415
    assert not Evidence.objects.exists()


def test_unknown_evidence_is_404(cast, case):
    import uuid

    response = download(cast.consumer, case, uuid.uuid4())
    assert response.status_code == 404
    other = case_in("filed", Cast.make())
    body = uploaded(other.consumer, other, "theirs.txt", b"not yours\n")
    # Another case's evidence through this case's URL: not found either.
    assert download(cast.consumer, case, body["id"]).status_code == 404


def test_upload_returns_the_users_local_time(cast, case):
    body = upload(cast.merchant, case, "a.txt", b"hello\n").json()
    assert body["created_at"].endswith("Z")
    assert body["created_at_local"].endswith("+08:00")  # the merchant is in Shanghai
