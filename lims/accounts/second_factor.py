"""The second factor's operations for its owner and for an administrator (a lost phone).

Each checks what it must (the owner's password, a role that must keep a second factor) and leaves its audit
record, so a page only picks what to show. The TOTP and recovery-code mechanics are in :mod:`totp`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lims.accounts import totp
from lims.accounts.models import User
from lims.accounts.passwords import check_password
from lims.core import audit
from lims.core.errors import DomainError


def start(session: Session, user: User) -> None:
    """Make a new secret for the user's authenticator app (on once :func:`enable` confirms a code)."""
    totp.begin_enrolment(session, user)


def enable(session: Session, user: User, code: str) -> list[str]:
    """Turn the second factor on with a code from the app; return the new recovery codes (shown once)."""
    codes = totp.confirm_enrolment(session, user, code)
    audit.record(session, "second_factor_enabled", user=user, object_type="user", object_id=user.id)
    return codes


def _owner_confirms(session: Session, user: User, password: str) -> None:
    # A local account types its password again; a wrong one is kept in the security log even though the
    # request rolls back. (LDAP and SSO accounts have no password here.)
    if user.auth_source == "local" and not check_password(user.password_hash, password):
        audit.record_security(session, "second_factor_change_refused", user=user)
        raise DomainError("the password is wrong")


def remove_own(session: Session, user: User, password: str) -> None:
    """The owner turns the second factor off (not allowed for roles that must use one)."""
    _owner_confirms(session, user, password)
    if totp.required_for(user):
        raise DomainError("your role must use a second factor; set up the new device first by asking an "
                          "administrator to remove the old one")
    totp.remove(session, user)
    audit.record(session, "second_factor_removed", user=user, object_type="user", object_id=user.id)


def remove_for(session: Session, user: User, *, by: User) -> None:
    """An administrator removes a user's second factor (a lost phone); they set up a new one at next login."""
    totp.remove(session, user)
    audit.record(session, "second_factor_removed", user=by, object_type="user", object_id=user.id,
                 detail=f"{user.username}, by an administrator")


def renew_recovery_codes(session: Session, user: User, password: str) -> list[str]:
    """The owner replaces their recovery codes; return the new ones (shown once)."""
    _owner_confirms(session, user, password)
    codes = totp.new_recovery_codes(session, user)
    audit.record(session, "recovery_codes_renewed", user=user, object_type="user", object_id=user.id)
    return codes
