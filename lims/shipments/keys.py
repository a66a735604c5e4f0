"""The partner keys this installation trusts for manifests: register, revoke, list and look up (audited)."""

from __future__ import annotations

import base64
import re

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core import audit
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, NotFound
from lims.shipments import signing
from lims.shipments.models import ManifestKey

INSTALLATION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$")


def keys_query() -> Select[ManifestKey]:
    """Build the list of registered keys: trusted first, then by installation and newest."""
    return select(ManifestKey).order_by(ManifestKey.revoked_at.is_not(None), ManifestKey.installation,
                                        ManifestKey.registered_at.desc(), ManifestKey.id.desc())


def list_keys(session: Session) -> list[ManifestKey]:
    """Return every registered key (revoked ones included)."""
    return list(session.scalars(keys_query()))


def get_key(session: Session, key_id: int) -> ManifestKey:
    """Return the registered key with this id or raise NotFound."""
    key = session.get(ManifestKey, key_id)
    if key is None:
        raise NotFound(f"no registered manifest key #{key_id}")
    return key


def key_by_fingerprint(session: Session, fingerprint: str) -> ManifestKey | None:
    """Return the registered key (trusted or revoked) with this fingerprint, if any."""
    return session.scalar(select(ManifestKey).where(ManifestKey.fingerprint == fingerprint))


def public_raw(key: ManifestKey) -> bytes:
    """Return the raw bytes of a registered public key."""
    return base64.b64decode(key.public_key)


def _clean_fingerprint(text: str | None) -> str | None:
    """Read a fingerprint as typed from a phone call or an e-mail: spaces, colons and case do not matter."""
    cleaned = re.sub(r"[\s:]", "", text or "").lower()
    return cleaned or None


def register_key(session: Session, *, installation: str, public_key: str, fingerprint: str | None = None,
                 own_fingerprint: str | None = None, by: User | None) -> ManifestKey:
    """Trust a partner installation's public key for the manifests it signs.

    ``fingerprint``, when given, is the one the partner read out separately: it must match the pasted key.
    """
    name = (installation or "").strip()
    if not INSTALLATION_NAME.match(name):
        raise DomainError("name the sending installation as its manifests do (1 to 80 letters, digits, "
                          "spaces, '.', '_' or '-')", field="installation")
    raw = signing.parse_public_key(public_key)
    actual = signing.fingerprint(raw)
    expected = _clean_fingerprint(fingerprint)
    if expected is not None and expected != actual:
        raise DomainError(f"the key's fingerprint is {signing.grouped(actual)}, not the {expected[:8]}… you "
                          "were given: the key was changed or mistyped; ask the partner site again",
                          field="fingerprint")
    if actual == own_fingerprint:
        raise DomainError("this is this installation's own key; register the partner site's key",
                          field="public_key")
    existing = key_by_fingerprint(session, actual)
    if existing is not None:
        if existing.revoked_at is not None:
            raise Conflict(f"this key was revoked on {existing.revoked_at:%Y-%m-%d}; a revoked key is never "
                           "trusted again: ask the partner site for a new one", field="public_key")
        raise Conflict(f"this key is already trusted for {existing.installation}", field="public_key")
    key = ManifestKey(installation=name, public_key=base64.b64encode(raw).decode("ascii"), fingerprint=actual,
                      registered_at=utcnow(), registered_by_id=by.id if by else None)
    session.add(key)
    session.flush()
    audit.record(session, "manifest_key_registered", user=by, object_type="manifest_key", object_id=key.id,
                 detail=f"{name}: {actual}")
    session.flush()
    return key


def revoke_key(session: Session, key: ManifestKey, *, by: User | None) -> ManifestKey:
    """Stop trusting a key: manifests it signs are refused from now on (imports already made stay)."""
    if key.revoked_at is not None:
        raise Conflict(f"the key of {key.installation} ({key.fingerprint[:8]}…) was already revoked on "
                       f"{key.revoked_at:%Y-%m-%d}")
    key.revoked_at = utcnow()
    key.revoked_by_id = by.id if by else None
    session.flush()
    audit.record(session, "manifest_key_revoked", user=by, object_type="manifest_key", object_id=key.id,
                 detail=f"{key.installation}: {key.fingerprint}")
    session.flush()
    return key
