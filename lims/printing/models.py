"""Label printers of a site or bench, and the print queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.accounts.models import User
from lims.core.db import Base, UTCDateTime, utcnow
from lims.samples.models import Sample
from lims.storage.models import StorageUnit
from lims.studies.models import Site

CONNECTIONS = ("tcp", "cups")  # raw TCP (port 9100) to the printer; a CUPS queue (IPP, USB, any driver)
LANGUAGES = ("zpl", "pdf")  # what the printer is sent: ZPL II formats, or PDF pages for a CUPS driver
JOB_STATUSES = ("queued", "sending", "sent", "failed")
SUBJECTS = ("samples", "storage")


class Printer(Base):
    """A label printer at a site (optionally at one bench): how to reach it and what it prints on."""

    __tablename__ = "printer"
    __table_args__ = (
        UniqueConstraint("site_id", "name"),
        CheckConstraint("connection IN ('tcp', 'cups')", name="connection"),
        CheckConstraint("language IN ('zpl', 'pdf')", name="language"),
        CheckConstraint("connection = 'cups' OR language = 'zpl'", name="pdf_through_cups"),
        CheckConstraint("connection != 'tcp' OR host IS NOT NULL", name="tcp_has_host"),
        CheckConstraint("connection != 'cups' OR queue IS NOT NULL", name="cups_has_queue"),
        CheckConstraint("port IS NULL OR (port >= 1 AND port <= 65535)", name="port"),
        CheckConstraint("dpi IN (203, 300, 600)", name="dpi"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    bench: Mapped[str | None] = mapped_column(String(80))
    connection: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8))
    host: Mapped[str | None] = mapped_column(String(255))  # printer (tcp) or CUPS server (cups; empty: local)
    port: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(127))  # CUPS queue name
    stock: Mapped[str] = mapped_column(String(40))  # label stock (zpl) or page layout (pdf)
    dpi: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship()

    @property
    def address(self) -> str:
        """Return where jobs go, e.g. '10.0.0.7:9100' or 'cups:labels@print.lab:631'."""
        if self.connection == "tcp":
            return f"{self.host}:{self.port or 9100}"
        server = f"@{self.host}{f':{self.port}' if self.port else ''}" if self.host else ""
        return f"cups:{self.queue}{server}"


class PrintJob(Base):
    """Labels sent (or to be sent) to a printer; re-rendered from its items when it is retried."""

    __tablename__ = "print_job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name="status"),
        CheckConstraint("subject IN ('samples', 'storage')", name="subject"),
        CheckConstraint("label_count >= 1", name="label_count"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("start_position >= 1", name="start_position"),
        Index("ix_print_job_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    printer_id: Mapped[int] = mapped_column(ForeignKey("printer.id"), index=True)
    subject: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    label_count: Mapped[int] = mapped_column(Integer)
    start_position: Mapped[int] = mapped_column(Integer, default=1)
    reprint_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    layout: Mapped[str | None] = mapped_column(String(80))  # what was sent: stock or layout and resolution
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(80))  # the CUPS job id
    error: Mapped[str | None] = mapped_column(Text)

    printer: Mapped[Printer] = relationship()
    created_by: Mapped[User | None] = relationship()
    items: Mapped[list[PrintJobItem]] = relationship(order_by="PrintJobItem.position",
                                                     cascade="all, delete-orphan")


class PrintJobItem(Base):
    """One label of a job: a sample or a storage unit, in print order."""

    __tablename__ = "print_job_item"
    __table_args__ = (CheckConstraint("(sample_id IS NULL) != (unit_id IS NULL)", name="one_subject"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("print_job.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("storage_unit.id"))

    sample: Mapped[Sample | None] = relationship()
    unit: Mapped[StorageUnit | None] = relationship()
