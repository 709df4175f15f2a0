"""Build a case's record bundle as a zip, streamed: nothing is held whole in memory or written to disk.

``<reference>/`` holds ``case.json`` (the case as the API shows it to the requester, with the chain's
head and the evidence list), ``events.jsonl`` (every event of the chain), ``evidence/`` (the files,
decrypted), ``README.txt`` (in the requester's language), ``verify.py`` (the offline checker) and
``MANIFEST.sha256`` (the SHA-256 of every other file) and ``MANIFEST.sig`` (the platform's Ed25519
signature of the manifest, ``signing``), written last.
"""

import datetime as dt
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from django.template.loader import render_to_string
from django.utils import timezone, translation

from .. import selectors
from ..events import format_time
from ..evidence import services as evidence_services
from ..models import CaseEvent, Evidence
from . import signing

VERIFY_SOURCE = Path(__file__).with_name("verify.py")


class _Sink(io.RawIOBase):
    """An unseekable file that collects what zipfile writes, handed out as it comes."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0

    def writable(self):
        return True

    def write(self, data):
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self):
        return self.position

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _event_line(event: CaseEvent, reference: str) -> bytes:
    record = {
        "case": reference,
        "seq": event.seq,
        "type": event.type,
        "actor": event.actor_id,
        "actor_role": event.actor_role,
        "at": format_time(event.at),
        "payload": event.payload,
        "payload_hash": event.payload_hash,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    return json.dumps(record, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def evidence_path(evidence: Evidence) -> str:
    return f"evidence/{evidence.pk}-{evidence.filename}"


def bundle_for(*, user, case_id) -> tuple[str, Iterator[bytes]]:
    """The file name and the streamed bytes of the bundle of a case ``user`` may see (404 otherwise).

    Every evidence file is checked against its hash before the first byte goes out; a mismatch is
    recorded and alerted (as a download's is) and the export refused.
    """
    from ..api.serializers import CaseOutput

    case = selectors.case_get_for(user, case_id)
    # The chain up to the head read now: events appended meanwhile belong to a later export.
    count, head = case.event_count, case.event_head
    evidence = list(Evidence.objects.filter(case=case).order_by("created_at", "id"))
    for item in evidence:
        if item.erased_at is None:
            evidence_services.evidence_verify(item)
    case_json = CaseOutput(case, context={"request": SimpleNamespace(user=user)}).data
    case_json = {
        **case_json,
        "chain": {"event_count": count, "event_head": head},
        "evidence": [
            {
                "id": str(item.pk),
                "path": None if item.erased_at else evidence_path(item),
                "filename": item.filename,
                "content_type": item.content_type,
                "size": item.size,
                "sha256": item.sha256,
                "erased": item.erased_at is not None,
            }
            for item in evidence
        ],
        "exported_at": format_time(timezone.now()),
    }
    from arbitration.models import AwardDocument

    awards = list(
        AwardDocument.objects.filter(award__case=case).select_related("award").order_by("award__number", "language")
    )
    case_json["award_documents"] = [
        {"number": d.award.number, "language": d.language, "path": award_path(d), "sha256": d.sha256} for d in awards
    ]
    with translation.override(user.language):
        readme = render_to_string(
            "cases/export_readme.txt",
            {"case": case, "head": head, "count": count, "files": sum(1 for i in evidence if not i.erased_at)},
        )
    name = f"{case.reference}-record.zip"
    key = signing.current()  # recorded as published before the first byte goes out
    return name, _stream(case.reference, case_json, case, count, evidence, readme, awards, key)


def award_path(document) -> str:
    return f"awards/award-{document.award.number}-{document.language}.pdf"


def _stream(reference, case_json, case, count, evidence, readme, awards, key) -> Iterator[bytes]:
    sink = _Sink()
    manifest: list[tuple[str, str]] = []
    stamp = timezone.now().astimezone(dt.UTC).timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def member(name: str, chunks) -> Iterator[bytes]:
            info = zipfile.ZipInfo(f"{reference}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            digest = hashlib.sha256()
            with archive.open(info, "w", force_zip64=True) as out:
                for chunk in chunks:
                    digest.update(chunk)
                    out.write(chunk)
                    yield sink.take()
            manifest.append((digest.hexdigest(), name))
            yield sink.take()

        yield from member("case.json", [json.dumps(case_json, ensure_ascii=False, indent=2).encode() + b"\n"])
        events = CaseEvent.objects.filter(case=case, seq__lte=count).order_by("seq")
        yield from member("events.jsonl", (_event_line(e, reference) for e in events.iterator(chunk_size=500)))
        for item in evidence:
            if item.erased_at is None:
                yield from member(evidence_path(item), evidence_services.evidence_plaintext(item))
        for document in awards:
            yield from member(award_path(document), [bytes(document.pdf)])
        yield from member("README.txt", [readme.encode()])
        yield from member("verify.py", [VERIFY_SOURCE.read_bytes()])
        lines = "".join(f"{digest}  {name}\n" for digest, name in sorted(manifest, key=lambda m: m[1]))
        info = zipfile.ZipInfo(f"{reference}/MANIFEST.sha256", date_time=stamp)
        archive.writestr(info, lines.encode(), compress_type=zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(f"{reference}/MANIFEST.sig", date_time=stamp)
        archive.writestr(info, signing.signature(lines.encode(), key), compress_type=zipfile.ZIP_DEFLATED)
    yield sink.take()
