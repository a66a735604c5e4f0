"""Custody events form one keyed chain per sample; checkpoints seal the chain heads; nothing rewrites either.

Each event carries its place in its sample's chain (``seq``), the key epoch that sealed it, the MAC of the
previous event of the same sample and its own MAC. ``custody_chain`` holds each sample's head (locked while an
event is appended, so writers of different samples never wait for each other) and whether a checkpoint has
covered it yet. A checkpoint MACs the heads that changed since the previous checkpoint, chained to it; its
line in the anchor file (outside the database) pins the newest one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.accounts.models import User
from lims.core.db import Base, UTCDateTime

ACTIONS = (
    "collected", "missed", "received", "processed", "aliquoted", "derived", "pooled", "stored", "moved",
    "checked_out", "checked_in", "thawed", "shipped", "shipment_received", "consumed", "disposed",
    "label_printed", "quarantined", "released", "correction",
)


class CustodyEpoch(Base):
    """A custody key's period of use: events and checkpoints name the epoch whose key sealed them."""

    __tablename__ = "custody_epoch"
    __table_args__ = (CheckConstraint("number >= 1", name="number"),)

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # HMAC of a fixed text under the key: tells a wrong key file apart without revealing the key.
    fingerprint: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CustodyEvent(Base):
    """Who did what to which sample, when (UTC), from where to where, and why."""

    __tablename__ = "custody_event"
    __table_args__ = (
        CheckConstraint("action IN (" + ", ".join(repr(a) for a in ACTIONS) + ")", name="action"),
        CheckConstraint("seq >= 1", name="seq"),
        UniqueConstraint("sample_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    seq: Mapped[int] = mapped_column(Integer)  # place in the sample's chain: 1, 2, 3...
    # No foreign key to custody_epoch: every writer would lock that one row (FOR KEY SHARE), a global hot
    # spot; the MAC already proves the epoch (verify names an event whose epoch has no key).
    epoch: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    site_code: Mapped[str | None] = mapped_column(String(10))
    from_location: Mapped[str | None] = mapped_column(Text)
    to_location: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("custody_event.id"))
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))

    user: Mapped[User | None] = relationship()


class CustodyCheckpoint(Base):
    """A keyed seal over the chain heads that changed since the previous checkpoint, chained to it."""

    __tablename__ = "custody_checkpoint"
    __table_args__ = (
        CheckConstraint("number >= 1", name="number"),
        CheckConstraint("heads >= 0", name="heads"),
    )

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    epoch: Mapped[int] = mapped_column(ForeignKey("custody_epoch.number"))
    heads: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the covered heads, in sample order
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))


class CustodyCheckpointHead(Base):
    """One chain head as a checkpoint saw it.

    Written before the checkpoint row that seals it (in the same transaction), so it has no foreign key to it;
    verify checks that every checkpoint's heads hash to its digest.
    """

    __tablename__ = "custody_checkpoint_head"

    checkpoint_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sample_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))


class CustodyChain(Base):
    """A sample's chain head: locked while an event is appended; NULL checkpoint until a checkpoint covers
    it."""

    __tablename__ = "custody_chain"
    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq"),
        Index("ix_custody_chain_unanchored", "checkpoint_number", "sample_id"),
    )

    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))
    checkpoint_number: Mapped[int | None] = mapped_column(ForeignKey("custody_checkpoint.number"))
