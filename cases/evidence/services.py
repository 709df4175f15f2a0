"""Adding, reading, re-keying and erasing evidence. Each write is one transaction with its event."""

import hashlib
import logging
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from odr.errors import (
    Conflict,
    Gone,
    IntegrityFailure,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedType,
)

from .. import policies, selectors
from ..events import event_append
from ..models import Evidence
from . import crypto
from .sniff import ALLOWED, SNIFF_BYTES, safe_name, sniff

logger = logging.getLogger(__name__)


def path_of(storage_name: str) -> Path:
    return Path(settings.ODR_EVIDENCE_DIR) / storage_name[:2] / storage_name


def _store(upload, file_key: bytes) -> tuple[str, crypto.Sealed]:
    """Encrypt ``upload`` into a new file of the vault; written whole, then renamed into place."""
    storage_name = f"{uuid.uuid4().hex}.odre"
    final = path_of(storage_name)
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_suffix(".partial")
    try:
        with open(partial, "wb") as out:
            sealed = crypto.encrypt(upload.chunks(crypto.CHUNK), out, file_key)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return storage_name, sealed


def evidence_add(*, actor, case_id, upload, description: str = "") -> Evidence:
    """Store a party's file: sniffed, limited, encrypted; its hash on the event log.

    The checks that need no lock come first so that refused files are never written; the case's row
    lock then serialises the count against the limit with concurrent uploads.
    """
    case = selectors.case_get_for(actor, case_id)
    refusal = policies.evidence_upload_refusal(actor, case)
    if refusal is not None:
        raise refusal
    limit = settings.ODR_EVIDENCE_MAX_BYTES
    if upload.size > limit:
        raise PayloadTooLarge(_("A file may be at most %(size)s.") % {"size": filesizeformat(limit)})
    upload.seek(0)
    mime = sniff(upload.read(SNIFF_BYTES))
    upload.seek(0)
    if mime not in ALLOWED:
        raise UnsupportedType(
            _("Files of type %(type)s are not accepted: send PDF, PNG, JPEG, WebP, plain text or office documents.")
            % {"type": mime}
        )
    if Evidence.objects.filter(case=case).count() >= settings.ODR_EVIDENCE_MAX_FILES:
        raise Conflict(_("This case already has the most files allowed."), code="too_many_files")

    file_key = secrets.token_bytes(32)
    storage_name, sealed = _store(upload, file_key)
    try:
        with transaction.atomic():
            case = selectors.case_get_for_update(actor, case_id)
            refusal = policies.evidence_upload_refusal(actor, case)
            if refusal is not None:
                raise refusal
            if Evidence.objects.filter(case=case).count() >= settings.ODR_EVIDENCE_MAX_FILES:
                raise Conflict(_("This case already has the most files allowed."), code="too_many_files")
            key_id, wrapped = crypto.wrap(file_key)
            evidence = Evidence.objects.create(
                case=case,
                uploaded_by=actor,
                party=case.party_of(actor),
                filename=safe_name(upload.name, mime),
                description=description,
                content_type=mime,
                size=sealed.size,
                sha256=sealed.sha256,
                storage_name=storage_name,
                key_id=key_id,
                wrapped_key=wrapped,
            )
            event_append(
                case=case,
                type="evidence_added",
                actor=actor,
                payload={
                    "evidence": str(evidence.pk),
                    "sha256": evidence.sha256,
                    "size": evidence.size,
                    "content_type": mime,
                    "filename": evidence.filename,
                    "description": description,
                },
            )
    except BaseException:
        path_of(storage_name).unlink(missing_ok=True)
        raise
    return evidence


def evidence_list_for(user, case_id):
    case = selectors.case_get_for(user, case_id)
    return Evidence.objects.filter(case=case).select_related("uploaded_by").order_by("created_at", "id")


def evidence_plaintext(evidence: Evidence) -> Iterator[bytes]:
    """The file's bytes, decrypted chunk by chunk (each authenticated before it is yielded)."""
    file_key = crypto.unwrap(evidence.key_id, evidence.wrapped_key)
    with open(path_of(evidence.storage_name), "rb") as source:
        yield from crypto.decrypt(source, file_key)


def evidence_check(evidence: Evidence) -> str | None:
    """Decrypt and hash the whole file (nothing kept); None if it matches the log, else what is wrong."""
    digest = hashlib.sha256()
    try:
        for chunk in evidence_plaintext(evidence):
            digest.update(chunk)
    except crypto.VaultKeyMissing:
        raise
    except crypto.VaultIntegrityError as exc:
        return str(exc)
    except FileNotFoundError:
        return "the stored file is missing"
    if digest.hexdigest() != evidence.sha256:
        return f"SHA-256 {digest.hexdigest()} differs from the recorded {evidence.sha256}"
    return None


def _record_failure(evidence: Evidence, problem: str) -> None:
    """Mark the file, write the failure on the case's log and so alert the operators (own transaction).

    Once: a file already marked is refused again without another event or alert.
    """
    logger.error("evidence %s of case %s failed its integrity check: %s", evidence.pk, evidence.case_id, problem)
    if evidence.integrity_failed_at is not None:
        return
    with transaction.atomic():
        case = selectors.case_get_for_update(None, evidence.case_id)
        Evidence.objects.filter(pk=evidence.pk).update(integrity_failed_at=timezone.now())
        event_append(
            case=case,
            type="evidence_integrity_failure",
            payload={"evidence": str(evidence.pk), "sha256": evidence.sha256, "problem": problem},
        )


def evidence_open(*, actor, case_id, evidence_id) -> tuple[Evidence, Iterator[bytes]]:
    """The file's plaintext for someone who may see the case, after checking it against its hash.

    The whole file is decrypted and hashed first (a pass that keeps nothing), so a mismatch refuses the
    download before any byte is sent; the bytes are then decrypted again as they are sent.
    """
    case = selectors.case_get_for(actor, case_id)
    evidence = Evidence.objects.filter(case=case, pk=evidence_id).first()
    if evidence is None:
        raise NotFound()
    if evidence.erased_at is not None:
        raise Gone()
    evidence_verify(evidence)
    return evidence, evidence_plaintext(evidence)


def evidence_verify(evidence: Evidence) -> None:
    """Check the stored file against its recorded hash before any of it is served (download, export).

    A mismatch is recorded and alerted (``_record_failure``) and refused (IntegrityFailure, 409); a master
    key missing from the configuration is a deployment problem, refused as unavailable (503).
    """
    try:
        problem = evidence_check(evidence)
    except crypto.VaultKeyMissing as exc:
        logger.error("evidence %s cannot be read: %s", evidence.pk, exc)
        raise ServiceUnavailable(_("This file cannot be read now: its key is not configured.")) from None
    if problem is not None:
        _record_failure(evidence, problem)
        raise IntegrityFailure()


def evidence_rotate_keys(*, batch: int = 200) -> int:
    """Re-wrap every file key under the current master key; the files themselves are not rewritten."""
    current = crypto.current_key()
    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                Evidence.objects.select_for_update(skip_locked=True)
                .filter(wrapped_key__isnull=False)
                .exclude(key_id=current.id)
                .order_by("pk")[:batch]
            )
            if not rows:
                return done
            for evidence in rows:
                try:
                    file_key = crypto.unwrap(evidence.key_id, evidence.wrapped_key)
                except crypto.VaultKeyMissing as exc:
                    raise crypto.VaultKeyMissing(f"evidence {evidence.pk}: {exc}") from None
                evidence.key_id, evidence.wrapped_key = crypto.wrap(file_key)
                evidence.save(update_fields=["key_id", "wrapped_key"])
            done += len(rows)


def evidence_shred(evidence: Evidence) -> None:
    """Crypto-shredding: drop the file key and the stored bytes; keep the row and its hash.

    Call inside the caller's transaction; the file is deleted once it commits.
    """
    storage_name = evidence.storage_name
    Evidence.objects.filter(pk=evidence.pk).update(
        wrapped_key=None, erased_at=timezone.now(), filename="erased", description=""
    )
    transaction.on_commit(lambda: path_of(storage_name).unlink(missing_ok=True))
