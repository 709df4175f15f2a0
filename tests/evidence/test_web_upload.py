"""Evidence on the case page, without JavaScript: the form posts multipart with its CSRF token, a refusal
comes back as a message on the page, and nothing refused is stored. The XHR path (Accept: JSON) answers in
the API's error shape. Downloads and the list on the page follow the same rules as the API."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cases.evidence import crypto
from cases.models import CaseEvent, Evidence
from tests.evidence.helpers import HTML_PAGE, body_of, pdf, png, stored_path, uploaded, vault_files
from tests.factories import Cast, case_in, user
from tests.web.test_pages import MODEL_BACKEND, messages_on, page_of, text

pytestmark = pytest.mark.django_db

RECEIPT = pdf(b"Receipt ORD-1001, 89.90 EUR")


@pytest.fixture
def cast() -> Cast:
    cast = Cast.make()
    cast.merchant.language = "en"
    cast.merchant.save()
    return cast


@pytest.fixture
def case(cast):
    return case_in("negotiation", cast)


def browser(who=None) -> Client:
    """A client that enforces CSRF as a real browser session would be checked."""
    client = Client(enforce_csrf_checks=True)
    if who is not None:
        client.force_login(who, backend=MODEL_BACKEND)
    return client


def upload_form(client, case) -> dict:
    response = client.get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    form = page_of(response).form(f"/cases/{case.pk}/evidence/")
    assert form["method"] == "post"
    assert "file" in form["fields"] and form["fields"].get("csrfmiddlewaretoken")
    return form


def post_file(client, case, name, data, *, token=None, description="", **extra):
    fields = {"file": SimpleUploadedFile(name, data), "description": description}
    if token is not None:
        fields["csrfmiddlewaretoken"] = token
    return client.post(f"/cases/{case.pk}/evidence/", fields, **extra)


def assert_nothing_stored() -> None:
    assert not Evidence.objects.exists()
    assert vault_files() == []
    assert not CaseEvent.objects.filter(type="evidence_added").exists()


# --- the form without JavaScript ------------------------------------------------------------------
def test_the_form_uploads_with_its_csrf_token(cast, case):
    client = browser(cast.consumer)
    form = upload_form(client, case)
    response = post_file(
        client, case, "receipt.pdf", RECEIPT, token=form["fields"]["csrfmiddlewaretoken"], description="The receipt"
    )
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.pk}/#h-evidence"

    evidence = Evidence.objects.get()
    assert (evidence.filename, evidence.description, evidence.party) == ("receipt.pdf", "The receipt", "consumer")
    assert len(vault_files()) == 1

    page = client.get(response["Location"])
    assert "receipt.pdf is added to the case." in messages_on(page)
    html = page.content.decode()
    link = f"/cases/{case.pk}/evidence/{evidence.pk}/download/"
    assert re.search(rf'<a href="{re.escape(link)}" download>receipt\.pdf</a>', html)
    assert evidence.sha256 in html
    assert "The receipt" in text(page)

    download = client.get(link)
    assert download.status_code == 200
    assert body_of(download) == RECEIPT
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "application/pdf"


def test_a_post_without_the_csrf_token_is_refused_and_stores_nothing(cast, case):
    client = browser(cast.consumer)
    upload_form(client, case)  # the CSRF cookie is set, but the token is not sent
    response = post_file(client, case, "receipt.pdf", RECEIPT)
    assert response.status_code == 403
    assert_nothing_stored()


def test_a_post_with_a_wrong_csrf_token_is_refused(cast, case):
    client = browser(cast.consumer)
    upload_form(client, case)
    response = post_file(client, case, "receipt.pdf", RECEIPT, token="x" * 64)
    assert response.status_code == 403
    assert_nothing_stored()


def test_a_post_from_another_session_without_a_cookie_is_refused(cast, case):
    client = browser(cast.consumer)
    token = upload_form(client, case)["fields"]["csrfmiddlewaretoken"]
    attacker = browser(cast.consumer)  # logged in, but no CSRF cookie: a forged cross-site form
    response = post_file(attacker, case, "receipt.pdf", RECEIPT, token=token)
    assert response.status_code == 403
    assert_nothing_stored()


def test_an_oversized_upload_through_the_page_gives_a_message_and_stores_nothing(cast, case, settings):
    settings.ODR_EVIDENCE_MAX_BYTES = 100_000
    client = browser(cast.consumer)
    form = upload_form(client, case)
    assert 'data-max-bytes="100000"' in client.get(f"/cases/{case.pk}/").content.decode()
    response = post_file(
        client, case, "scan.pdf", pdf(b"x" * 150_000), token=form["fields"]["csrfmiddlewaretoken"], follow=True
    )
    assert response.status_code == 200
    messages = messages_on(response)
    assert any("A file may be at most" in m for m in messages), messages
    assert "A file may be at most" in text(response)
    assert_nothing_stored()


def test_a_refused_type_through_the_page_gives_a_message(cast, case):
    client = browser(cast.merchant)
    token = upload_form(client, case)["fields"]["csrfmiddlewaretoken"]
    response = post_file(client, case, "invoice.pdf", HTML_PAGE, token=token, follow=True)
    assert any("text/html" in m and "not accepted" in m for m in messages_on(response)), messages_on(response)
    assert_nothing_stored()


def test_a_post_without_a_file_asks_for_one(cast, case):
    client = browser(cast.consumer)
    token = upload_form(client, case)["fields"]["csrfmiddlewaretoken"]
    response = client.post(f"/cases/{case.pk}/evidence/", {"csrfmiddlewaretoken": token}, follow=True)
    assert any("Choose a file" in m for m in messages_on(response)), messages_on(response)
    assert_nothing_stored()


# --- the XHR path the page's script takes ---------------------------------------------------------
def xhr(client, case, name, data, token):
    return post_file(client, case, name, data, token=token, headers={"Accept": "application/json"})


def test_the_script_path_answers_json(cast, case, settings):
    client = browser(cast.consumer)
    token = upload_form(client, case)["fields"]["csrfmiddlewaretoken"]
    response = xhr(client, case, "screenshot.png", png(), token)
    assert response.status_code == 201
    body = response.json()
    evidence = Evidence.objects.get()
    assert body == {"id": str(evidence.pk), "filename": "screenshot.png", "sha256": evidence.sha256}

    response = xhr(client, case, "invoice.pdf", HTML_PAGE, token)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_type"
    assert set(response.json()["error"]) == {"code", "message", "fields"}

    settings.ODR_EVIDENCE_MAX_BYTES = 100_000
    response = xhr(client, case, "big.pdf", pdf(b"x" * 150_000), token)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"

    settings.ODR_EVIDENCE_MAX_FILES = 1
    response = xhr(client, case, "second.png", png(), token)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "too_many_files"
    assert Evidence.objects.count() == 1
    assert len(vault_files()) == 1


def test_the_script_path_also_needs_the_csrf_token(cast, case):
    client = browser(cast.consumer)
    upload_form(client, case)
    response = post_file(client, case, "screenshot.png", png(), headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert_nothing_stored()


def test_the_token_in_the_header_is_accepted(cast, case):
    client = browser(cast.consumer)
    upload_form(client, case)
    token = client.cookies["csrftoken"].value
    response = post_file(
        client, case, "screenshot.png", png(), headers={"Accept": "application/json", "X-CSRFToken": token}
    )
    assert response.status_code == 201


# --- who sees the form and who may post -----------------------------------------------------------
def test_readers_see_the_files_and_the_export_but_no_upload_form(cast):
    case = case_in("mediation", cast)
    uploaded(cast.consumer, case, "receipt.pdf", RECEIPT)
    for reader in (cast.mediator, cast.operator):
        client = browser(reader)
        response = client.get(f"/cases/{case.pk}/")
        html = response.content.decode()
        assert "receipt.pdf" in html
        assert f"/cases/{case.pk}/export/" in html
        assert f'action="/cases/{case.pk}/evidence/"' not in html
        token = client.cookies["csrftoken"].value
        response = post_file(client, case, "neutral.txt", b"notes\n", token=token, follow=True)
        assert any("Only the parties" in m for m in messages_on(response)), messages_on(response)
    assert Evidence.objects.count() == 1


def test_an_outsider_posting_or_downloading_gets_404(cast, case):
    body = uploaded(cast.consumer, case, "receipt.pdf", RECEIPT)
    outsider = browser(user("consumer"))
    outsider.get("/cases/")  # the log-out form sets the CSRF cookie
    response = post_file(outsider, case, "x.txt", b"x\n", token=outsider.cookies["csrftoken"].value)
    assert response.status_code == 404
    outsider = Client()
    outsider.force_login(user("merchant"), backend=MODEL_BACKEND)
    assert post_file(outsider, case, "x.txt", b"x\n").status_code == 404
    assert outsider.get(f"/cases/{case.pk}/evidence/{body['id']}/download/").status_code == 404
    assert Evidence.objects.count() == 1


def test_anonymous_posts_are_sent_to_log_in(case):
    response = Client().post(f"/cases/{case.pk}/evidence/", {"file": SimpleUploadedFile("a.txt", b"a\n")})
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert_nothing_stored()


def test_an_ended_case_has_no_form_and_refuses_a_post(cast):
    case = case_in("withdrawn", cast)
    client = browser(cast.consumer)
    html = client.get(f"/cases/{case.pk}/").content.decode()
    assert f'action="/cases/{case.pk}/evidence/"' not in html
    token = client.cookies["csrftoken"].value
    response = post_file(client, case, "late.pdf", RECEIPT, token=token, follow=True)
    assert any("ended" in m for m in messages_on(response)), messages_on(response)
    assert_nothing_stored()


# --- downloads through the page -------------------------------------------------------------------
def test_a_corrupt_file_through_the_page_gives_a_message_and_no_bytes(cast, case):
    body = uploaded(cast.consumer, case, "receipt.pdf", RECEIPT)
    evidence = Evidence.objects.get(pk=body["id"])
    path = stored_path(evidence)
    raw = bytearray(path.read_bytes())
    raw[crypto.HEADER_BYTES + 1] ^= 1
    path.write_bytes(bytes(raw))
    client = browser(cast.merchant)
    response = client.get(f"/cases/{case.pk}/evidence/{evidence.pk}/download/")
    assert response.status_code == 302
    assert b"Receipt ORD-1001" not in response.content
    page = client.get(response["Location"])
    assert any("does not match its recorded hash" in m for m in messages_on(page)), messages_on(page)
    assert "failed its integrity check" in text(page)
    assert CaseEvent.objects.filter(case=case, type="evidence_integrity_failure").count() == 1


def test_the_page_shows_the_record_fingerprint(cast, case):
    uploaded(cast.consumer, case, "receipt.pdf", RECEIPT)
    case.refresh_from_db()
    assert case.event_head in browser(cast.consumer).get(f"/cases/{case.pk}/").content.decode()
