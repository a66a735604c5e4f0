"""Password hashing and the password policy (length, and not a common or known-breached password)."""

from __future__ import annotations

from functools import cache

from flask import current_app, has_app_context
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 200
DEFAULT_METHOD = "scrypt"
# A hash nobody's password matches: for accounts whose password lives elsewhere (SSO) or was withdrawn.
UNUSABLE = "!"


def _method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD",
                                  DEFAULT_METHOD) if has_app_context() else DEFAULT_METHOD


def hash_password(password: str) -> str:
    """Hash a password with the configured method (scrypt unless the tests ask for a cheap one)."""
    return generate_password_hash(password, method=_method())


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not a password", method=method)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Tell whether ``password`` matches; spend the same work when there is no usable hash."""
    if not stored_hash or stored_hash == UNUSABLE:
        check_password_hash(_dummy_hash(_method()), password or "")
        return False
    return bool(password) and check_password_hash(stored_hash, password)


def weakness(password: str, *, username: str = "", full_name: str = "") -> str | None:
    """Say why ``password`` is not acceptable, or None.

    Besides the length, zxcvbn rejects passwords from its lists of common and breached passwords, words,
    names and keyboard patterns, and anything built on the user's own name (score below 3 of 4).
    """
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    from zxcvbn import zxcvbn

    result = zxcvbn(password, user_inputs=[v for v in (username, full_name, "trialbank") if v])
    if any(m.get("dictionary_name") == "passwords" and m.get("token", "").lower() == password.lower()
           for m in result.get("sequence", [])):
        return "this password is in lists of common or breached passwords; choose another"
    if result["score"] < 3:
        hint = (result.get("feedback") or {}).get("warning") or "it is too easy to guess"
        return (f"this password is too weak ({hint.rstrip('.').lower()}); use a longer phrase of unrelated "
                "words")
    return None
