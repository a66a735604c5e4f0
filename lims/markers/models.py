"""Marker catalogue, marker results (with re-measurements), import runs and export runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow

CATEGORIES = ("ctDNA", "IHC", "TMB", "TIL", "cytokine", "microbiome_taxon", "haematology", "tumour_marker",
              "other")
TRANSFORMS = ("none", "log2", "log10", "clr")
QUALIFIERS = ("<LOD", ">ULOQ", "NA")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Marker(Base):
    """A measurable marker: unit, assay, specimen types, limits and its default analysis transform."""

    __tablename__ = "marker"
    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(_in("transform", TRANSFORMS), name="transform"),
        CheckConstraint("lod IS NULL OR lod >= 0", name="lod"),
        CheckConstraint("lloq IS NULL OR lod IS NULL OR lloq >= lod", name="lloq_above_lod"),
        CheckConstraint("uloq IS NULL OR lloq IS NULL OR uloq > lloq", name="uloq_above_lloq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    assay: Mapped[str] = mapped_column(String(200), default="")
    platform: Mapped[str] = mapped_column(String(200), default="")
    specimen_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    lod: Mapped[float | None] = mapped_column(Float)
    lloq: Mapped[float | None] = mapped_column(Float)
    uloq: Mapped[float | None] = mapped_column(Float)
    transform: Mapped[str] = mapped_column(String(10), default="none")
    description: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MarkerImportRun(Base):
    """One accepted results file: who imported it, when, its hash and how many results it added."""

    __tablename__ = "marker_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    layout: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    results: Mapped[int] = mapped_column(Integer, default=0)
    remeasurements: Mapped[int] = mapped_column(Integer, default=0)
    converted: Mapped[int] = mapped_column(Integer, default=0)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MarkerResult(Base):
    """One measured value of a marker on a sample, in the catalogue's unit (the lab's original kept)."""

    __tablename__ = "marker_result"
    __table_args__ = (
        UniqueConstraint("sample_id", "marker_id", "replicate"),
        CheckConstraint("qualifier IS NULL OR " + _in("qualifier", QUALIFIERS), name="qualifier"),
        CheckConstraint("replicate >= 1", name="replicate"),
        CheckConstraint("value IS NOT NULL OR qualifier IS NOT NULL", name="value_or_qualifier"),
        Index("ix_marker_result_marker_sample", "marker_id", "sample_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    marker_id: Mapped[int] = mapped_column(ForeignKey("marker.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("marker_import.id"), index=True)
    value: Mapped[float | None] = mapped_column(Float)
    qualifier: Mapped[str | None] = mapped_column(String(6))
    original_value: Mapped[float | None] = mapped_column(Float)
    original_unit: Mapped[str | None] = mapped_column(String(20))
    replicate: Mapped[int] = mapped_column(Integer, default=1)
    run_id: Mapped[str | None] = mapped_column(String(60))
    batch_id: Mapped[str | None] = mapped_column(String(60))
    plate_id: Mapped[str | None] = mapped_column(String(60))
    assay_date: Mapped[date | None] = mapped_column(Date)
    operator: Mapped[str | None] = mapped_column(String(80))

    marker: Mapped[Marker] = relationship()

    @property
    def remeasurement(self) -> bool:
        """Tell whether this result repeats an earlier measurement of the same marker on the same sample."""
        return self.replicate > 1


class ExportRun(Base):
    """Audit record of a dataset export: who, when, the full query, file hashes and row counts."""

    __tablename__ = "export_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    by_username: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    query: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    row_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    excluded: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    software_version: Mapped[str] = mapped_column(String(40))
    dfs_variant: Mapped[str] = mapped_column(String(1))
