"""Print labels: render, record the custody of every sample label, queue the job and send it after commit.

A sample's label print is a ``label_printed`` custody event, recorded in the same unit of work that queues
the job (or hands out the download). A reprint (any sample printed before) needs a reason, which the event
keeps. Nothing is sent inside a transaction: the job is sent once its unit of work has committed
(:func:`lims.core.uow.after_commit`), so a printed label always has its committed event; if the printer
fails, the job says so and can be retried (it is the same print, no new event), or a sent job reprinted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import DomainError, NotFound
from lims.core.uow import after_commit, run
from lims.custody.models import CustodyEvent
from lims.custody.service import record_event
from lims.labels.code128 import Code128Error
from lims.labels.layout import LabelContent
from lims.labels.pdf import pdf
from lims.labels.presets import (
    STOCKS,
    LabelLayoutError,
    SheetLayout,
    Stock,
    check_dpi,
    layout_from_mapping,
    roll,
)
from lims.labels.zpl import zpl
from lims.printing.models import Printer, PrintJob, PrintJobItem
from lims.printing.transport import Destination, PrintError, send
from lims.samples.labels import sample_label
from lims.samples.models import Sample
from lims.storage.labels import unit_label
from lims.storage.models import StorageUnit

log = logging.getLogger(__name__)
RETRYABLE = ("queued", "failed")
REPRINTABLE = ("sent", "sending", "failed")


@dataclass(frozen=True)
class Rendered:
    """Label bytes and how to name them."""

    content: bytes
    mimetype: str
    extension: str
    layout: str


def resolve(language: str, layout: str | SheetLayout | Stock) -> SheetLayout | Stock:
    """Return the label stock (ZPL) or page layout (PDF) that ``layout`` names.

    A PDF for a stock is one label per page (``roll-<stock>``); ZPL for a page layout prints its label.
    """
    if isinstance(layout, str):
        if language == "zpl":
            return STOCKS[layout] if layout in STOCKS else layout_from_mapping({"preset": layout}).stock
        return roll(STOCKS[layout]) if layout in STOCKS else layout_from_mapping({"preset": layout})
    if language == "zpl":
        return layout.stock if isinstance(layout, SheetLayout) else layout
    return layout if isinstance(layout, SheetLayout) else roll(layout)


def render(labels: Sequence[LabelContent], *, language: str, stock: str | SheetLayout | Stock, dpi: int,
           start_position: int = 1) -> Rendered:
    """Render labels as ZPL or PDF for a ``dpi`` printer; ``stock`` names or is the stock or page layout."""
    if language not in ("zpl", "pdf"):
        raise DomainError(f"unknown label format {language!r}; use pdf or zpl", field="format")
    try:
        check_dpi(dpi)
        found = resolve(language, stock)
        if isinstance(found, Stock):
            return Rendered(zpl(labels, found, dpi).encode("ascii"), "application/x-zpl", "zpl",
                            f"{found.name} {dpi} dpi")
        if not 1 <= start_position <= found.per_page:
            raise DomainError(f"start position must be between 1 and {found.per_page} for layout "
                              f"{found.name}",
                              field="start_position")
        return Rendered(pdf(labels, found, dpi, start_position), "application/pdf", "pdf",
                        f"{found.name} {dpi} dpi")
    except (LabelLayoutError, Code128Error) as exc:
        raise DomainError(str(exc), field="layout") from None


def media(printer: Printer) -> str | None:
    """Return the CUPS media name for a PDF printer's page layout (None for ZPL)."""
    if printer.language != "pdf":
        return None
    layout = resolve("pdf", printer.stock)
    assert isinstance(layout, SheetLayout)
    named = {(210.0, 297.0): "A4", (215.9, 279.4): "Letter"}
    size = (layout.page_width_mm, layout.page_height_mm)
    return named.get(size, f"Custom.{size[0]:g}x{size[1]:g}mm")


def _destination(printer: Printer) -> Destination:
    return Destination(printer.connection, printer.host, printer.port, printer.queue, printer.language,
                       media(printer))


# ----- sample labels: custody -------------------------------------------------------------------------
def _labels(samples: Sequence[Sample]) -> list[LabelContent]:
    if not samples:
        raise DomainError("choose at least one sample to label", field="samples")
    missed = [s for s in samples if not s.accession]
    if missed:
        raise DomainError("missed samples have no accession ID and no label", field="samples")
    return [sample_label(s) for s in samples]


def print_counts(session: Session, samples: Sequence[Sample]) -> dict[int, int]:
    """Return how many labels each sample has had printed (sample id -> count; absent: none)."""
    return dict(session.execute(
        select(CustodyEvent.sample_id, func.count()).where(
            CustodyEvent.sample_id.in_([s.id for s in samples]), CustodyEvent.action == "label_printed"
        ).group_by(CustodyEvent.sample_id)
    ).all())


def _record(session: Session, samples: Sequence[Sample], *, by: User | None, reprint_reason: str | None,
            details: dict[str, Any]) -> int:
    """Refuse a reprint without a reason, then record one ``label_printed`` event per sample."""
    counts = print_counts(session, samples)
    again = [s.accession or f"sample {s.id}" for s in samples if counts.get(s.id)]
    reason = (reprint_reason or "").strip()
    if again and not reason:
        names = ", ".join(again[:5]) + (f" and {len(again) - 5} more" if len(again) > 5 else "")
        raise DomainError(f"{names} already had a label printed: give the reason for the reprint",
                          field="reprint_reason")
    for s in samples:
        n = counts.get(s.id, 0)
        record_event(session, s.id, "label_printed", by=by,
                     reason=f"reprint: {reason}" if n else "first print",
                     details={**details, "print_number": n + 1})
    return len(again)


def download_sample_labels(session: Session, samples: Sequence[Sample], *, by: User | None, language: str,
                           layout: str | SheetLayout | Stock, dpi: int, start_position: int = 1,
                           reprint_reason: str | None = None) -> tuple[Rendered, int]:
    """Render a label file to download; return it and the number of reprints (each print is an event)."""
    rendered = render(_labels(samples), language=language, stock=layout, dpi=dpi,
                      start_position=start_position)
    reprints = _record(session, samples, by=by, reprint_reason=reprint_reason,
                       details={"format": language, "layout": rendered.layout})
    session.flush()
    return rendered, reprints


def download_unit_labels(session: Session, units: Sequence[StorageUnit], *, language: str,
                         layout: str | SheetLayout | Stock, dpi: int, start_position: int = 1) -> Rendered:
    """Render box, rack or freezer labels to download."""
    if not units:
        raise DomainError("choose at least one storage unit to label", field="units")
    return render([unit_label(session, u) for u in units], language=language, stock=layout, dpi=dpi,
                  start_position=start_position)


# ----- the queue --------------------------------------------------------------------------------------
def _usable(printer: Printer, by: User | None) -> None:
    access.require_site(by, printer.site, f"printing on {printer.name}")
    if not printer.active:
        raise DomainError(f"printer {printer.name} is switched off; choose another", field="printer")


def _job(session: Session, printer: Printer, *, by: User | None, subject: str, samples: Sequence[Sample] = (),
         units: Sequence[StorageUnit] = (), start_position: int, reprint_reason: str | None) -> PrintJob:
    job = PrintJob(printer_id=printer.id, subject=subject, status="queued",
                   label_count=len(samples) + len(units),
                   start_position=start_position, reprint_reason=(reprint_reason or "").strip() or None,
                   created_by_id=by.id if by is not None else None)
    job.items = [PrintJobItem(position=i, sample_id=s.id) for i, s in enumerate(samples, start=1)] + \
        [PrintJobItem(position=i, unit_id=u.id) for i, u in enumerate(units, start=1)]
    session.add(job)
    session.flush()
    return job


def _queue(session: Session, job: PrintJob, rendered: Rendered) -> PrintJob:
    job.layout = rendered.layout
    job_id, content = job.id, rendered.content
    after_commit(session, lambda: deliver(session, job_id, content=content))
    return job


def print_sample_labels(session: Session, samples: Sequence[Sample], printer: Printer, *, by: User | None,
                        start_position: int = 1, reprint_reason: str | None = None) -> PrintJob:
    """Queue sample labels on ``printer``; each sample gets its custody event; sent after commit."""
    _usable(printer, by)
    rendered = render(_labels(samples), language=printer.language, stock=printer.stock, dpi=printer.dpi,
                      start_position=start_position)
    job = _job(session, printer, by=by, subject="samples", samples=samples, start_position=start_position,
               reprint_reason=reprint_reason)
    reprints = _record(session, samples, by=by, reprint_reason=reprint_reason,
                       details={"format": printer.language, "layout": rendered.layout,
                                "printer": printer.name,
                                "job": job.id})
    if not reprints:
        job.reprint_reason = None  # a reason given for labels never printed before is not a reprint
    return _queue(session, job, rendered)


def print_unit_labels(session: Session, units: Sequence[StorageUnit], printer: Printer, *, by: User | None,
                      start_position: int = 1) -> PrintJob:
    """Queue labels for boxes, racks or freezers on ``printer``; sent after commit."""
    _usable(printer, by)
    rendered = download_unit_labels(session, units, language=printer.language, layout=printer.stock,
                                    dpi=printer.dpi, start_position=start_position)
    job = _job(session, printer, by=by, subject="storage", units=units, start_position=start_position,
               reprint_reason=None)
    return _queue(session, job, rendered)


def retry(session: Session, job: PrintJob, *, by: User | None) -> PrintJob:
    """Send a failed (or still queued) job again: the same print, so no new custody event."""
    _usable(job.printer, by)
    if job.status not in RETRYABLE:
        raise DomainError(f"job {job.id} is {job.status}; to print its labels again, reprint it with a "
                          "reason",
                          field="job")
    job.status, job.error = "queued", None
    session.flush()
    job_id = job.id
    after_commit(session, lambda: deliver(session, job_id))
    return job


def reprint(session: Session, job: PrintJob, *, by: User | None, reason: str | None) -> PrintJob:
    """Print a job's labels again on the same printer as a new job (a reason is required)."""
    if not (reason or "").strip():
        raise DomainError("give the reason for the reprint", field="reprint_reason")
    if job.status not in REPRINTABLE:
        raise DomainError(f"job {job.id} is still {job.status}; wait for it or retry it", field="job")
    samples = [item.sample for item in job.items if item.sample is not None]
    units = [item.unit for item in job.items if item.unit is not None]
    if samples:
        return print_sample_labels(session, samples, job.printer, by=by, start_position=job.start_position,
                                   reprint_reason=reason)
    return print_unit_labels(session, units, job.printer, by=by, start_position=job.start_position)


def _render_job(session: Session, job: PrintJob) -> Rendered:
    samples = [item.sample for item in job.items if item.sample is not None]
    units = [item.unit for item in job.items if item.unit is not None]
    contents = [sample_label(s) for s in samples] + [unit_label(session, u) for u in units]
    printer = job.printer
    return render(contents, language=printer.language, stock=printer.stock, dpi=printer.dpi,
                  start_position=job.start_position)


def _claim(session: Session, job_id: int, content: bytes | None) -> tuple[Destination, bytes] | None:
    """Mark a queued job as being sent; return where to and what, or None if it is not queued."""
    job = session.get(PrintJob, job_id, with_for_update=True)
    if job is None or job.status != "queued":
        return None
    job.attempts += 1
    try:
        if not job.printer.active:
            raise DomainError(f"printer {job.printer.name} is switched off")
        if content is None:
            rendered = _render_job(session, job)
            content, job.layout = rendered.content, rendered.layout
    except DomainError as exc:
        job.status, job.error = "failed", exc.message
        return None
    job.status = "sending"
    job.content_sha256 = hashlib.sha256(content).hexdigest()
    return _destination(job.printer), content


def _finish(session: Session, job_id: int, *, error: str | None, external_id: str | None) -> None:
    job = session.get(PrintJob, job_id)
    if job is None:
        return
    job.status = "failed" if error else "sent"
    job.error, job.external_id = error, external_id
    job.sent_at = None if error else utcnow()


def deliver(session: Session, job_id: int, *, content: bytes | None = None) -> str:
    """Send a queued job to its printer outside any transaction; return its status (never raises)."""
    try:
        claimed = run(session, lambda: _claim(session, job_id, content))
        if claimed is not None:
            destination, data = claimed
            error, external = None, None
            try:
                external = send(destination, data, title=f"Trialbank print job {job_id}")
            except PrintError as exc:
                error = str(exc)
            run(session, lambda: _finish(session, job_id, error=error, external_id=external))
        return session.scalar(select(PrintJob.status).where(PrintJob.id == job_id)) or "missing"
    except Exception:  # a send runs after the request committed: it must not turn the response into an error
        log.exception("print job %s could not be delivered", job_id)
        return "failed"


def get_job(session: Session, job_id: int) -> PrintJob:
    """Return the print job with this id or raise NotFound."""
    job = session.get(PrintJob, job_id)
    if job is None:
        raise NotFound(f"no print job #{job_id}")
    return job


def jobs_at(session: Session, site_ids: frozenset[int] | None, *, limit: int = 100) -> list[PrintJob]:
    """Return the latest print jobs on the printers of ``site_ids`` (None: every site), newest first."""
    stmt = select(PrintJob).join(Printer, PrintJob.printer_id == Printer.id).order_by(PrintJob.id.desc())
    if site_ids is not None:
        stmt = stmt.where(Printer.site_id.in_(site_ids or [-1]))
    return list(session.scalars(stmt.limit(limit)))


def send_queued(session: Session, *, limit: int = 100) -> dict[int, str]:
    """Send every queued job, oldest first (the queue runner: ``lims printing send``)."""
    ids = run(session, lambda: list(session.scalars(select(PrintJob.id).where(PrintJob.status == "queued")
                                                    .order_by(PrintJob.id).limit(limit))))
    return {job_id: deliver(session, job_id) for job_id in ids}
