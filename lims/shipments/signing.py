"""This installation's Ed25519 manifest key: kept in a file, created on first use; signing and verifying.

The private key lives in the instance folder (``manifest_signing_key.pem``, mode 600, created the first time a
manifest is signed or the key is shown) or in the file ``LIMS_MANIFEST_KEY_FILE`` names (a mounted secret,
never created: a missing secret is an error, not a reason to become someone else). Partner sites register the
public key; its fingerprint (SHA-256 of the 32 raw public key bytes, hex) is also the key id that travels in
every manifest, and what two lab managers read to each other over the phone to check an exchanged key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from lims.core.errors import DomainError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# cryptography is imported by the functions that sign, verify or read keys, not when the app starts.

ALGORITHM = "ed25519"
KEY_FILE_NAME = "manifest_signing_key.pem"
RAW_KEY_BYTES = 32
SIGNATURE_BYTES = 64
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"


@dataclass(frozen=True)
class InstallationKey:
    """The key pair an installation signs its manifests with."""

    private: Ed25519PrivateKey
    public_raw: bytes

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)

    @property
    def public_key(self) -> str:
        """The public key as base64 of its 32 raw bytes (what a partner site registers)."""
        return base64.b64encode(self.public_raw).decode("ascii")

    @property
    def public_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")

    def sign(self, message: bytes) -> str:
        """Return the base64 Ed25519 signature of ``message``."""
        return base64.b64encode(self.private.sign(message)).decode("ascii")


def fingerprint(public_raw: bytes) -> str:
    """Return a public key's fingerprint: the SHA-256 of its raw bytes, 64 hex digits."""
    return hashlib.sha256(public_raw).hexdigest()


def grouped(fingerprint_hex: str) -> str:
    """Return a fingerprint in groups of four, for reading it aloud or comparing it by eye."""
    return " ".join(fingerprint_hex[i:i + 4] for i in range(0, len(fingerprint_hex), 4))


def verify(public_raw: bytes, message: bytes, signature_b64: str) -> bool:
    """Tell whether ``signature_b64`` is a valid Ed25519 signature of ``message`` by this public key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(signature) != SIGNATURE_BYTES:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def parse_public_key(text: str) -> bytes:
    """Read a pasted public key (base64 of the 32 raw bytes, or a PEM block); return its raw bytes."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    text = (text or "").strip()
    if not text:
        raise DomainError("paste the partner installation's public key", field="public_key")
    if text.startswith(_PEM_HEADER):
        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm):
            raise DomainError("the PEM block is not a readable public key", field="public_key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise DomainError("the PEM block holds a public key of another kind; manifests are signed with "
                              "Ed25519", field="public_key") from None
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("the public key is neither base64 nor a PEM block", field="public_key") from None
    if len(raw) != RAW_KEY_BYTES:
        raise DomainError(f"an Ed25519 public key has {RAW_KEY_BYTES} bytes; this one has {len(raw)}",
                          field="public_key")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise DomainError("the public key is not a valid Ed25519 key", field="public_key") from None
    return raw


def _read(path: Path) -> InstallationKey:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise DomainError(
            f"the manifest signing key {path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DomainError(f"the manifest signing key {path} is not an Ed25519 key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return InstallationKey(key, raw)


def _create(path: Path) -> None:
    """Write a new key to ``path`` unless one is there; two workers starting at once end with one key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic and never replaces: whoever links first wins, the others read theirs
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create(path: Path, *, create: bool) -> InstallationKey:
    """Read the key at ``path``; make it first when ``create`` (the instance folder's own key)."""
    if not path.exists():
        if not create:
            raise DomainError(f"the manifest signing key file {path} (LIMS_MANIFEST_KEY_FILE) does not "
                              "exist; mount it, or unset the setting to keep the key in the instance folder")
        _create(path)
    return _read(path)


def installation_key(app: Flask) -> InstallationKey:
    """Return the app's manifest signing key (config ``MANIFEST_KEY_FILE``, else the instance folder's)."""
    configured = app.config.get("MANIFEST_KEY_FILE")
    path = Path(configured) if configured else Path(app.instance_path) / KEY_FILE_NAME
    cache: dict[Path, InstallationKey] = app.extensions.setdefault("lims_manifest_keys", {})
    if path not in cache:
        cache[path] = load_or_create(path, create=not configured)
    return cache[path]
