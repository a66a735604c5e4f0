"""Users with hashed passwords, one role, and the sites they work for; their sessions, tokens and second
factor."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow
from lims.studies.models import Site

ROLES = ("admin", "lab_manager", "technician", "data_manager", "researcher", "pi", "monitor")
# Where a user's identity is checked: Trialbank's own password, an OpenID Connect provider, or an LDAP
# directory.
AUTH_SOURCES = ("local", "oidc", "ldap")

user_site = Table(
    "user_site",
    Base.metadata,
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint(
            "role IN ('admin', 'lab_manager', 'technician', 'data_manager', 'researcher', 'pi', 'monitor')",
            name="role",
        ),
        CheckConstraint("auth_source IN ('local', 'oidc', 'ldap')", name="auth_source"),
        UniqueConstraint("auth_source", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str | None] = mapped_column(String(200))
    auth_source: Mapped[str] = mapped_column(String(10), default="local", server_default="local")
    # The identity provider's stable id: "issuer|sub" for OpenID Connect, the entry's DN for LDAP.
    external_id: Mapped[str | None] = mapped_column(String(500))
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code is accepted once (no replay)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sites: Mapped[list[Site]] = relationship(secondary=user_site, order_by=Site.code)

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def site_codes(self) -> list[str]:
        """Return the codes of the user's sites."""
        return [s.code for s in self.sites]

    @property
    def has_totp(self) -> bool:
        """Tell whether the user has a confirmed second factor."""
        return self.totp_enabled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class UserSession(Base):
    """A login in a browser: the cookie holds a random id, the table holds its hash, so it can be revoked."""

    __tablename__ = "user_session"
    __table_args__ = (CheckConstraint("method IN ('password', 'oidc', 'ldap')", name="method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app (stored as a SHA-256 hash)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordReset(Base):
    """A one-time link an administrator hands to a user to set a new password (stored as a hash)."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class RateLimitCounter(Base):
    """One fixed-window counter of the rate limits (see lims.accounts.limits), shared by every worker."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # seconds since the epoch


class ApiToken(Base):
    """A token for scripts and instruments: shown once, stored as a SHA-256 hash, revocable, expiring."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def state(self) -> str:
        """Return 'active', 'revoked' or 'expired'."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "active"


SIGNATURE_MEANINGS = ("approved", "reviewed", "performed")


class Signature(Base):
    """An electronic signature (21 CFR 11.50): who, when, meaning, what was signed and its hash."""

    __tablename__ = "signature"
    __table_args__ = (
        CheckConstraint("meaning IN ('approved', 'reviewed', 'performed')", name="meaning"),
        Index("ix_signature_record", "record_type", "record_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    meaning: Mapped[str] = mapped_column(String(20))
    record_type: Mapped[str] = mapped_column(String(60))
    record_id: Mapped[str] = mapped_column(String(60))
    record_hash: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(String(500))

    user: Mapped[User] = relationship()
