"""Create users and check passwords (scrypt hashes, lockout after repeated failures)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from lims.accounts.models import ROLES, SIGNATURE_MEANINGS, ApiToken, Signature, User
from lims.core import audit
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, Forbidden
from lims.core.uow import durable
from lims.studies.models import Site

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


@cache
def _dummy_hash() -> str:
    return generate_password_hash("not a password")


def add_user(session: Session, *, username: str, password: str, role: str, full_name: str = "",
             site_codes: tuple[str, ...] | list[str] = ()) -> User:
    """Create a user with a hashed password, a role and site membership."""
    username = username.strip()
    if not username:
        raise DomainError("user name is empty", field="username")
    if role not in ROLES:
        raise DomainError(f"unknown role {role!r}; use one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user name {username!r} is taken", field="username")
    sites = []
    for code in site_codes:
        site = session.scalar(select(Site).where(Site.code == code))
        if site is None:
            raise DomainError(f"unknown site {code!r}", field="sites")
        sites.append(site)
    user = User(username=username, full_name=full_name or username, role=role,
                password_hash=generate_password_hash(password), sites=sites)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"user name {username!r} is taken", field="username") from None
    return user


def _count_failure(user_id: int) -> Callable[[Session], None]:
    """Return the bookkeeping of one failed password check (kept even when the request rolls back)."""
    def apply(session: Session) -> None:
        user = session.get(User, user_id)
        if user is None:
            return
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = utcnow() + LOCKOUT
            user.failed_logins = 0
        session.flush()
    return apply


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the user if the password is right and the account is usable; count failures."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        # Spend the same work as a real check so timing does not reveal which names exist.
        check_password_hash(_dummy_hash(), password)
        return None
    if user.locked_until is not None and user.locked_until > utcnow():
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        durable(session, _count_failure(user.id))
        return None
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
        session.flush()
    return user


def is_locked(user: User) -> bool:
    """Tell whether the account is temporarily locked after failed logins."""
    return user.locked_until is not None and user.locked_until > utcnow()


TOKEN_PREFIX = "tb_"
MAX_TOKEN_DAYS = 366
TOKEN_USE_INTERVAL = timedelta(minutes=1)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, user: User, *, name: str, days: int = 90) -> tuple[ApiToken, str]:
    """Create an API token; return it and the secret, which is shown this once and never stored."""
    if not name.strip():
        raise DomainError("give the token a name (what script or instrument uses it)", field="name")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise DomainError(f"a token lives 1 to {MAX_TOKEN_DAYS} days", field="days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:100], prefix=secret[:10], token_hash=_token_hash(secret),
                     expires_at=utcnow() + timedelta(days=days))
    session.add(token)
    session.flush()
    return token, secret


def _refused(problem: str, where: str | None) -> Callable[[Session], None]:
    def apply(session: Session) -> None:
        audit.record(session, "token_refused", detail=f"{problem} ({where})" if where else problem)
    return apply


def _token_used(token_id: int, where: str | None) -> Callable[[Session], None]:
    def apply(session: Session) -> None:
        token = session.get(ApiToken, token_id)
        if token is None:
            return
        token.last_used_at = utcnow()
        audit.record(session, "token_used", user=token.user, detail=where)
    return apply


def user_for_token(session: Session, secret: str, *, where: str | None = None) -> tuple[User | None, str | None]:
    """Return the token's user, or (None, why) for an unknown, revoked or expired token.

    A refusal is audited even when the request then fails. A token's use is audited (and its last use
    stamped) at most once per ``TOKEN_USE_INTERVAL``, so that a script's reads stay reads.
    """
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret.strip())))
    problem = None
    if token is None:
        problem = "unknown API token"
    elif token.state != "active":
        problem = f"API token {token.prefix}… is {token.state}"
    elif not token.user.active:
        problem = "the token's user is deactivated"
    if problem is not None or token is None:
        durable(session, _refused(problem or "unknown API token", where))
        return None, problem
    if token.last_used_at is None or utcnow() - token.last_used_at >= TOKEN_USE_INTERVAL:
        durable(session, _token_used(token.id, where))
    return token.user, None


def revoke_token(session: Session, token: ApiToken, *, by: User) -> None:
    """Revoke a token now (its owner or an admin)."""
    if token.user_id != by.id and by.role != "admin":
        raise DomainError("only the token's owner or an admin may revoke it")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()


def content_hash(content: Any) -> str:
    """Return the SHA-256 of a record's canonical JSON (what a signature binds to)."""
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def sign(session: Session, user: User, *, password: str, meaning: str, record_type: str, record_id: Any,
         content: Any, statement: str) -> Signature:
    """Sign a record: the signer re-enters their password and states the meaning of the signature."""
    if meaning not in SIGNATURE_MEANINGS:
        raise DomainError(f"choose what the signature means: {', '.join(SIGNATURE_MEANINGS)}", field="meaning")
    if not password or not check_password_hash(user.password_hash, password):
        durable(session, _count_failure(user.id))
        raise Forbidden("the password is wrong: the signature was not applied")
    signature = Signature(user_id=user.id, signer_name=user.full_name, meaning=meaning, record_type=record_type,
                          record_id=str(record_id), record_hash=content_hash(content), statement=statement[:500])
    session.add(signature)
    session.flush()
    return signature


def verify_signature(signature: Signature, content: Any) -> bool:
    """Tell whether a record still has the content that was signed."""
    return signature.record_hash == content_hash(content)


def signatures_for(session: Session, record_type: str, record_id: Any) -> list[Signature]:
    """Return a record's signatures, oldest first."""
    return list(session.scalars(select(Signature).where(
        Signature.record_type == record_type, Signature.record_id == str(record_id)).order_by(Signature.signed_at)))
