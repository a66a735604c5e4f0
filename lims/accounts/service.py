"""Create users, check passwords, API tokens and electronic signatures.

Failed passwords are slowed by rate limits (:mod:`lims.accounts.limits`), never by locking the account.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lims.accounts import limits
from lims.accounts.models import ROLES, SIGNATURE_MEANINGS, ApiToken, Signature, User
from lims.accounts.passwords import MIN_LENGTH, UNUSABLE, check_password, hash_password, weakness
from lims.core import audit
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, Forbidden
from lims.core.uow import durable
from lims.studies.models import Site

MIN_PASSWORD_LENGTH = MIN_LENGTH


def require_acceptable_password(password: str, *, username: str = "", full_name: str = "") -> None:
    """Refuse a password that is too short, too long, common, breached or built on the user's name."""
    problem = weakness(password, username=username, full_name=full_name)
    if problem:
        raise DomainError(problem, field="password")


def sites_by_code(session: Session, site_codes: tuple[str, ...] | list[str]) -> list[Site]:
    """Return the sites with these codes, in order; refuse an unknown code."""
    sites = []
    for code in dict.fromkeys(c.strip().upper() for c in site_codes if c.strip()):
        site = session.scalar(select(Site).where(Site.code == code))
        if site is None:
            raise DomainError(f"unknown site {code!r}", field="sites")
        sites.append(site)
    return sites


def add_user(session: Session, *, username: str, password: str | None, role: str, full_name: str = "",
             site_codes: tuple[str, ...] | list[str] = (), email: str | None = None, strict: bool = False,
             must_change_password: bool = False, auth_source: str = "local",
             external_id: str | None = None) -> User:
    """Create a user with a hashed password, a role and site membership.

    ``strict`` applies the whole password policy (people choosing passwords); otherwise only the length is
    checked (demo and benchmark users). SSO users (``auth_source`` oidc or ldap) have no password here.
    """
    username = username.strip()
    if not username:
        raise DomainError("user name is empty", field="username")
    if role not in ROLES:
        raise DomainError(f"unknown role {role!r}; use one of {', '.join(ROLES)}", field="role")
    if auth_source == "local":
        if password is None or len(password) < MIN_PASSWORD_LENGTH:
            raise DomainError(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                              field="password")
        if strict:
            require_acceptable_password(password, username=username, full_name=full_name)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user name {username!r} is taken", field="username")
    user = User(username=username, full_name=full_name or username, role=role, email=email or None,
                password_hash=hash_password(password) if auth_source == "local" and password else UNUSABLE,
                sites=sites_by_code(session, site_codes), must_change_password=must_change_password,
                auth_source=auth_source, external_id=external_id)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"user name {username!r} is taken", field="username") from None
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the local user if the password is right and the account is active; None otherwise.

    Failures are counted by the rate limits of the login page, never by locking the account.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.auth_source != "local":
        check_password(None, password)  # the same work, so timing does not reveal which names exist
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user


def find_user(session: Session, username: str) -> User | None:
    """Return the user with this user name, or None."""
    return session.scalar(select(User).where(User.username == username.strip()))


TOKEN_PREFIX = "tb_"  # noqa: S105 - the visible prefix of every token, not a secret
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
    token = ApiToken(user_id=user.id, name=name.strip()[:100], prefix=secret[:10],
                     token_hash=_token_hash(secret),
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


def user_for_token(session: Session, secret: str, *,
                   where: str | None = None) -> tuple[User | None, str | None]:
    """Return the token's user, or (None, why) for an unknown, revoked or expired token.

    A refusal is audited even when the request then fails. A token's use is audited (and its last use
    stamped) at most once per ``TOKEN_USE_INTERVAL``, so that a script's reads stay reads.
    """
    limits.guard("RATELIMIT_TOKEN", limits.address(), what="API tokens from your address")
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret.strip())))
    problem = None
    if token is None:
        problem = "unknown API token"
    elif token.state != "active":
        problem = f"API token {token.prefix}… is {token.state}"
    elif not token.user.active:
        problem = "the token's user is deactivated"
    if problem is not None or token is None:
        limits.count_failure("RATELIMIT_TOKEN", limits.address())
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


def _signer_password_ok(user: User, password: str) -> bool:
    """Check a signer's password where it is kept: here, or in the LDAP directory for directory users."""
    if user.auth_source == "ldap" and user.external_id and has_app_context():
        from lims.accounts import directory

        if directory.enabled(current_app.config):
            return directory.check_password(user.external_id, password, current_app.config)
    return check_password(user.password_hash, password)


def sign(session: Session, user: User, *, password: str, meaning: str, record_type: str, record_id: Any,
         content: Any, statement: str) -> Signature:
    """Sign a record: the signer re-enters their password and states the meaning of the signature.

    Wrong passwords are limited per signer (``RATELIMIT_SIGNATURE``) and audited even when the request fails.
    """
    if meaning not in SIGNATURE_MEANINGS:
        raise DomainError(f"choose what the signature means: {', '.join(SIGNATURE_MEANINGS)}",
                          field="meaning")
    limits.guard("RATELIMIT_SIGNATURE", user.username, what="signature passwords")
    if not _signer_password_ok(user, password):
        limits.count_failure("RATELIMIT_SIGNATURE", user.username)
        audit.record_security(session, "signature_failed", user=user, detail=record_type)
        raise Forbidden("the password is wrong: the signature was not applied")
    signature = Signature(user_id=user.id, signer_name=user.full_name, meaning=meaning,
                          record_type=record_type,
                          record_id=str(record_id), record_hash=content_hash(content),
                          statement=statement[:500])
    session.add(signature)
    session.flush()
    return signature


def verify_signature(signature: Signature, content: Any) -> bool:
    """Tell whether a record still has the content that was signed."""
    return signature.record_hash == content_hash(content)


def signatures_for(session: Session, record_type: str, record_id: Any) -> list[Signature]:
    """Return a record's signatures, oldest first."""
    return list(session.scalars(select(Signature).where(
        Signature.record_type == record_type, Signature.record_id == str(record_id))
                                .order_by(Signature.signed_at)))
