"""Where the custody key and anchor file live, and the keyring: one key per epoch, outside the database.

The key file holds one line per epoch, ``<epoch> <64 hex digits>``, newest last (a file with one bare line of
64 hex digits is epoch 1, so a secret mounted by a key manager can be just the key). Rotation appends a line:
new events use the newest key and old events stay verifiable with theirs, so old lines are never removed.

Locations come from the same configuration as the app: ``CUSTODY_KEY_FILE`` / ``CUSTODY_ANCHOR_FILE`` in the
app's config (``LIMS_CUSTODY_KEY_FILE`` / ``LIMS_CUSTODY_ANCHOR_FILE``), else ``custody_key`` and
``custody-anchors.log`` in the instance folder (``LIMS_INSTANCE_PATH``, else the app's default instance
folder).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, current_app, has_app_context

from lims.core.errors import DomainError

KEY_FILE_NAME = "custody_key"
ANCHOR_FILE_NAME = "custody-anchors.log"
_HEADER = ("# Trialbank custody keys: '<epoch> <key as 64 hex digits>', newest last. Keep every line: old "
           "epochs\n# are verified with their own key. Keep a copy of this file offline; without it nothing "
           "can be verified.\n")
_LINE = re.compile(r"^(?:(\d{1,6})\s+)?([0-9a-fA-F]{64})$")


def _instance_folder() -> Path:
    if has_app_context():
        return Path(current_app.instance_path)
    from lims import _instance_path

    return Path(_instance_path(None) or Flask("lims").instance_path)


def _configured(name: str) -> str | None:
    if has_app_context():
        return current_app.config.get(name) or None
    return os.environ.get(f"LIMS_{name}") or None


def key_file() -> Path:
    """Return the custody key file the app uses (``LIMS_CUSTODY_KEY_FILE`` or ``instance/custody_key``)."""
    return Path(_configured("CUSTODY_KEY_FILE") or _instance_folder() / KEY_FILE_NAME)


def anchor_file() -> Path:
    """Return the anchor file the app appends to (``LIMS_CUSTODY_ANCHOR_FILE`` or
    ``instance/custody-anchors.log``)."""
    return Path(_configured("CUSTODY_ANCHOR_FILE") or _instance_folder() / ANCHOR_FILE_NAME)


def fingerprint(key: bytes) -> str:
    """Return a short public name of a key (an HMAC of a fixed text; it reveals nothing of the key)."""
    return hmac.new(key, b"trialbank custody key fingerprint", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    """The custody keys by epoch; the newest epoch seals new events and checkpoints."""

    path: Path
    keys: dict[int, bytes]

    @property
    def epoch(self) -> int:
        """Return the newest epoch."""
        return max(self.keys)

    @property
    def key(self) -> bytes:
        """Return the newest epoch's key."""
        return self.keys[self.epoch]


def read_keyring(path: Path) -> Keyring | None:
    """Read the key file; None when it does not exist, a DomainError naming the line when it is malformed."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DomainError(f"custody key file {path} cannot be read: {exc}") from None
    keys: dict[int, bytes] = {}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    for n, line in lines:
        match = _LINE.match(line)
        if match is None or (match.group(1) is None and len(lines) > 1):
            raise DomainError(f"custody key file {path}, line {n}: expected '<epoch> <64 hex digits>'")
        epoch = int(match.group(1) or 1)
        if epoch < 1 or epoch in keys or (keys and epoch < max(keys)):
            raise DomainError(f"custody key file {path}, line {n}: epoch {epoch} is out of order")
        keys[epoch] = bytes.fromhex(match.group(2))
    if not keys:
        raise DomainError(f"custody key file {path} holds no key")
    return Keyring(path, keys)


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def create_keyring(path: Path) -> Keyring:
    """Create the key file with a new random epoch-1 key, mode 600 (or read it if another process just
    did)."""
    try:
        _write_new(path, f"{_HEADER}1 {secrets.token_hex(32)}\n")
    except FileExistsError:
        pass
    except OSError as exc:
        raise DomainError(f"cannot create the custody key file {path}: {exc}") from None
    keyring = read_keyring(path)
    assert keyring is not None
    return keyring


def add_epoch(path: Path) -> Keyring:
    """Append a new random key as the next epoch, replacing the file atomically (mode 600)."""
    keyring = read_keyring(path)
    if keyring is None:
        raise DomainError(f"custody key file {path} does not exist; nothing to rotate")
    lines = "".join(f"{epoch} {key.hex()}\n" for epoch, key in sorted(keyring.keys.items()))
    text = f"{_HEADER}{lines}{keyring.epoch + 1} {secrets.token_hex(32)}\n"
    try:
        fd, tmp = tempfile.mkstemp(prefix=".custody_key.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        raise DomainError(f"cannot rewrite the custody key file {path} ({exc}); if a key manager mounts it, "
                          f"add the line '{keyring.epoch + 1} <new key>' there instead") from None
    result = read_keyring(path)
    assert result is not None
    return result
