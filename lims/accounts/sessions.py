"""Browser sessions kept in the database, so that logging out elsewhere, a password change or a
deactivation ends them at once: the cookie carries a random id, the table its hash and whether it is
revoked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from lims.accounts.models import ApiToken, User, UserSession
from lims.core.db import utcnow

SEEN_INTERVAL = timedelta(minutes=5)  # how often a session's last use is written (reads stay mostly reads)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start_session(session: Session, user: User, *, method: str, remote_addr: str | None = None,
                  user_agent: str | None = None) -> str:
    """Record a new login of ``user``; return the secret id the browser's cookie keeps."""
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, sid_hash=_hash(sid), method=method, remote_addr=remote_addr,
                            user_agent=(user_agent or "")[:200] or None))
    session.flush()
    return sid


def session_for(session: Session, sid: str | None, *, idle: timedelta | None = None) -> UserSession | None:
    """Return the live session of this secret id with an active user, or None (unknown, revoked, idle)."""
    if not sid:
        return None
    row = session.scalar(select(UserSession).join(User, User.id == UserSession.user_id)
                         .where(UserSession.sid_hash == _hash(sid), UserSession.revoked_at.is_(None),
                                User.active.is_(True)))
    if row is None:
        return None
    now = utcnow()
    if idle is not None and now - row.last_seen_at > idle + SEEN_INTERVAL:
        return None
    if now - row.last_seen_at >= SEEN_INTERVAL:
        row.last_seen_at = now
    return row


def end_session(session: Session, sid: str | None) -> None:
    """Revoke the session of this secret id (logging out)."""
    if sid:
        session.execute(update(UserSession).where(UserSession.sid_hash == _hash(sid),
                                                  UserSession.revoked_at.is_(None)).values(revoked_at=utcnow()))


def live_sessions(session: Session, user: User, *, idle: timedelta | None = None) -> list[UserSession]:
    """Return the user's sessions that still work, newest first."""
    stmt = (select(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.last_seen_at.desc()))
    if idle is not None:
        stmt = stmt.where(UserSession.last_seen_at > utcnow() - idle - SEEN_INTERVAL)
    return list(session.scalars(stmt))


def is_current(row: UserSession, sid: str | None) -> bool:
    """Tell whether ``row`` is the session of this secret id."""
    return bool(sid) and row.sid_hash == _hash(sid or "")


def revoke_session(session: Session, row: UserSession, *, by: User) -> None:
    """Revoke one session: its owner or an admin."""
    from lims.core.errors import Forbidden

    if row.user_id != by.id and by.role != "admin":
        raise Forbidden("only the session's owner or an admin may end it")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    session.flush()


def revoke_all(session: Session, user: User, *, keep_sid: str | None = None, tokens: bool = False) -> int:
    """Revoke every session of ``user`` (but the one of ``keep_sid``), and with ``tokens`` every API token."""
    now = utcnow()
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if keep_sid:
        stmt = stmt.where(UserSession.sid_hash != _hash(keep_sid))
    result = session.execute(stmt.values(revoked_at=now))
    assert isinstance(result, CursorResult)  # an UPDATE answers with a cursor result
    ended = result.rowcount or 0
    if tokens:
        session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                        .values(revoked_at=now))
    return ended
