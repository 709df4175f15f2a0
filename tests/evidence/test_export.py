"""The case record bundle: a zip of case.json, events.jsonl, the evidence, README.txt, verify.py,
MANIFEST.sha256 and its signature MANIFEST.sig under "<reference>/", which its own verify.py (standard
library only) accepts as it came and refuses, naming what changed, after any single alteration -- of the
folder or of the zip itself (the signature: tests/evidence/test_bundle_signature.py)."""

import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from django.test import Client

from cases.evidence import crypto
from cases.models import CaseEvent, Evidence
from tests.conftest import client_for
from tests.evidence.helpers import LARGE_TEXT, body_of, pdf, png, run_verify, stored_path, uploaded
from tests.factories import Cast, case_in, user

pytestmark = pytest.mark.django_db

VERIFY_SOURCE = Path(__file__).resolve().parents[2] / "cases" / "export" / "verify.py"
CJK = re.compile(r"[\u4e00-\u9fff]")
FILES = [
    ("consumer", "receipt.txt", b"Receipt for ORD-1001: 89.90 EUR paid on 1 October.\n", "The receipt"),
    ("consumer", "screenshot.png", png(), "The shop's page"),
    ("consumer", "ledger.txt", LARGE_TEXT, "Bank statement, several chunks long"),
    ("merchant", "tracking.pdf", pdf(b"Tracking: handed to the courier"), "Courier's tracking"),
    ("merchant", "快递单 签收记录.txt", "顺丰快递 SF1234567890：10月5日已签收。\n".encode(), "签收记录"),
]


@pytest.fixture
def cast() -> Cast:
    return Cast.make()


@pytest.fixture
def case(cast):
    """A case in mediation with files from both parties."""
    case = case_in("mediation", cast)
    for who, name, data, description in FILES:
        uploaded(getattr(cast, who), case, name, data, description)
    case.refresh_from_db()
    return case


def export_response(who, case):
    return client_for(who).get(f"/api/v1/cases/{case.pk}/export/")


def bundle(who, case) -> bytes:
    response = export_response(who, case)
    assert response.status_code == 200, response
    return body_of(response)


@pytest.fixture
def zip_path(cast, case, tmp_path) -> Path:
    path = tmp_path / f"{case.reference}-record.zip"
    path.write_bytes(bundle(cast.consumer, case))
    return path


@pytest.fixture
def unpack(zip_path, case, tmp_path):
    """``unpack()``: a fresh unpacked copy of the bundle; its folder ``<copy>/<reference>``."""
    copies = iter(range(1000))

    def make() -> Path:
        target = tmp_path / f"copy{next(copies)}"
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(target)
        return target / case.reference

    return make


def verify_folder(folder: Path):
    """Run the bundle's own verify.py in the folder, with no argument, as its README says."""
    return run_verify("verify.py", cwd=folder)


def assert_fails_naming(result, *names: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout.startswith("FAIL: "), result.stdout
    for name in names:
        assert name in result.stdout, (name, result.stdout)
    assert result.stderr == ""


def evidence_path(name: str) -> str:
    evidence = Evidence.objects.get(filename=name)
    return f"evidence/{evidence.pk}-{evidence.filename}"


# --- what the bundle holds ------------------------------------------------------------------------
def test_the_bundle_holds_the_whole_record_under_the_reference(cast, case, zip_path):
    ref = case.reference
    with zipfile.ZipFile(zip_path) as z:
        names = z.namelist()
        assert all(n.startswith(f"{ref}/") for n in names)
        inner = {n[len(ref) + 1 :] for n in names}
        files = {evidence_path(name): data for _who, name, data, _d in FILES}
        assert inner == {
            *("case.json", "events.jsonl", "README.txt", "verify.py", "MANIFEST.sha256", "MANIFEST.sig"),
            *files,
        }
        for path, data in files.items():
            assert z.read(f"{ref}/{path}") == data

        case_json = json.loads(z.read(f"{ref}/case.json"))
        assert case_json["reference"] == ref
        assert case_json["chain"] == {"event_count": case.event_count, "event_head": case.event_head}
        listed = {item["filename"]: item for item in case_json["evidence"]}
        assert set(listed) == {name for _w, name, _d, _x in FILES}
        for _who, name, data, _desc in FILES:
            assert listed[name]["sha256"] == hashlib.sha256(data).hexdigest()
            assert listed[name]["path"] == evidence_path(name)
            assert listed[name]["erased"] is False

        lines = z.read(f"{ref}/events.jsonl").decode().splitlines()
        events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
        assert len(lines) == len(events) == case.event_count
        for line, event in zip(lines, events, strict=True):
            record = json.loads(line)
            assert (record["seq"], record["type"], record["hash"]) == (event.seq, event.type, event.hash)
            assert record["case"] == ref
        assert json.loads(lines[-1])["hash"] == case.event_head

        manifest = {}
        for line in z.read(f"{ref}/MANIFEST.sha256").decode().splitlines():
            digest, name = line.split("  ", 1)
            manifest[name] = digest
        assert set(manifest) == inner - {"MANIFEST.sha256", "MANIFEST.sig"}
        for name, digest in manifest.items():
            assert hashlib.sha256(z.read(f"{ref}/{name}")).hexdigest() == digest

        assert z.read(f"{ref}/verify.py") == VERIFY_SOURCE.read_bytes()
        readme = z.read(f"{ref}/README.txt").decode()
        assert ref in readme and case.event_head in readme and "python3 verify.py" in readme


def test_the_download_is_a_named_attachment(cast, case):
    response = export_response(cast.consumer, case)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{case.reference}-record.zip"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("who", ["consumer", "merchant", "operator", "mediator"])
def test_the_parties_the_neutral_and_the_operators_export(cast, case, who, tmp_path):
    data = bundle(getattr(cast, who), case)
    path = tmp_path / "bundle.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z:
        assert f"{case.reference}/MANIFEST.sha256" in z.namelist()
        (tmp_path / "verify.py").write_bytes(z.read(f"{case.reference}/verify.py"))
    result = run_verify(tmp_path / "verify.py", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("who", ["another consumer", "another merchant", "an unassigned mediator"])
def test_outsiders_get_404(cast, case, who):
    outsider = user({"another consumer": "consumer", "another merchant": "merchant"}.get(who, "mediator"))
    response = export_response(outsider, case)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_web_page_exports_too(cast, case):
    web = Client()
    web.force_login(cast.merchant, backend="django.contrib.auth.backends.ModelBackend")
    response = web.get(f"/cases/{case.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(body_of(response))) as z:
        assert f"{case.reference}/events.jsonl" in z.namelist()
    outsider = Client()
    outsider.force_login(user("merchant"), backend="django.contrib.auth.backends.ModelBackend")
    assert outsider.get(f"/cases/{case.pk}/export/").status_code == 404
    assert Client().get(f"/cases/{case.pk}/export/").status_code == 302  # to the log-in page


def test_the_readme_is_in_english_for_an_english_reader(cast, case, zip_path):
    with zipfile.ZipFile(zip_path) as z:
        readme = z.read(f"{case.reference}/README.txt").decode()
    assert readme.startswith(f"The record of case {case.reference}")
    assert not CJK.search(readme)


def test_the_readme_is_in_chinese_for_a_chinese_reader(cast, case, tmp_path):
    assert cast.merchant.language == "zh-hans"
    zip_file = tmp_path / "zh.zip"
    zip_file.write_bytes(bundle(cast.merchant, case))
    with zipfile.ZipFile(zip_file) as z:
        readme = z.read(f"{case.reference}/README.txt").decode()
        (tmp_path / "verify.py").write_bytes(z.read(f"{case.reference}/verify.py"))
    assert case.reference in readme and case.event_head in readme
    assert CJK.search(readme.splitlines()[0]), readme[:200]  # the title too
    for english in ("The record of case", "This folder is the complete record", "It recomputes the chain"):
        assert english not in readme
    assert f"python3 verify.py {case.reference}-record.zip" in readme
    # The translation did not disturb the bundle: it still verifies.
    assert run_verify(tmp_path / "verify.py", zip_file, cwd=tmp_path).returncode == 0


# --- verify.py accepts the bundle as it came ------------------------------------------------------
def test_verify_accepts_the_zip_and_the_unpacked_folder(case, zip_path, unpack, tmp_path):
    folder = unpack()
    result = verify_folder(folder)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith(f"OK {case.reference}: {case.event_count} events, chain head {case.event_head}")
    assert f"{len(FILES)} evidence files match the log" in result.stdout

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_verify(folder / "verify.py", zip_path, cwd=elsewhere)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert result.stdout.startswith(f"OK {case.reference}")
    # And on the folder named as an argument.
    result = run_verify(folder / "verify.py", folder, cwd=elsewhere)
    assert result.returncode == 0, result.stdout


def test_verify_refuses_bad_usage(unpack):
    folder = unpack()
    result = run_verify("verify.py", "a", "b", cwd=folder)
    assert result.returncode == 2
    result = run_verify("verify.py", folder / "no-such-folder", cwd=folder)
    assert result.returncode == 1 and result.stdout.startswith("FAIL")


# --- and refuses it after any change, naming what changed ----------------------------------------
def read_events(folder: Path) -> list[str]:
    return (folder / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


def write_events(folder: Path, lines: list[str]) -> None:
    (folder / "events.jsonl").write_text("".join(lines), encoding="utf-8")


def dump(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"


def seq_of(folder: Path, type_: str, **payload) -> int:
    for line in read_events(folder):
        record = json.loads(line)
        if record["type"] == type_ and all((record["payload"] or {}).get(k) == v for k, v in payload.items()):
            return record["seq"]
    raise AssertionError(f"no {type_} event with {payload}")


def test_a_changed_payload_is_named_by_line_and_seq(unpack):
    folder = unpack()
    lines = read_events(folder)
    seq = seq_of(folder, "evidence_added", filename="receipt.txt")
    record = json.loads(lines[seq - 1])
    record["payload"]["description"] = "A receipt for a different order"
    lines[seq - 1] = dump(record)
    write_events(folder, lines)
    assert_fails_naming(verify_folder(folder), f"events.jsonl line {seq} (event {seq}, evidence_added)", "payload_hash")


def test_a_changed_event_type_is_named(unpack):
    folder = unpack()
    lines = read_events(folder)
    record = json.loads(lines[1])
    record["type"] = "withdraw"
    lines[1] = dump(record)
    write_events(folder, lines)
    assert_fails_naming(verify_folder(folder), "events.jsonl line 2 (event 2, withdraw)", "hash does not match")


def test_a_deleted_last_event_is_named(case, unpack):
    folder = unpack()
    write_events(folder, read_events(folder)[:-1])
    assert_fails_naming(
        verify_folder(folder),
        "case.json",
        f"records {case.event_count} events",
        f"events.jsonl has {case.event_count - 1}",
    )


def test_swapped_events_are_named(unpack):
    folder = unpack()
    lines = read_events(folder)
    lines[2], lines[3] = lines[3], lines[2]
    write_events(folder, lines)
    assert_fails_naming(verify_folder(folder), "events.jsonl line 3 (event 4", "expected sequence number 3")


def test_a_changed_byte_of_an_evidence_file_is_named(unpack):
    folder = unpack()
    path = evidence_path("ledger.txt")
    target = folder / path
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x20
    target.write_bytes(bytes(raw))
    seq = seq_of(folder, "evidence_added", filename="ledger.txt")
    assert_fails_naming(verify_folder(folder), path, "differs from the event log", f"event {seq}")


def test_a_deleted_evidence_file_is_named(unpack):
    folder = unpack()
    (folder / evidence_path("screenshot.png")).unlink()
    evidence = Evidence.objects.get(filename="screenshot.png")
    assert_fails_naming(verify_folder(folder), f"evidence {evidence.pk}", "missing")


@pytest.mark.parametrize("name", ["case.json", "README.txt", "events.jsonl", "evidence"])
def test_a_changed_hash_in_the_manifest_is_named(unpack, name):
    folder = unpack()
    if name == "evidence":
        name = evidence_path("tracking.pdf")
    manifest = folder / "MANIFEST.sha256"
    lines = manifest.read_text().splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(lines) if line.rstrip("\n").endswith(f"  {name}")]
    digest = lines[index][:64]
    lines[index] = ("0" if digest[0] != "0" else "1") + lines[index][1:]
    manifest.write_text("".join(lines))
    assert_fails_naming(verify_folder(folder), name, "MANIFEST.sha256")


def test_an_extra_file_is_named(unpack):
    folder = unpack()
    (folder / "evidence" / "planted.pdf").write_bytes(pdf(b"planted"))
    assert_fails_naming(verify_folder(folder), "evidence/planted.pdf", "not listed in MANIFEST.sha256")


def test_a_changed_readme_is_caught_by_the_manifest(unpack):
    folder = unpack()
    readme = folder / "README.txt"
    readme.write_text(readme.read_text().replace("python3 verify.py", "python3 verify.py --trust-me", 1))
    assert_fails_naming(verify_folder(folder), "README.txt", "does not match MANIFEST.sha256")


def test_a_changed_case_json_is_caught(unpack):
    folder = unpack()
    case_json = folder / "case.json"
    data = json.loads(case_json.read_text())
    data["status"] = "closed"
    case_json.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    assert_fails_naming(verify_folder(folder), "case.json")


def test_a_missing_manifest_is_named(unpack):
    folder = unpack()
    (folder / "MANIFEST.sha256").unlink()
    assert_fails_naming(verify_folder(folder), "MANIFEST.sha256 is missing")


def rewrite_zip(source: Path, target: Path, member: str, change) -> None:
    """A copy of the zip with ``member``'s bytes passed through ``change``, every other member as it was."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, change(data) if info.filename == member else data)


@pytest.mark.parametrize("what", ["evidence", "event", "readme"])
def test_a_zip_with_one_altered_member_is_refused(case, zip_path, unpack, tmp_path, what):
    checker = unpack() / "verify.py"
    ref = case.reference
    if what == "evidence":
        member, named = evidence_path("receipt.txt"), evidence_path("receipt.txt")

        def change(data):
            return data.replace(b"89.90", b"19.90")
    elif what == "event":
        member, named = "events.jsonl", "events.jsonl line"

        def change(data):
            return data.replace(b"The receipt", b"A receipt", 1)
    else:
        member, named = "README.txt", "README.txt"

        def change(data):
            return data + b"\nNothing to see here.\n"

    tampered = tmp_path / "tampered.zip"
    rewrite_zip(zip_path, tampered, f"{ref}/{member}", change)
    # The rewrite itself is faithful: the untouched zip copied the same way still verifies.
    faithful = tmp_path / "faithful.zip"
    rewrite_zip(zip_path, faithful, f"{ref}/{member}", lambda data: data)
    assert run_verify(checker, faithful, cwd=tmp_path).returncode == 0
    assert_fails_naming(run_verify(checker, tampered, cwd=tmp_path), named)


def rewrite_manifest(folder: Path) -> None:
    """What anyone can do: the manifest is plain SHA-256, so a forger recomputes it."""
    names = sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256"
    )
    lines = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in names)
    (folder / "MANIFEST.sha256").write_text(lines)


def test_a_rewritten_manifest_alone_does_not_hide_a_changed_file(unpack):
    folder = unpack()
    target = folder / evidence_path("receipt.txt")
    target.write_bytes(target.read_bytes().replace(b"89.90", b"19.90"))
    rewrite_manifest(folder)
    assert_fails_naming(verify_folder(folder), evidence_path("receipt.txt"), "differs from the event log")


def test_a_payload_nulled_without_an_erasure_is_refused(case, unpack):
    folder = unpack()
    lines = read_events(folder)
    seq = seq_of(folder, "evidence_added", filename="tracking.pdf")
    record = json.loads(lines[seq - 1])
    record["payload"] = None
    lines[seq - 1] = dump(record)
    write_events(folder, lines)
    (folder / evidence_path("tracking.pdf")).unlink()
    rewrite_manifest(folder)
    result = verify_folder(folder)  # today: "OK …, chain head <the case page's head>, 4 evidence files …"
    assert result.returncode == 1, result.stdout


def test_a_zip_with_an_extra_member_is_refused(case, zip_path, unpack, tmp_path):
    checker = unpack() / "verify.py"
    for extra in (f"{case.reference}/evidence/planted.pdf", "planted.txt"):
        tampered = tmp_path / "extra.zip"
        shutil.copy(zip_path, tampered)
        with zipfile.ZipFile(tampered, "a") as z:
            z.writestr(extra, pdf(b"planted"))
        result = run_verify(checker, tampered, cwd=tmp_path)
        assert result.returncode == 1, result.stdout
        assert result.stdout.startswith("FAIL")


def test_a_zip_with_a_member_missing_is_refused(case, zip_path, unpack, tmp_path):
    checker = unpack() / "verify.py"
    gone = f"{case.reference}/README.txt"
    tampered = tmp_path / "missing.zip"
    with zipfile.ZipFile(zip_path) as old, zipfile.ZipFile(tampered, "w") as new:
        for info in old.infolist():
            if info.filename != gone:
                new.writestr(info, old.read(info))
    assert_fails_naming(run_verify(checker, tampered, cwd=tmp_path), "README.txt", "missing")


# --- the export checks the vault first ------------------------------------------------------------
def test_an_export_with_a_corrupt_file_is_refused_recorded_and_alerted(cast, case):
    from notifications.models import Notification

    evidence = Evidence.objects.get(filename="ledger.txt")
    path = stored_path(evidence)
    raw = bytearray(path.read_bytes())
    raw[crypto.HEADER_BYTES + 10] ^= 1
    path.write_bytes(bytes(raw))
    response = export_response(cast.consumer, case)
    assert response.status_code == 409
    assert not response.streaming
    assert response.json()["error"]["code"] == "integrity_failure"
    event = CaseEvent.objects.get(case=case, type="evidence_integrity_failure")
    assert event.payload["evidence"] == str(evidence.pk)
    evidence.refresh_from_db()
    assert evidence.integrity_failed_at is not None
    assert Notification.objects.filter(user=cast.operator, event=event).exists()


def test_the_bundle_includes_the_integrity_failure_event_after_a_failed_download(cast, case, tmp_path):
    """An evidence failure appends to the chain; a later export (the file repaired) still verifies."""
    from tests.evidence.helpers import download

    evidence = Evidence.objects.get(filename="receipt.txt")
    path = stored_path(evidence)
    good = path.read_bytes()
    path.write_bytes(good[:-1])
    assert download(cast.consumer, case, evidence.pk).status_code == 409
    path.write_bytes(good)
    case.refresh_from_db()
    zip_file = tmp_path / "after.zip"
    zip_file.write_bytes(bundle(cast.operator, case))
    with zipfile.ZipFile(zip_file) as z:
        types = [json.loads(line)["type"] for line in z.read(f"{case.reference}/events.jsonl").splitlines()]
        (tmp_path / "verify.py").write_bytes(z.read(f"{case.reference}/verify.py"))
    assert types[-1] == "evidence_integrity_failure"
    assert run_verify(tmp_path / "verify.py", zip_file, cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"], ids=["LS", "PS", "NEL"])
def test_an_unusual_line_separator_in_a_description_still_verifies(cast, tmp_path, separator):
    case = case_in("filed", cast)
    uploaded(cast.consumer, case, "letter.txt", b"Letter.\n", description=f"First line{separator}second line")
    zip_file = tmp_path / "bundle.zip"
    zip_file.write_bytes(bundle(cast.consumer, case))
    with zipfile.ZipFile(zip_file) as z:
        (tmp_path / "verify.py").write_bytes(z.read(f"{case.reference}/verify.py"))
    result = run_verify(tmp_path / "verify.py", zip_file, cwd=tmp_path)
    assert result.returncode == 0, result.stdout


def test_a_bundle_unpacked_elsewhere_keeps_verifying(unpack, tmp_path):
    """Nothing in the bundle depends on where it lies."""
    folder = unpack()
    moved = tmp_path / "somewhere else" / "record"
    shutil.copytree(folder, moved)
    assert verify_folder(moved).returncode == 0


def test_a_long_chinese_file_name_still_unpacks_and_verifies(cast, tmp_path):
    case = case_in("filed", cast)
    name = "关于订单号ORD-1001的付款收据和银行转账记录" * 4 + ".txt"  # 100 characters, 260 bytes of UTF-8
    uploaded(cast.consumer, case, name, b"Transfer record.\n")
    zip_file = tmp_path / "long.zip"
    zip_file.write_bytes(bundle(cast.consumer, case))
    with zipfile.ZipFile(zip_file) as z:
        z.extractall(tmp_path / "unpacked")
    assert verify_folder(tmp_path / "unpacked" / case.reference).returncode == 0
