"""Background jobs: what was asked, by whom, how far it got and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.core.db import Base, UTCDateTime, utcnow

STATUSES = ("queued", "running", "cancelling", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")


class Job(Base):
    """One unit of background work (a signature run, a screen, an export, an anchor...) run by a worker.

    The row is the truth about the job; the queue only carries its id. A job that holds a ``lock_key`` runs
    alone: at most one job per key is running, across every worker (a partial unique index).
    """

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(repr(s) for s in STATUSES) + ")", name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        CheckConstraint("attempts >= 0 AND max_attempts >= 1", name="attempts"),
        CheckConstraint("status != 'failed' OR error IS NOT NULL", name="failed_has_error"),
        Index("ix_job_status", "status"),
        Index("uq_job_running_lock", "lock_key", unique=True,
              sqlite_where=text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL"),
              postgresql_where=text("status IN ('running', 'cancelling') AND lock_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    lock_key: Mapped[str | None] = mapped_column(String(120))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=2)
    worker: Mapped[str | None] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    file: Mapped[JobFile | None] = relationship(  # what it produced (an upload it works on is not shown)
        primaryjoin="and_(Job.id == JobFile.job_id, JobFile.purpose == 'output')", uselist=False,
        viewonly=True)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class JobFile(Base):
    """A file of a job: the one it produced (``output``: an export's zip, for its requester to download) or
    the upload it works on (``input``: a large import file, never downloaded).

    In the database rather than the instance folder: web servers and workers may run on different machines,
    and all they share is the database. ``permission`` is what the requester must still hold to download it.
    """

    __tablename__ = "job_file"
    __table_args__ = (CheckConstraint("size >= 0", name="size"),
                      CheckConstraint("length(sha256) = 64", name="sha256"),
                      CheckConstraint("purpose IN ('input', 'output')", name="purpose"),
                      UniqueConstraint("job_id", "purpose", name="uq_job_file_job_id_purpose"))

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("job.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(6), default="output")
    filename: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(120))
    permission: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only when downloaded
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
