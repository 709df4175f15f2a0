"""What the vault takes: the bytes decide the type (never the name or the client's claim), pages and programs
are refused with 415, a file over the size limit with 413 and a file past the per-case count with 409 --
each before anything is written to the vault or the case's log."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.models import CaseEvent, Evidence
from tests.evidence.helpers import (
    ELF,
    HTML_PAGE,
    PE,
    body_of,
    docx,
    download,
    error_code,
    jpeg,
    pdf,
    png,
    upload,
    uploaded,
    vault_files,
)
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    return case_in("filed", cast)


def assert_nothing_stored(case) -> None:
    assert not Evidence.objects.exists()
    assert vault_files() == []
    assert not CaseEvent.objects.filter(case=case, type="evidence_added").exists()


def plain_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.exe", ELF)
    return buf.getvalue()


# --- refused types --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param("invoice.pdf", HTML_PAGE, id="html-renamed-pdf"),
        pytest.param("invoice.html", HTML_PAGE, id="html"),
        pytest.param("invoice.txt", b"<html><body onload=alert(1)>Invoice</body></html>", id="bare-html-renamed-txt"),
        pytest.param("receipt.pdf", ELF, id="elf-renamed-pdf"),
        pytest.param("tool", ELF, id="elf"),
        pytest.param("invoice.pdf", PE, id="windows-pe-renamed-pdf"),
        pytest.param("setup.exe", b"MZ" + b"\x00" * 300, id="dos-mz"),
        pytest.param(
            "photo.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            id="svg-renamed-png",
        ),
        pytest.param("contract.docx", plain_zip(), id="plain-zip-renamed-docx"),
        pytest.param("notes.txt", b"hello\x00world\x01\x02 binary", id="control-characters"),
        pytest.param("empty.txt", b"", id="empty"),
    ],
)
def test_pages_programs_and_other_types_are_refused_and_nothing_is_stored(cast, case, name, data):
    response = upload(cast.consumer, case, name, data)
    assert response.status_code == 415, response.content
    error = response.json()["error"]
    assert error["code"] == "unsupported_type"
    assert set(error) == {"code", "message", "fields"}
    assert_nothing_stored(case)


def test_the_refusal_names_the_sniffed_type(cast, case):
    response = upload(cast.merchant, case, "invoice.pdf", HTML_PAGE)
    assert "text/html" in response.json()["error"]["message"]


def test_the_clients_declared_type_is_ignored(cast, case, api):
    response = api(cast.consumer).post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": SimpleUploadedFile("invoice.pdf", HTML_PAGE, content_type="application/pdf")},
        format="multipart",
    )
    assert response.status_code == 415
    assert_nothing_stored(case)


# --- accepted types -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "mime", "stored_name"),
    [
        pytest.param("invoice.pdf", pdf(b"Invoice 1001"), "application/pdf", "invoice.pdf", id="pdf"),
        pytest.param("screenshot.png", png(), "image/png", "screenshot.png", id="png"),
        pytest.param("photo.jpeg", jpeg(), "image/jpeg", "photo.jpeg", id="jpeg"),
        pytest.param("photo.png", jpeg(), "image/jpeg", "photo.png.jpg", id="jpeg-named-png"),
        pytest.param("letter.txt", b"Dear shop,\nthe parcel never arrived.\n", "text/plain", "letter.txt", id="text"),
        pytest.param(
            "投诉.txt",
            "尊敬的商家：\n我于10月1日付款，包裹至今未到。请退款 89.90 欧元。\n".encode(),
            "text/plain",
            "投诉.txt",
            id="chinese-text",
        ),
        pytest.param(
            "long-chinese.txt",
            "包裹没有送到，商家不回复。请退款。\n".encode() * 70000,  # > 1 MiB: the sniff window cuts a character
            "text/plain",
            "long-chinese.txt",
            id="chinese-text-longer-than-the-sniff-window",
        ),
        pytest.param("contract.docx", docx(), DOCX, "contract.docx", id="docx"),
    ],
)
def test_accepted_types_are_stored_with_their_sniffed_type(cast, case, name, data, mime, stored_name):
    body = uploaded(cast.consumer, case, name, data)
    assert body["content_type"] == mime
    assert body["filename"] == stored_name
    response = download(cast.merchant, case, body["id"])
    assert response.status_code == 200
    assert response["Content-Type"] == mime
    assert body_of(response) == data


def test_a_name_without_extension_gets_the_types(cast, case):
    assert uploaded(cast.consumer, case, "scan", png())["filename"] == "scan.png"
    assert uploaded(cast.consumer, case, ". .", pdf())["filename"] == "evidence.pdf"


# --- the size limit -------------------------------------------------------------------------------
@pytest.fixture
def small_limit(settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 100_000
    return 100_000


@pytest.mark.parametrize("size", [100_001, 150_000, 1_000_000], ids=["one-byte-over", "150KB", "1MB"])
def test_a_file_over_the_limit_is_refused_with_413_and_not_stored(cast, case, small_limit, size):
    data = pdf(b"x" * size)[:size]
    response = upload(cast.consumer, case, "big.pdf", data)
    assert response.status_code == 413, response.content
    assert error_code(response) == "too_large"
    from django.template.defaultfilters import filesizeformat

    assert filesizeformat(small_limit) in response.json()["error"]["message"]
    assert_nothing_stored(case)


def test_a_file_of_exactly_the_limit_is_taken(cast, case, small_limit):
    data = pdf(b"x" * small_limit)[:small_limit]
    body = uploaded(cast.consumer, case, "exact.pdf", data)
    assert body["size"] == small_limit
    assert body_of(download(cast.consumer, case, body["id"])) == data


def test_the_service_checks_the_size_itself(cast, case, small_limit):
    """Whatever the way in (not only the API's upload handler), an oversized file is refused."""
    from cases.evidence.services import evidence_add
    from odr.errors import PayloadTooLarge

    with pytest.raises(PayloadTooLarge):
        evidence_add(actor=cast.consumer, case_id=case.pk, upload=SimpleUploadedFile("big.pdf", pdf(b"x" * 150_000)))
    assert_nothing_stored(case)


# --- the count limit ------------------------------------------------------------------------------
def test_the_third_file_past_a_limit_of_two_is_refused(cast, case, settings):
    settings.ODR_EVIDENCE_MAX_FILES = 2
    uploaded(cast.consumer, case, "one.txt", b"one\n")
    uploaded(cast.merchant, case, "two.txt", b"two\n")
    for who in (cast.consumer, cast.merchant):
        response = upload(who, case, "three.txt", b"three\n")
        assert response.status_code == 409, response.content
        assert error_code(response) == "too_many_files"
    assert Evidence.objects.count() == 2
    assert len(vault_files()) == 2
    assert CaseEvent.objects.filter(case=case, type="evidence_added").count() == 2
    # The limit is per case: another case still takes files.
    other = case_in("filed", Cast.make())
    assert upload(other.consumer, other, "one.txt", b"one\n").status_code == 201


def test_the_default_limits(settings):
    assert settings.ODR_EVIDENCE_MAX_FILES == 50
    assert settings.ODR_EVIDENCE_MAX_BYTES == 20 * 1024 * 1024
