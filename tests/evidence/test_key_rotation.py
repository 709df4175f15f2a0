"""Master key rotation: ``rotate_evidence_keys`` re-wraps every file key under the first key of
ODR_EVIDENCE_KEYS, without rewriting the files, so that the old key can then be dropped."""

import base64
import io
import re
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from cases.evidence import crypto
from cases.models import CaseEvent, Evidence
from tests.conftest import TEST_EVIDENCE_KEY
from tests.evidence.helpers import LARGE_TEXT, body_of, download, error_code, stored_path, uploaded
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db

KEY_A = TEST_EVIDENCE_KEY  # "test1:…", what every test starts with
KEY_B = "keyB:" + base64.b64encode(secrets.token_bytes(32)).decode()
FILES = {
    "receipt.txt": b"Receipt for ORD-1001, 89.90 EUR.\n",
    "ledger.txt": LARGE_TEXT,
}


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def stored(cast):
    """Two cases' files, all under key A: {evidence id: (case, bytes)}."""
    out = {}
    for n, (name, data) in enumerate(FILES.items()):
        case = case_in("filed", cast if n == 0 else Cast.make())
        who = case.consumer
        out[uploaded(who, case, name, data)["id"]] = (case, who, data)
    assert set(Evidence.objects.values_list("key_id", flat=True)) == {"test1"}
    return out


def rotate(*args) -> str:
    out = io.StringIO()
    call_command("rotate_evidence_keys", *args, stdout=out)
    return out.getvalue()


def test_rotation_rewraps_every_key_and_the_old_key_can_then_go(stored, settings):
    ciphertexts = {pk: stored_path(Evidence.objects.get(pk=pk)).read_bytes() for pk in stored}
    wrapped_before = {pk: bytes(Evidence.objects.get(pk=pk).wrapped_key) for pk in stored}

    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{KEY_A}"
    output = rotate()
    assert "2 file keys re-wrapped under keyB" in output
    assert "no file is left under an older key" in output
    for evidence in Evidence.objects.all():
        assert evidence.key_id == "keyB"
        assert bytes(evidence.wrapped_key) != wrapped_before[str(evidence.pk)]
        # The files themselves are not rewritten.
        assert stored_path(evidence).read_bytes() == ciphertexts[str(evidence.pk)]

    assert "0 file keys re-wrapped" in rotate()  # idempotent

    settings.ODR_EVIDENCE_KEYS = KEY_B  # key A removed
    for pk, (case, who, data) in stored.items():
        response = download(who, case, pk)
        assert response.status_code == 200, response
        assert body_of(response) == data
    assert not CaseEvent.objects.filter(type="evidence_integrity_failure").exists()


def test_without_rotation_the_new_key_alone_cannot_open_old_files(stored, settings):
    settings.ODR_EVIDENCE_KEYS = KEY_B
    pk, (case, who, _data) = next(iter(stored.items()))
    response = download(who, case, pk)
    assert response.status_code == 503
    assert error_code(response) == "unavailable"


def test_new_files_go_under_the_first_key(cast, settings):
    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{KEY_A}"
    case = case_in("filed", cast)
    body = uploaded(cast.consumer, case, "new.txt", b"new\n")
    assert Evidence.objects.get(pk=body["id"]).key_id == "keyB"


def test_rotation_skips_erased_files(cast, settings, django_capture_on_commit_callbacks):
    from cases.evidence.services import evidence_shred

    case = case_in("filed", cast)
    kept = uploaded(cast.consumer, case, "kept.txt", b"kept\n")
    gone = uploaded(cast.consumer, case, "gone.txt", b"gone\n")
    with django_capture_on_commit_callbacks(execute=True):
        evidence_shred(Evidence.objects.get(pk=gone["id"]))
    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{KEY_A}"
    assert "1 file keys re-wrapped under keyB" in rotate()
    assert Evidence.objects.get(pk=kept["id"]).key_id == "keyB"
    erased = Evidence.objects.get(pk=gone["id"])
    assert erased.wrapped_key is None and erased.key_id == "test1"
    settings.ODR_EVIDENCE_KEYS = KEY_B
    assert body_of(download(cast.consumer, case, kept["id"])) == b"kept\n"
    assert download(cast.consumer, case, gone["id"]).status_code == 410


def test_rotation_in_batches_reaches_every_file(cast, settings):
    from cases.evidence.services import evidence_rotate_keys

    case = case_in("filed", cast)
    for n in range(5):
        uploaded(cast.consumer, case, f"f{n}.txt", f"file {n}\n".encode())
    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{KEY_A}"
    assert evidence_rotate_keys(batch=2) == 5
    assert set(Evidence.objects.values_list("key_id", flat=True)) == {"keyB"}


def test_new_key_prints_a_usable_key_line(settings):
    output = rotate("--new-key", "2027q1").strip()
    assert re.fullmatch(r"2027q1:[A-Za-z0-9+/]+={0,2}", output), output
    (key,) = crypto.parse_keys(output)
    assert key.id == "2027q1"
    assert len(key.key) == 32
    assert base64.b64decode(output.split(":", 1)[1], validate=True) == key.key
    # Two calls, two different keys; and it touched nothing.
    assert rotate("--new-key", "2027q1").strip() != output
    settings.ODR_EVIDENCE_KEYS = f"{output},{KEY_A}"
    assert crypto.current_key().id == "2027q1"


@pytest.mark.parametrize(
    "spec",
    [
        "nokey",
        "a:not base64!",
        "short:" + base64.b64encode(b"x" * 16).decode(),
        f"{KEY_A},{KEY_A}",
        ":" + base64.b64encode(b"x" * 32).decode(),
        "x" * 33 + ":" + base64.b64encode(b"x" * 32).decode(),
    ],
    ids=["no-colon", "not-base64", "16-bytes", "same-id-twice", "empty-id", "id-too-long"],
)
def test_a_bad_key_setting_is_refused(spec, settings):
    settings.ODR_EVIDENCE_KEYS = spec
    with pytest.raises(ImproperlyConfigured):
        crypto.master_keys()
