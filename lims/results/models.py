"""Saved analysis runs: who ran what on which data, with which software, and what came out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lims.core.db import Base, UTCDateTime, utcnow


class AnalysisRun(Base):
    """One association screen: parameters, SHA-256 of the input frame, software version and result table."""

    __tablename__ = "analysis_run"
    __table_args__ = (
        CheckConstraint("length(dataset_sha256) = 64", name="sha256"),
        CheckConstraint("n_markers >= 0", name="n_markers"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    by_username: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset_sha256: Mapped[str] = mapped_column(String(64))
    dataset_rows: Mapped[int] = mapped_column(Integer)
    n_markers: Mapped[int] = mapped_column(Integer)
    software_version: Mapped[str] = mapped_column(String(40))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
