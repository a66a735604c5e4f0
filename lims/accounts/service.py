"""Create users and check passwords (scrypt hashes, lockout after repeated failures)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from lims.accounts.models import ROLES, User
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError
from lims.studies.models import Site

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10


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


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the user if the password is right and the account is usable; count failures."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        # Spend the same work as a real check so timing does not reveal which names exist.
        check_password_hash(generate_password_hash("x"), password)
        return None
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return None
    if not user.active or not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.flush()
        return None
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


def is_locked(user: User) -> bool:
    """Tell whether the account is temporarily locked after failed logins."""
    return user.locked_until is not None and user.locked_until > utcnow()
