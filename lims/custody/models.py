"""Custody events form one hash chain; nothing updates or deletes an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.accounts.models import User
from lims.core.db import Base, UTCDateTime

ACTIONS = (
    "collected", "missed", "received", "processed", "aliquoted", "derived", "pooled", "stored", "moved",
    "checked_out", "checked_in", "thawed", "shipped", "shipment_received", "consumed", "disposed",
    "label_printed", "quarantined", "released", "correction",
)


class CustodyEvent(Base):
    """Who did what to which sample, when (UTC), from where to where, and why."""

    __tablename__ = "custody_event"
    __table_args__ = (
        CheckConstraint("action IN (" + ", ".join(repr(a) for a in ACTIONS) + ")", name="action"),
        CheckConstraint("seq >= 1", name="seq"),
        Index("ix_custody_event_sample_seq", "sample_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    site_code: Mapped[str | None] = mapped_column(String(10))
    from_location: Mapped[str | None] = mapped_column(Text)
    to_location: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("custody_event.id"))
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    user: Mapped[User | None] = relationship()


class CustodyHead(Base):
    """The chain's last link: one row, locked while an event is appended."""

    __tablename__ = "custody_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
