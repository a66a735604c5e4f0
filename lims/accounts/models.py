"""Users with hashed passwords, one role, and the sites they work for."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow
from lims.studies.models import Site

ROLES = ("admin", "lab_manager", "technician", "data_manager", "researcher", "pi", "monitor")

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
        CheckConstraint("failed_logins >= 0", name="failed_logins"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(secondary=user_site, order_by=Site.code)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    @property
    def site_codes(self) -> list[str]:
        """Return the codes of the user's sites."""
        return [s.code for s in self.sites]

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


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
