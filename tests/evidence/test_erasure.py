"""A data-protection erasure (``manage.py erase_party_data``): the person's evidence crypto-shredded and
deleted from disk, their event payloads emptied, their account anonymised -- and every case's chain, its
other party's files and its exported record still verifying."""

import io
import json
import zipfile

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from accounts.models import User
from cases.events import chain_verify
from cases.models import Case, CaseEvent, Evidence
from tests.conftest import client_for
from tests.evidence.helpers import (
    LARGE_TEXT,
    body_of,
    download,
    error_code,
    pdf,
    png,
    run_verify,
    stored_path,
    uploaded,
    vault_files,
)
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db

CONSUMER_FILES = {"passport.png": png(), "bank statement.txt": LARGE_TEXT}
MERCHANT_FILES = {"tracking.pdf": pdf(b"Handed to the courier on 2 October")}


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    case = case_in("negotiation", cast)
    for name, data in CONSUMER_FILES.items():
        uploaded(cast.consumer, case, name, data, description=f"My {name}")
    for name, data in MERCHANT_FILES.items():
        uploaded(cast.merchant, case, name, data, description="Courier record")
    return case


def erase(email: str, django_capture_on_commit_callbacks) -> str:
    out = io.StringIO()
    # The shredded files are deleted once the erasure's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("erase_party_data", email=email, yes=True, stdout=out)
    return out.getvalue()


@pytest.fixture
def erased(cast, case, django_capture_on_commit_callbacks):
    """The consumer erased; what was stored of theirs before."""
    consumer = Evidence.objects.filter(case=case, uploaded_by=cast.consumer)
    before = {e.pk: stored_path(e) for e in consumer}
    assert all(p.exists() for p in before.values())
    output = erase(cast.consumer.email, django_capture_on_commit_callbacks)
    case.refresh_from_db()
    return {"paths": before, "output": output}


def test_the_consumers_files_are_shredded_and_gone_from_disk(cast, case, erased):
    assert set(erased["paths"]) == set(Evidence.objects.filter(uploaded_by=cast.consumer).values_list("pk", flat=True))
    for evidence in Evidence.objects.filter(uploaded_by=cast.consumer):
        assert evidence.wrapped_key is None
        assert evidence.erased_at is not None
        assert evidence.filename == "erased" and evidence.description == ""
        # Row and hash kept, so the log still makes sense.
        assert len(evidence.sha256) == 64
        assert not erased["paths"][evidence.pk].exists()
    assert len(vault_files()) == len(MERCHANT_FILES)


def test_the_merchants_files_are_untouched_and_still_download(cast, case, erased):
    (evidence,) = Evidence.objects.filter(uploaded_by=cast.merchant)
    assert evidence.wrapped_key is not None and evidence.erased_at is None
    assert evidence.filename == "tracking.pdf"
    for reader in (cast.merchant, cast.operator):
        response = download(reader, case, evidence.pk)
        assert response.status_code == 200
        assert body_of(response) == MERCHANT_FILES["tracking.pdf"]


def test_an_erased_file_answers_410(cast, case, erased):
    for evidence in Evidence.objects.filter(uploaded_by=cast.consumer):
        for reader in (cast.merchant, cast.operator):
            response = download(reader, case, evidence.pk)
            assert response.status_code == 410
            assert error_code(response) == "erased"
            assert not response.streaming
    # 410 is not an integrity failure: nothing recorded, nobody alerted.
    assert not CaseEvent.objects.filter(type="evidence_integrity_failure").exists()
    listing = client_for(cast.merchant).get(f"/api/v1/cases/{case.pk}/evidence/").json()["results"]
    assert sorted(item["erased"] for item in listing) == [False, True, True]


def test_the_consumers_payloads_are_null_and_the_chain_still_verifies(cast, case, erased):
    theirs = CaseEvent.objects.filter(case=case, actor=cast.consumer)
    assert theirs.exists()
    assert all(event.payload is None for event in theirs)
    assert all(len(event.payload_hash) == 64 for event in theirs)
    others = CaseEvent.objects.filter(case=case).exclude(actor=cast.consumer).exclude(type="party_data_erased")
    assert all(event.payload is not None for event in others.filter(actor__isnull=False))
    merchant_added = CaseEvent.objects.get(case=case, type="evidence_added", actor=cast.merchant)
    assert merchant_added.payload["filename"] == "tracking.pdf"

    report = chain_verify(case)
    assert report.ok, report
    assert report.count == case.event_count

    last = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert last.type == "party_data_erased"
    assert last.payload["party"] == "consumer"
    assert sorted(last.payload["evidence"]) == sorted(str(pk) for pk in erased["paths"])
    assert set(last.payload["events"]) == set(theirs.values_list("seq", flat=True))
    assert f"{case.reference}: 2 files" in erased["output"] and "chain verifies" in erased["output"]


def test_the_consumer_is_anonymised_and_closed(cast, case, erased):
    person = User.objects.get(pk=cast.consumer.pk)
    assert not person.is_active
    assert person.email != cast.consumer.email and person.email.endswith(".invalid")
    assert person.display_name == "[erased]"
    assert not person.has_usable_password()
    assert not Token.objects.filter(user=person).exists()
    assert Case.objects.get(pk=case.pk).description == "[erased]"
    # Their old credentials no longer reach anything.
    assert client_for(person).get(f"/api/v1/cases/{case.pk}/evidence/").status_code in (401, 404)


def test_an_export_after_the_erasure_still_verifies(cast, case, erased, tmp_path):
    response = client_for(cast.merchant).get(f"/api/v1/cases/{case.pk}/export/")
    assert response.status_code == 200
    zip_file = tmp_path / "after-erasure.zip"
    zip_file.write_bytes(body_of(response))
    ref = case.reference
    with zipfile.ZipFile(zip_file) as z:
        names = z.namelist()
        (tmp_path / "verify.py").write_bytes(z.read(f"{ref}/verify.py"))
        case_json = json.loads(z.read(f"{ref}/case.json"))
        events = [json.loads(line) for line in z.read(f"{ref}/events.jsonl").splitlines()]
        readme = z.read(f"{ref}/README.txt")
    evidence_files = [n for n in names if n.startswith(f"{ref}/evidence/")]
    assert len(evidence_files) == 1 and evidence_files[0].endswith("-tracking.pdf")
    listed = {item["id"]: item for item in case_json["evidence"]}
    for pk in erased["paths"]:
        assert listed[str(pk)]["erased"] is True and listed[str(pk)]["path"] is None
    # Nothing of the erased files or of the consumer's own words is in the bundle.
    whole = zip_file.read_bytes()
    with zipfile.ZipFile(zip_file) as z:
        contents = b"".join(z.read(n) for n in names)
    for data in CONSUMER_FILES.values():
        assert data[:200] not in contents and data[:200] not in whole
    assert b"My passport.png" not in contents
    assert cast.consumer.email.encode() not in contents
    assert cast.consumer.display_name.encode() not in contents
    assert b"The parcel never arrived." not in contents  # the complaint's text
    assert all(e["payload"] is None for e in events if e["actor"] == cast.consumer.pk)
    assert b"python3 verify.py" in readme

    result = run_verify(tmp_path / "verify.py", zip_file, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 evidence files match the log" in result.stdout
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(zip_file) as z:
        z.extractall(folder)
    result = run_verify("verify.py", cwd=folder / ref)
    assert result.returncode == 0, result.stdout


def test_erasing_the_merchant_user_keeps_the_consumers_files(cast, case, django_capture_on_commit_callbacks):
    output = erase(cast.merchant.email, django_capture_on_commit_callbacks)
    assert "chain verifies" in output
    for evidence in Evidence.objects.filter(uploaded_by=cast.consumer):
        response = download(cast.consumer, case, evidence.pk)
        assert response.status_code == 200
    (merchants,) = Evidence.objects.filter(uploaded_by=cast.merchant)
    assert merchants.wrapped_key is None
    assert download(cast.consumer, case, merchants.pk).status_code == 410
    assert chain_verify(case).ok
    assert Case.objects.get(pk=case.pk).description != "[erased]"  # the consumer's complaint stays


def test_erasure_reaches_every_case_of_the_person(cast, django_capture_on_commit_callbacks):
    first = case_in("filed", cast)
    second_cast = Cast.make()
    second_cast.consumer = cast.consumer
    second = case_in("negotiation", second_cast)
    one = uploaded(cast.consumer, first, "a.txt", b"first case\n")
    two = uploaded(cast.consumer, second, "b.txt", b"second case\n")
    output = erase(cast.consumer.email, django_capture_on_commit_callbacks)
    assert "2 cases touched" in output
    for case, body in ((first, one), (second, two)):
        assert Evidence.objects.get(pk=body["id"]).erased_at is not None
        assert chain_verify(case).ok
    assert vault_files() == []


def test_the_command_needs_a_known_email_and_a_confirmation(cast, monkeypatch):
    with pytest.raises(CommandError, match="no user"):
        call_command("erase_party_data", email="nobody@example.test", yes=True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(CommandError, match="cancelled"):
        call_command("erase_party_data", email=cast.consumer.email)
    assert User.objects.get(pk=cast.consumer.pk).is_active


def test_erasure_as_a_service_leaves_nothing_to_rotate(cast, case, erased, settings):
    """Shredded rows have no key left: a later rotation passes them by and still succeeds."""
    import base64
    import secrets

    from tests.conftest import TEST_EVIDENCE_KEY

    new = "after:" + base64.b64encode(secrets.token_bytes(32)).decode()
    settings.ODR_EVIDENCE_KEYS = f"{new},{TEST_EVIDENCE_KEY}"
    out = io.StringIO()
    call_command("rotate_evidence_keys", stdout=out)
    assert f"{len(MERCHANT_FILES)} file keys re-wrapped under after" in out.getvalue()
    settings.ODR_EVIDENCE_KEYS = new
    (evidence,) = Evidence.objects.filter(uploaded_by=cast.merchant)
    assert body_of(download(cast.merchant, case, evidence.pk)) == MERCHANT_FILES["tracking.pdf"]
