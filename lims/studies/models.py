"""Study definition tables, filled from the protocol file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base

ANCHORS = ("enrolment", "rt_start", "eot", "cre1", "randomisation", "surgery", "event")
SAMPLE_KINDS = ("fluid", "solid", "derivative")
# The raw pre-analytical values a sample may carry (Sample columns); a protocol names the ones each sample
# type requires (``preanalytics``), and the SPREC code is derived from them.
PREANALYTICAL_FIELDS = (
    "collected_at", "processing_started_at", "precentrifugation_temp_c", "spun", "spin1_g", "spin1_min",
    "spin1_temp_c", "spin1_brake", "spin2_done", "spin2_g", "spin2_min", "spin2_temp_c", "spin2_brake",
    "last_spin_ended_at", "postspin_temp_c", "frozen_at", "storage_temp_c", "storage_container",
    "storage_via_minus80",
    "collection_type", "clamped_at", "excised_at", "fixation_started_at", "fixation_ended_at",
    "fixation_type",
    "haemolysed",
)


class Study(Base):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    protocol_version: Mapped[str] = mapped_column(String(40))
    protocol_sha256: Mapped[str] = mapped_column(String(64))
    accession_prefix: Mapped[str] = mapped_column(String(4))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    sites: Mapped[list[StudySite]] = relationship(back_populates="study", cascade="all, delete-orphan")
    strata: Mapped[list[Stratum]] = relationship(back_populates="study", cascade="all, delete-orphan")
    timepoints: Mapped[list[TimePoint]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="TimePoint.order"
    )
    sample_types: Mapped[list[SampleType]] = relationship(back_populates="study",
                                                          cascade="all, delete-orphan")
    containers: Mapped[list[ContainerType]] = relationship(back_populates="study",
                                                           cascade="all, delete-orphan")


class Site(Base):
    """An institution that enrols participants and keeps samples; may serve several studies."""

    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class StudySite(Base):
    __tablename__ = "study_site"
    __table_args__ = (UniqueConstraint("study_id", "site_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    enrolment_weight: Mapped[float] = mapped_column(default=1.0)

    study: Mapped[Study] = relationship(back_populates="sites")
    site: Mapped[Site] = relationship()


class Stratum(Base):
    __tablename__ = "stratum"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    randomised: Mapped[bool] = mapped_column(default=False)

    study: Mapped[Study] = relationship(back_populates="strata")


class SampleType(Base):
    __tablename__ = "sample_type"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        CheckConstraint("kind IN ('fluid', 'solid', 'derivative')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))
    sprec_type: Mapped[str | None] = mapped_column(String(3))
    unit: Mapped[str] = mapped_column(String(12))
    retention_years: Mapped[int | None] = mapped_column(Integer)
    # Long-term storage range (°C) the protocol allows for this type, e.g. -90 to -60 for ctDNA plasma.
    storage_min_c: Mapped[float | None] = mapped_column(Float)
    storage_max_c: Mapped[float | None] = mapped_column(Float)
    # What cannot be pipetted out of a tube of this type (re-aliquoting), in dead_volume_unit.
    dead_volume: Mapped[float | None] = mapped_column(Float)
    dead_volume_unit: Mapped[str | None] = mapped_column(String(12))
    # Pre-analytical fields that must be recorded when this type is made (names from PREANALYTICAL_FIELDS).
    preanalytics: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")

    study: Mapped[Study] = relationship(back_populates="sample_types")


class ContainerType(Base):
    __tablename__ = "container_type"
    __table_args__ = (UniqueConstraint("study_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    sprec_code: Mapped[str | None] = mapped_column(String(3))
    # What stays in the primary container and cannot be taken out (in dead_volume_unit).
    dead_volume: Mapped[float | None] = mapped_column(Float)
    dead_volume_unit: Mapped[str | None] = mapped_column(String(12))

    study: Mapped[Study] = relationship(back_populates="containers")


class TimePoint(Base):
    """A visit of the schedule: target day and window relative to its anchor."""

    __tablename__ = "timepoint"
    __table_args__ = (
        UniqueConstraint("study_id", "code"),
        CheckConstraint(
            "anchor IN ('enrolment', 'rt_start', 'eot', 'cre1', 'randomisation', 'surgery', 'event')",
            name="anchor",
        ),
        CheckConstraint("window_before >= 0 AND window_after >= 0", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    order: Mapped[int] = mapped_column(Integer)
    anchor: Mapped[str] = mapped_column(String(20))
    day: Mapped[int] = mapped_column(Integer)
    window_before: Mapped[int] = mapped_column(Integer, default=0)
    window_after: Mapped[int] = mapped_column(Integer, default=0)
    cre_number: Mapped[int | None] = mapped_column(Integer)
    strata: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")

    study: Mapped[Study] = relationship(back_populates="timepoints")
    kit: Mapped[list[KitItem]] = relationship(
        back_populates="timepoint", cascade="all, delete-orphan", order_by="KitItem.id"
    )

    def applies_to(self, stratum: str | None) -> bool:
        """Tell whether this visit is scheduled for a participant in ``stratum``."""
        return not self.strata or (stratum is not None and stratum in self.strata)


class KitItem(Base):
    """One expected primary sample at a time point, and the derivatives made from it."""

    __tablename__ = "kit_item"
    __table_args__ = (CheckConstraint("volume > 0", name="volume"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    timepoint_id: Mapped[int] = mapped_column(ForeignKey("timepoint.id", ondelete="CASCADE"))
    sample_type_id: Mapped[int] = mapped_column(ForeignKey("sample_type.id"))
    container_type_id: Mapped[int | None] = mapped_column(ForeignKey("container_type.id"))
    volume: Mapped[float]
    unit: Mapped[str] = mapped_column(String(12))
    yields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    processing: Mapped[str] = mapped_column(Text, default="")
    optional: Mapped[bool] = mapped_column(default=False)

    timepoint: Mapped[TimePoint] = relationship(back_populates="kit")
    sample_type: Mapped[SampleType] = relationship()
    container_type: Mapped[ContainerType | None] = relationship()

    @property
    def label(self) -> str:
        """Describe the tube for a checklist, e.g. 'Whole blood in Streck cell-free DNA BCT'."""
        container = f" in {self.container_type.name}" if self.container_type else ""
        return f"{self.sample_type.name}{container}"
