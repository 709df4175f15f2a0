"""The platform signs every record bundle (Ed25519 over MANIFEST.sha256, in MANIFEST.sig) and publishes its
public keys: a bundle rebuilt by someone else -- every hash recomputed so that all the other checks pass --
fails on the signature, and a bundle signed years ago still checks against the published list after the
keys were rotated."""

import base64
import hashlib
import json
import secrets
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.test import Client

from cases.models import SigningKey
from tests.conftest import TEST_EVIDENCE_KEY, client_for
from tests.evidence.helpers import body_of, run_verify
from tests.factories import Cast, case_in

pytestmark = pytest.mark.django_db

KEY_B = "keyB:" + base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    return case_in("mediation", cast)


def export_to(path: Path, who, case) -> Path:
    response = client_for(who).get(f"/api/v1/cases/{case.pk}/export/")
    assert response.status_code == 200
    path.write_bytes(body_of(response))
    return path


def unpacked(zip_path: Path, case, target: Path) -> Path:
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(target)
    return target / case.reference


def published() -> list[dict]:
    response = Client().get("/api/v1/signing-keys/")  # no log-in: anyone checking a bundle may ask
    assert response.status_code == 200
    return response.json()["results"]


def test_the_bundle_is_signed_with_a_published_key_and_verify_checks_it(cast, case, tmp_path):
    zip_path = export_to(tmp_path / "record.zip", cast.consumer, case)
    folder = unpacked(zip_path, case, tmp_path / "x")
    record = json.loads((folder / "MANIFEST.sig").read_text())
    assert (record["algorithm"], record["key_id"], record["signed"]) == ("Ed25519", "test1", "MANIFEST.sha256")
    assert [(k["key_id"], k["public_key"], k["algorithm"]) for k in published()] == [
        ("test1", record["public_key"], "Ed25519")
    ]

    result = run_verify(folder / "verify.py", zip_path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert f"signed by key test1 (public key {record['public_key']})" in result.stdout
    pinned = run_verify(folder / "verify.py", "--key", record["public_key"], zip_path, cwd=tmp_path)
    assert pinned.returncode == 0 and "the key given" in pinned.stdout, pinned.stdout
    after = run_verify(folder / "verify.py", zip_path, "--key", record["public_key"], cwd=tmp_path)
    assert after.returncode == 0 and "the key given" in after.stdout, after.stdout


@pytest.mark.parametrize("key", ["", "not base64!", base64.b64encode(b"short").decode()])
def test_a_key_that_is_not_a_public_key_is_bad_usage_not_a_pass(cast, case, tmp_path, key):
    """``--key "$UNSET"`` must not quietly check nothing."""
    zip_path = export_to(tmp_path / "record.zip", cast.consumer, case)
    verifier = unpacked(zip_path, case, tmp_path / "x") / "verify.py"
    result = run_verify(verifier, "--key", key, zip_path, cwd=tmp_path)
    assert result.returncode == 2 and "32-byte Ed25519 public key" in result.stderr, (result.stdout, result.stderr)


def test_a_zip_with_two_entries_of_one_name_is_refused(cast, case, tmp_path):
    """A forged case.json put before the genuine one: an archive tool may show the first, Python reads the
    last; the checker refuses the zip instead of vouching for one reading."""
    zip_path = export_to(tmp_path / "record.zip", cast.consumer, case)
    verifier = unpacked(zip_path, case, tmp_path / "x") / "verify.py"
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(zip_path) as source, zipfile.ZipFile(forged, "w") as target:
        target.writestr(f"{case.reference}/case.json", b'{"claim": "forged"}')
        for info in source.infolist():
            target.writestr(info, source.read(info))
    result = run_verify(verifier, forged, cwd=tmp_path)
    assert result.returncode == 1 and "two entries of the same name" in result.stdout, result.stdout


def test_a_rebuilt_bundle_with_every_hash_recomputed_fails_on_the_signature(cast, case, tmp_path):
    folder = unpacked(export_to(tmp_path / "record.zip", cast.consumer, case), case, tmp_path / "x")
    # Someone changes the case file and recomputes its line in the manifest: only the signature can tell.
    case_json = json.loads((folder / "case.json").read_text())
    case_json["claim_amount"] = "1.00"
    (folder / "case.json").write_text(json.dumps(case_json))
    lines = []
    for line in (folder / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        lines.append(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}")
    (folder / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")

    result = run_verify("verify.py", cwd=folder)
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL: MANIFEST.sig: the signature by key test1")
    assert "does not verify" in result.stdout


def test_a_bundle_signed_with_another_key_is_refused_when_the_platforms_key_is_given(cast, case, tmp_path):
    folder = unpacked(export_to(tmp_path / "record.zip", cast.consumer, case), case, tmp_path / "x")
    platform_key = published()[0]["public_key"]
    # A forger re-signs with a key of their own: the bundle checks out on its own, not against the platform's key.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forger = Ed25519PrivateKey.generate()
    raw = forger.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    record = json.loads((folder / "MANIFEST.sig").read_text())
    record.update(
        public_key=base64.b64encode(raw).decode(),
        signature=base64.b64encode(forger.sign((folder / "MANIFEST.sha256").read_bytes())).decode(),
    )
    (folder / "MANIFEST.sig").write_text(json.dumps(record))
    assert run_verify("verify.py", cwd=folder).returncode == 0
    result = run_verify("verify.py", "--key", platform_key, ".", cwd=folder)
    assert result.returncode == 1 and "not with " + platform_key in result.stdout, result.stdout

    (folder / "MANIFEST.sig").unlink()
    result = run_verify("verify.py", cwd=folder)
    assert result.returncode == 0 and "not signed" in result.stdout, result.stdout
    result = run_verify("verify.py", "--key", platform_key, ".", cwd=folder)
    assert result.returncode == 1 and "not signed" in result.stdout


def test_without_the_cryptography_package_the_signature_is_reported_unchecked(cast, case, tmp_path):
    zip_path = export_to(tmp_path / "record.zip", cast.consumer, case)
    folder = unpacked(zip_path, case, tmp_path / "x")
    # -S: no site-packages, as on a machine with Python alone.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-S", "verify.py"], cwd=folder, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "NOT checked (pip install cryptography" in result.stdout


def test_after_a_key_rotation_new_bundles_use_the_new_key_and_the_old_one_stays_published(
    cast, case, tmp_path, settings
):
    old = export_to(tmp_path / "old.zip", cast.consumer, case)
    settings.ODR_EVIDENCE_KEYS = f"{KEY_B},{TEST_EVIDENCE_KEY}"
    new = export_to(tmp_path / "new.zip", cast.consumer, case)
    settings.ODR_EVIDENCE_KEYS = KEY_B  # the old master key dropped

    keys = {k["key_id"]: k["public_key"] for k in published()}
    assert set(keys) == {"test1", "keyB"} and SigningKey.objects.count() == 2
    verifier = unpacked(new, case, tmp_path / "n") / "verify.py"
    for path, key_id in ((old, "test1"), (new, "keyB")):
        result = run_verify(verifier, "--key", keys[key_id], path, cwd=tmp_path)
        assert result.returncode == 0, result.stdout
        assert f"signed by key {key_id}" in result.stdout
