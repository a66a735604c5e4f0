"""Stored signature runs: who asked for which model on which data, and everything the run produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.core.db import Base, UTCDateTime, utcnow

STATUSES = ("queued", "running", "done", "failed")


class SignatureRun(Base):
    """One nested-CV signature run: parameters, spec, seeds, input hash, versions, result and final model."""

    __tablename__ = "signature_run"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("dataset_sha256 IS NULL OR length(dataset_sha256) = 64", name="sha256"),
        CheckConstraint("status != 'done' OR (result IS NOT NULL AND dataset_sha256 IS NOT NULL)",
                        name="done"),
        CheckConstraint("status != 'failed' OR error IS NOT NULL", name="failed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    by_username: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    rerun_of_id: Mapped[int | None] = mapped_column(ForeignKey("signature_run.id"))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    seeds: Mapped[list[int] | None] = mapped_column(JSON)
    dataset_sha256: Mapped[str | None] = mapped_column(String(64))
    dataset_rows: Mapped[int | None] = mapped_column(Integer)
    versions: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    model: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    elapsed_seconds: Mapped[float | None] = mapped_column(Float)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("job.id", ondelete="SET NULL"))

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
