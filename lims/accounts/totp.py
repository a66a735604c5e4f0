"""Second factor: TOTP (RFC 6238) with an authenticator app, and one-time recovery codes.

Required for the roles in ``LIMS_MFA_ROLES`` (default admin and lab_manager) on logins through Trialbank's
own password form (local and LDAP accounts); OpenID Connect users rely on their identity provider's MFA.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time

import pyotp
from flask import current_app, has_app_context
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lims.accounts.models import RecoveryCode, User
from lims.core.db import utcnow
from lims.core.errors import DomainError

DEFAULT_MFA_ROLES = ("admin", "lab_manager")
ISSUER = "Trialbank"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes are typed from paper


def mfa_roles() -> tuple[str, ...]:
    """Return the roles that must use a second factor (setting ``MFA_ROLES``: a list or comma-separated)."""
    value = current_app.config.get("MFA_ROLES", DEFAULT_MFA_ROLES) if has_app_context() else DEFAULT_MFA_ROLES
    if isinstance(value, str):
        value = [v for v in (part.strip() for part in value.split(",")) if v]
    return tuple(value)


def required_for(user: User) -> bool:
    """Tell whether ``user`` must have a second factor to log in with a password."""
    return user.role in mfa_roles()


def begin_enrolment(session: Session, user: User) -> str:
    """Give the user a new, unconfirmed TOTP secret (replacing any unconfirmed one); return it."""
    if user.has_totp:
        raise DomainError("a second factor is already set up; remove it first to set up another device")
    user.totp_secret = pyotp.random_base32()
    session.flush()
    return user.totp_secret


def provisioning_uri(user: User) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(user.totp_secret or "").provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """Return the QR code of ``uri`` as inline SVG (no external service sees the secret)."""
    import segno  # drawn only when someone enrols, not imported at start-up

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
                                    title="Scan with your authenticator app")
    return out.getvalue().decode("utf-8")


def _valid_step(user: User, code: str) -> int | None:
    """Return the time step a code belongs to (±1 step of clock drift), or None; a code is used once."""
    code = "".join(code.split())
    if not user.totp_secret or not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(user.totp_secret)
    now = int(time.time())
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        step = totp.timecode(at)
        if secrets.compare_digest(totp.at(at),
                                  code) and (user.totp_last_step is None or step > user.totp_last_step):
            return step
    return None


def confirm_enrolment(session: Session, user: User, code: str) -> list[str]:
    """Turn the second factor on once the user typed a valid code; return fresh recovery codes (shown
    once)."""
    if user.has_totp:
        raise DomainError("a second factor is already set up")
    step = _valid_step(user, code)
    if step is None:
        raise DomainError("that code is not right: type the 6 digits your app shows now", field="code")
    user.totp_enabled_at = utcnow()
    user.totp_last_step = step
    return new_recovery_codes(session, user)


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode("utf-8")).hexdigest()


def new_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes; return them in clear (shown once, stored as hashes)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(user_id=user.id, code_hash=_code_hash(raw)))
    session.flush()
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    """Count the user's unused recovery codes."""
    return len(session.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                              RecoveryCode.used_at.is_(None))).all())


def verify(session: Session, user: User, code: str) -> str | None:
    """Check a second-factor code: 'totp' or 'recovery' when it is right (a recovery code is used up), else
    None."""
    step = _valid_step(user, code)
    if step is not None:
        user.totp_last_step = step
        session.flush()
        return "totp"
    row = session.scalar(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                    RecoveryCode.code_hash == _code_hash(code),
                                                    RecoveryCode.used_at.is_(None)))
    if row is None:
        return None
    row.used_at = utcnow()
    session.flush()
    return "recovery"


def remove(session: Session, user: User) -> None:
    """Turn the second factor off (its owner, or an admin for a lost device) and drop the recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()
