"""What a file really is, from its bytes (libmagic through python-magic), never from its name."""

import threading
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

import magic

#: The types the vault accepts: MIME type -> (canonical extension, extensions a name may keep).
ALLOWED = {
    "application/pdf": ("pdf", {"pdf"}),
    "image/png": ("png", {"png"}),
    "image/jpeg": ("jpg", {"jpg", "jpeg", "jpe"}),
    "image/webp": ("webp", {"webp"}),
    "text/plain": ("txt", {"txt", "text", "log", "md", "eml"}),
    "text/csv": ("csv", {"csv", "txt"}),
    "application/msword": ("doc", {"doc"}),
    "application/vnd.ms-excel": ("xls", {"xls"}),
    "application/vnd.ms-powerpoint": ("ppt", {"ppt"}),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx", {"docx"}),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx", {"xlsx"}),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx", {"pptx"}),
    "application/vnd.oasis.opendocument.text": ("odt", {"odt"}),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods", {"ods"}),
    "application/vnd.oasis.opendocument.presentation": ("odp", {"odp"}),
}
#: How many leading bytes libmagic sees (office formats are recognised from their first zip entries).
SNIFF_BYTES = 1024 * 1024

_local = threading.local()


def _magic():
    # A libmagic handle is not safe to share between threads.
    if not hasattr(_local, "magic"):
        _local.magic = magic.Magic(mime=True)
    return _local.magic


def sniff(head: bytes) -> str:
    """The MIME type of a file whose first bytes are ``head``."""
    mime = _magic().from_buffer(head)
    if mime == "text/plain" and not _is_text(head):
        return "application/octet-stream"
    return mime


def _is_text(head: bytes) -> bool:
    """UTF-8 (a cut multi-byte character at the end allowed) without control characters but tab and newline."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def safe_name(name: str, mime: str) -> str:
    """A display and download name: no path, no control characters, at most 100 bytes before the
    extension (it must fit in a zip member and a file system's 255-byte names), and an
    extension that matches what the file is (``invoice.html`` holding a PDF becomes ``invoice.html.pdf``)."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .") or "evidence"
    canonical, accepted = ALLOWED[mime]
    stem, dot, ext = base.rpartition(".")
    if not dot or ext.lower() not in accepted:
        stem, ext = base, canonical
    return f"{_truncate_bytes(stem, 100)}.{ext.lower()}"


def _truncate_bytes(text: str, limit: int) -> str:
    """At most ``limit`` bytes of UTF-8, cut on a character boundary (file systems count bytes)."""
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", errors="ignore")
