"""Samples: primary tubes, aliquots and derivatives, with raw pre-analytical values."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow
from lims.participants.models import Participant, Visit
from lims.studies.models import ContainerType, SampleType, Site

STATUSES = (
    "missed",        # expected by the kit but not collected (no accession ID)
    "collected",     # registered at the bench
    "received",      # arrived in the lab (scanned in)
    "in_storage",
    "checked_out",
    "in_transit",
    "consumed",
    "disposed",
    "quarantined",   # consent withdrawn: no use, no shipment
)
DERIVATIONS = ("primary", "aliquot", "derivative", "pool")
UNITS = ("ml", "ul", "mg", "g", "ug", "ng", "cells", "blocks", "slides")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Sample(Base):
    """A physical sample; its lineage is a tree through ``parent_id`` (pools through PoolMember)."""

    __tablename__ = "sample"
    __table_args__ = (
        ForeignKeyConstraint(["participant_id", "study_id"], ["participant.id", "participant.study_id"]),
        ForeignKeyConstraint(["visit_id", "participant_id"], ["visit.id", "visit.participant_id"]),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("derivation", DERIVATIONS), name="derivation"),
        CheckConstraint(_in("unit", UNITS), name="unit"),
        CheckConstraint("status = 'missed' OR accession IS NOT NULL", name="accession_unless_missed"),
        CheckConstraint("status != 'missed' OR missed_reason IS NOT NULL", name="missed_has_reason"),
        CheckConstraint("quantity IS NULL OR quantity >= 0", name="quantity"),
        CheckConstraint("initial_quantity IS NULL OR initial_quantity >= 0", name="initial_quantity"),
        CheckConstraint("freeze_thaw_count >= 0", name="freeze_thaw_count"),
        CheckConstraint("(derivation = 'primary') = (parent_id IS NULL)", name="parent_unless_primary"),
        Index("ix_sample_participant_visit", "participant_id", "visit_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    accession: Mapped[str | None] = mapped_column(String(20), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    participant_id: Mapped[int] = mapped_column(index=True)
    visit_id: Mapped[int | None] = mapped_column()
    kit_item_id: Mapped[int | None] = mapped_column(ForeignKey("kit_item.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"), index=True)
    sample_type_id: Mapped[int] = mapped_column(ForeignKey("sample_type.id"))
    container_type_id: Mapped[int | None] = mapped_column(ForeignKey("container_type.id"))
    # The site that holds the tube now (collected there, stored there, or received there in a shipment).
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    derivation: Mapped[str] = mapped_column(String(12), default="primary")
    status: Mapped[str] = mapped_column(String(12), default="collected", index=True)
    quantity: Mapped[float | None] = mapped_column(Float)
    initial_quantity: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))
    freeze_thaw_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_reason: Mapped[str | None] = mapped_column(Text)
    haemolysed: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Raw pre-analytical values (the SPREC code is derived from these, never typed in).
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    precentrifugation_temp_c: Mapped[float | None] = mapped_column(Float)
    spun: Mapped[bool | None]
    spin1_g: Mapped[float | None] = mapped_column(Float)
    spin1_min: Mapped[float | None] = mapped_column(Float)
    spin1_temp_c: Mapped[float | None] = mapped_column(Float)
    spin1_brake: Mapped[bool | None]
    spin2_done: Mapped[bool | None]
    spin2_g: Mapped[float | None] = mapped_column(Float)
    spin2_min: Mapped[float | None] = mapped_column(Float)
    spin2_temp_c: Mapped[float | None] = mapped_column(Float)
    spin2_brake: Mapped[bool | None]
    last_spin_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postspin_temp_c: Mapped[float | None] = mapped_column(Float)
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    storage_temp_c: Mapped[float | None] = mapped_column(Float)
    storage_container: Mapped[str | None] = mapped_column(String(12))
    storage_via_minus80: Mapped[bool | None]
    collection_type: Mapped[str | None] = mapped_column(String(3))
    clamped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    excised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixation_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixation_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fixation_type: Mapped[str | None] = mapped_column(String(3))

    participant: Mapped[Participant] = relationship(foreign_keys=[participant_id, study_id], viewonly=True)
    visit: Mapped[Visit | None] = relationship(foreign_keys=[visit_id, participant_id], viewonly=True)
    site: Mapped[Site] = relationship()
    sample_type: Mapped[SampleType] = relationship()
    container_type: Mapped[ContainerType | None] = relationship()
    parent: Mapped[Sample | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Sample]] = relationship(back_populates="parent", order_by="Sample.id")

    def __repr__(self) -> str:
        return f"<Sample {self.accession or '(missed)'} {self.status}>"


class SampleSite(Base):
    """A site that holds or held a sample: it may see the sample from then on (see lims.access)."""

    __tablename__ = "sample_site"

    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True, index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PoolMember(Base):
    """A sample that went into a pool (the pool's lineage has several parents)."""

    __tablename__ = "pool_member"

    pool_id: Mapped[int] = mapped_column(ForeignKey("sample.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), primary_key=True)
    quantity: Mapped[float | None] = mapped_column(Float)


class AccessionCounter(Base):
    """The last serial number used for a study's accession IDs (locked while IDs are issued)."""

    __tablename__ = "accession_counter"

    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class DisposalRequest(Base):
    """A request to dispose of a sample; a lab manager approves it with an electronic signature."""

    __tablename__ = "disposal_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="decided"),
        Index("ix_disposal_request_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signature.id"))

    sample: Mapped[Sample] = relationship()
