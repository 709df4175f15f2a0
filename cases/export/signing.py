"""The platform's signature on a record bundle: Ed25519 over the bundle's ``MANIFEST.sha256`` (which holds
the SHA-256 of every other file), written beside it as ``MANIFEST.sig``.

The signing key is derived (HKDF-SHA256, its own ``info``) from the current master key of
``ODR_EVIDENCE_KEYS``, so a deployment has no second secret to keep, and takes that key's id; rotating the
evidence keys rotates it. Each public key is recorded (``SigningKey``) the first time it signs and stays
published at ``GET /api/v1/signing-keys/`` after its master key is dropped, so a bundle signed years ago
can still be checked against the platform's list, not just against the key the bundle itself carries.
"""

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..evidence import crypto
from ..models import SigningKey

ALGORITHM = "Ed25519"
INFO = b"odr record bundle signing v1"


def _derive(master_key: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(crypto.subkey(master_key, INFO))


def _public_b64(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def current() -> tuple[str, Ed25519PrivateKey]:
    """The key bundles are signed with now (recorded as published on first use)."""
    master = crypto.current_key()
    private = _derive(master.key)
    SigningKey.objects.get_or_create(key_id=master.id, public_key=_public_b64(private))
    return master.id, private


def signature(data: bytes, key: tuple[str, Ed25519PrivateKey]) -> bytes:
    """``MANIFEST.sig`` for ``data`` (the manifest's bytes) under ``key`` (``current()``): JSON naming the
    algorithm, the key and its public half, and the signature, all base64."""
    key_id, private = key
    return (
        json.dumps(
            {
                "algorithm": ALGORITHM,
                "key_id": key_id,
                "public_key": _public_b64(private),
                "signed": "MANIFEST.sha256",
                "signature": base64.b64encode(private.sign(data)).decode(),
            },
            indent=2,
        ).encode()
        + b"\n"
    )
