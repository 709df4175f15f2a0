"""Envelope encryption of evidence at rest: AES-256-GCM, streamed in chunks, one key per file.

Each file gets a random 256-bit key, wrapped (RFC 3394 AES key wrap) by a master key from
``ODR_EVIDENCE_KEYS``. The file is encrypted as a sequence of chunks with the STREAM construction
(Hoang, Reyhanitabar, Rogaway and Vizár, 2015; as in Tink's streaming AEAD and age): chunk ``i`` is
sealed with AES-GCM under the nonce ``prefix(7) || i(4, big-endian) || last(1)`` with the file header as
associated data, so a reordered, dropped, truncated or altered chunk fails authentication and no
plaintext is released before its chunk is authenticated. Only one chunk is ever held in memory.

Stored layout: ``MAGIC(5) || prefix(7)`` then each chunk's ciphertext and 16-byte tag.
"""

import base64
import binascii
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MAGIC = b"ODRE1"
PREFIX_BYTES = 7
HEADER_BYTES = len(MAGIC) + PREFIX_BYTES
CHUNK = 64 * 1024
TAG = 16


class VaultIntegrityError(Exception):
    """The stored bytes do not authenticate: altered, truncated or under another key."""


class VaultKeyMissing(Exception):
    """The master key a file's key is wrapped under is not configured (a deployment problem, not tampering)."""


@dataclass(frozen=True)
class MasterKey:
    id: str
    key: bytes


def parse_keys(spec: str) -> list[MasterKey]:
    """``"id:base64,id2:base64"`` -> master keys, the first current. Raises ImproperlyConfigured."""
    keys = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id or len(key_id) > 32:
            raise ImproperlyConfigured("ODR_EVIDENCE_KEYS: each key reads id:base64 (an id of at most 32 characters).")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"ODR_EVIDENCE_KEYS: key {key_id!r} is not base64.") from None
        if len(key) != 32:
            raise ImproperlyConfigured(f"ODR_EVIDENCE_KEYS: key {key_id!r} must be 32 bytes (AES-256).")
        if any(k.id == key_id for k in keys):
            raise ImproperlyConfigured(f"ODR_EVIDENCE_KEYS: key id {key_id!r} appears twice.")
        keys.append(MasterKey(key_id, key))
    return keys


def new_key_line(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def _dev_keys() -> list[MasterKey]:
    """The embedded default's key, generated once into ``ODR_EVIDENCE_DEV_KEY_FILE`` (mode 0600)."""
    path = settings.ODR_EVIDENCE_DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        line = new_key_line("dev")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as f:
                f.write(line + "\n")
    return parse_keys(path.read_text().strip())


def master_keys() -> list[MasterKey]:
    spec = settings.ODR_EVIDENCE_KEYS
    keys = parse_keys(spec) if spec else _dev_keys()
    if not keys:
        raise ImproperlyConfigured("ODR_EVIDENCE_KEYS holds no key.")
    return keys


def current_key() -> MasterKey:
    return master_keys()[0]


def key_by_id(key_id: str) -> MasterKey:
    for key in master_keys():
        if key.id == key_id:
            return key
    raise VaultKeyMissing(f"master key {key_id!r} is not in ODR_EVIDENCE_KEYS")


def wrap(file_key: bytes) -> tuple[str, bytes]:
    master = current_key()
    return master.id, aes_key_wrap(master.key, file_key)


def unwrap(key_id: str, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(key_by_id(key_id).key, bytes(wrapped))
    except InvalidUnwrap:
        raise VaultIntegrityError("the file key does not unwrap under its master key") from None


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


@dataclass
class Sealed:
    sha256: str
    size: int


def encrypt(chunks: Iterable[bytes], out, file_key: bytes) -> Sealed:
    """Encrypt the plaintext ``chunks`` (any sizes) into the binary file ``out``; hash the plaintext."""
    aead = AESGCM(file_key)
    prefix = secrets.token_bytes(PREFIX_BYTES)
    header = MAGIC + prefix
    out.write(header)
    digest = hashlib.sha256()
    size = 0
    index = 0
    pending = b""
    for piece in chunks:
        digest.update(piece)
        size += len(piece)
        pending += piece
        # Keep at least one byte back so the final chunk is always sealed with the "last" flag.
        while len(pending) > CHUNK:
            out.write(aead.encrypt(_nonce(prefix, index, False), pending[:CHUNK], header))
            pending = pending[CHUNK:]
            index += 1
    out.write(aead.encrypt(_nonce(prefix, index, True), pending, header))
    return Sealed(digest.hexdigest(), size)


def decrypt(source, file_key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of the binary file ``source`` chunk by chunk, each one authenticated first."""
    aead = AESGCM(file_key)
    header = source.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise VaultIntegrityError("not an evidence file")
    prefix = header[len(MAGIC) :]
    index = 0
    current = source.read(CHUNK + TAG)
    while True:
        following = source.read(CHUNK + TAG)
        last = not following
        try:
            yield aead.decrypt(_nonce(prefix, index, last), current, header)
        except InvalidTag:
            raise VaultIntegrityError(f"chunk {index} does not authenticate") from None
        if last:
            return
        current, index = following, index + 1


# --- short secrets at rest (a webhook's signing secret) ----------------------------------------------
SEALED_PREFIX = "s1"


@lru_cache(maxsize=32)
def subkey(master_key: bytes, info: bytes) -> bytes:
    """A 32-byte key of its own for one use of a master key (HKDF-SHA256, the use as ``info``): the master
    key itself only wraps file keys."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def _text_key(master: MasterKey) -> bytes:
    return subkey(master.key, b"odr sealed text v1")


def seal_text(plain: str, purpose: str) -> str:
    """``plain`` sealed under the current master key: ``s1:<key id>:<base64(nonce || AES-GCM ciphertext)>``.
    ``purpose`` is authenticated with it, so a value sealed for one use does not open as another's."""
    master = current_key()
    nonce = secrets.token_bytes(12)
    aad = f"{SEALED_PREFIX}:{master.id}:{purpose}".encode()
    sealed = AESGCM(_text_key(master)).encrypt(nonce, plain.encode(), aad)
    return f"{SEALED_PREFIX}:{master.id}:{base64.b64encode(nonce + sealed).decode()}"


def sealed_key_id(value: str) -> str | None:
    """The id of the master key ``value`` is sealed under (None: not a sealed value)."""
    version, sep, rest = value.partition(":")
    key_id, sep2, _data = rest.partition(":")
    return key_id if version == SEALED_PREFIX and sep and sep2 else None


def open_text(value: str, purpose: str) -> str:
    """The plain text of a ``seal_text`` value. Raises VaultIntegrityError (altered, or another purpose's)
    or VaultKeyMissing (its key is no longer configured)."""
    key_id = sealed_key_id(value)
    if key_id is None:
        raise VaultIntegrityError("not a sealed value")
    try:
        data = base64.b64decode(value.split(":", 2)[2], validate=True)
    except (binascii.Error, ValueError):
        raise VaultIntegrityError("a sealed value that is not base64") from None
    if len(data) < 12 + TAG:
        raise VaultIntegrityError("a sealed value too short to hold a nonce and a tag")
    aad = f"{SEALED_PREFIX}:{key_id}:{purpose}".encode()
    try:
        return AESGCM(_text_key(key_by_id(key_id))).decrypt(data[:12], data[12:], aad).decode()
    except InvalidTag:
        raise VaultIntegrityError("a sealed value does not authenticate") from None
