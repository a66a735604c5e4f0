"""User administration: create, change, deactivate, reset a password; and a user's own password change.

Privilege changes (role, sites, reactivation) are signed electronically by the administrator. Every change
is audited with its old and new values (columns by the data-change listener, sites and security actions
by explicit events here). Deactivating a user ends their sessions and API tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.accounts import sessions
from lims.accounts.models import ROLES, PasswordReset, Signature, User
from lims.accounts.passwords import UNUSABLE, check_password, hash_password
from lims.accounts.service import add_user, require_acceptable_password, sign, sites_by_code
from lims.core import audit
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, Forbidden, NotFound

RESET_HOURS = 24


def list_users(session: Session, *, q: str = "", active: bool | None = None) -> list[User]:
    """Return users by user name, optionally filtered by a name fragment and by state."""
    stmt = select(User).order_by(User.username)
    if q.strip():
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(User.username).like(like) | func.lower(User.full_name).like(like))
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    return list(session.scalars(stmt))


def get_user(session: Session, username: str) -> User:
    """Return the user with this user name or raise NotFound."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def create_user(session: Session, *, by: User | None, username: str, role: str, password: str,
                full_name: str = "", site_codes: list[str] | tuple[str, ...] = (), email: str | None = None,
                must_change_password: bool = True) -> User:
    """Create a local user with a first password they must change at their first login."""
    user = add_user(session, username=username, password=password, role=role, full_name=full_name,
                    site_codes=site_codes, email=email, strict=True,
                    must_change_password=must_change_password)
    audit.record(session, "user_created", user=by, object_type="user", object_id=user.id,
                 detail=user.username, changes={"new": _privileges(user)})
    return user


def _privileges(user: User) -> dict[str, Any]:
    return {"role": user.role, "sites": user.site_codes, "active": user.active}


@dataclass(frozen=True)
class Change:
    """What an administrator asks to change; None leaves a field as it is."""

    full_name: str | None = None
    email: str | None = None
    role: str | None = None
    site_codes: list[str] | None = None
    active: bool | None = None


def _guard_admins(session: Session, user: User, *, by: User | None, role: str, active: bool) -> None:
    if by is not None and by.id == user.id and (role != user.role or not active):
        raise Forbidden("you cannot change your own role or deactivate yourself; ask another administrator")
    if user.role == "admin" and user.active and (role != "admin" or not active):
        others = session.scalar(select(func.count()).select_from(User).where(
            User.role == "admin", User.active.is_(True), User.id != user.id))
        if not others:
            raise Conflict("this is the last active administrator; make someone else an administrator first")


def update_user(session: Session, user: User, change: Change, *, by: User | None, password: str | None = None,
                meaning: str = "approved") -> Signature | None:
    """Apply an administrator's change; sign it when it grants or moves privileges. Return the signature."""
    role = change.role if change.role is not None else user.role
    if role not in ROLES:
        raise DomainError(f"unknown role {role!r}; use one of {', '.join(ROLES)}", field="role")
    sites = sites_by_code(session, change.site_codes) if change.site_codes is not None else list(user.sites)
    active = change.active if change.active is not None else user.active
    _guard_admins(session, user, by=by, role=role, active=active)
    old = _privileges(user)
    new: dict[str, Any] = {"role": role, "sites": [s.code for s in sorted(sites, key=lambda s: s.code)],
                           "active": active}
    signature = None
    if new["role"] != old["role"] or new["sites"] != old["sites"] or (active and not user.active):
        if by is None:
            raise Forbidden("a change of role, sites or a reactivation is signed: name the administrator who "
                            "signs")
        signature = sign(session, by, password=password or "", meaning=meaning, record_type="user_privileges",
                         record_id=user.username, content={"user": user.username, **new},
                         statement=f"I {meaning} giving {user.username} the role {role.replace('_', ' ')}"
                                   f"{' at ' + ', '.join(new['sites']) if new['sites'] else ''}"
                                   f"{'' if active else ' (deactivated)'}")
    if change.full_name is not None and change.full_name.strip():
        user.full_name = change.full_name.strip()[:200]
    if change.email is not None:
        user.email = change.email.strip() or None
    user.role, user.sites = role, sorted(sites, key=lambda s: s.code)
    if not active and user.active:
        deactivate_user(session, user, by=by)
    elif active and not user.active:
        user.active, user.deactivated_at = True, None
    session.flush()
    if new != old:
        audit.record(session, "user_privileges_changed", user=by, object_type="user", object_id=user.id,
                     detail=f"{user.username}" + (f" (signature {signature.id})" if signature else ""),
                     changes={k: {"old": old[k], "new": new[k]} for k in new if old[k] != new[k]})
    return signature


def deactivate_user(session: Session, user: User, *, by: User | None) -> int:
    """Deactivate a leaver: their sessions and API tokens stop at once. Return how many sessions ended."""
    if by is not None and by.id == user.id:
        raise Forbidden("you cannot deactivate yourself; ask another administrator")
    if user.active:
        _guard_admins(session, user, by=by, role=user.role, active=False)
    user.active, user.deactivated_at = False, user.deactivated_at or utcnow()
    ended = sessions.revoke_all(session, user, tokens=True)
    session.flush()
    audit.record(session, "user_deactivated", user=by, object_type="user", object_id=user.id,
                 detail=f"{user.username}: {ended} session(s) and every API token ended")
    return ended


def _reset_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_reset(session: Session, user: User, *, by: User | None, hours: int = RESET_HOURS) -> str:
    """Withdraw the user's password and return a one-time reset token (the link is handed over by the
    admin)."""
    if user.auth_source != "local":
        raise DomainError(f"{user.username} logs in through {user.auth_source.upper()}: their password is "
                          "kept by the identity provider")
    if not 1 <= hours <= 24 * 14:
        raise DomainError("a reset link lives 1 hour to 14 days", field="hours")
    token = secrets.token_urlsafe(32)
    now = utcnow()
    for pending in session.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id,
                                                               PasswordReset.used_at.is_(None))):
        pending.used_at = now  # an older link stops working
    session.add(PasswordReset(user_id=user.id, token_hash=_reset_hash(token),
                              created_by_id=getattr(by, "id", None),
                              expires_at=now + timedelta(hours=hours)))
    user.password_hash, user.must_change_password = UNUSABLE, False
    sessions.revoke_all(session, user)
    session.flush()
    audit.record(session, "password_reset_issued", user=by, object_type="user", object_id=user.id,
                 detail=f"{user.username}: link valid {hours} h; password withdrawn, sessions ended")
    return token


def reset_for(session: Session, token: str) -> PasswordReset:
    """Return the pending reset of a link's token, or raise NotFound (unknown, used or expired)."""
    row = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _reset_hash(token.strip())))
    if row is None or row.used_at is not None or row.expires_at <= utcnow() or not row.user.active:
        raise NotFound("this password-reset link is unknown, used or expired; ask an administrator for a new "
                       "one")
    return row


def use_reset(session: Session, token: str, new_password: str) -> User:
    """Set a new password through a one-time link; the link is used up."""
    row = reset_for(session, token)
    user = row.user
    require_acceptable_password(new_password, username=user.username, full_name=user.full_name)
    user.password_hash, user.password_changed_at, user.must_change_password = (
        hash_password(new_password), utcnow(), False)
    row.used_at = utcnow()
    session.flush()
    audit.record(session, "password_reset_used", user=user, object_type="user", object_id=user.id)
    return user


def change_password(session: Session, user: User, *, current: str, new: str,
                    keep_sid: str | None = None) -> int:
    """Change one's own password (the current one is required); other sessions end. Return how many ended."""
    if user.auth_source != "local":
        raise DomainError(f"your password is kept by your organisation's {user.auth_source.upper()} login")
    if not check_password(user.password_hash, current):
        audit.record_security(session, "password_change_failed", user=user)
        raise Forbidden("the current password is wrong", field="current_password")
    if new == current:
        raise DomainError("choose a password different from the current one", field="new_password")
    require_acceptable_password(new, username=user.username, full_name=user.full_name)
    user.password_hash, user.password_changed_at, user.must_change_password = hash_password(
        new), utcnow(), False
    ended = sessions.revoke_all(session, user, keep_sid=keep_sid)
    session.flush()
    audit.record(session, "password_changed", user=user, object_type="user", object_id=user.id,
                 detail=f"{ended} other session(s) ended")
    return ended
