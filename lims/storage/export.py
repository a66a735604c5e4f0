"""A box's contents as CSV and as a printable PDF map (what lab staff take to the freezer).

Dates follow the viewer's rights (a calendar date with ``dates.exact``, else the study day), as on every page.
Cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR) are neutralised by
:func:`safe_cell`, a small local helper until the project has one shared spreadsheet function.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lims import access
from lims.samples.models import Sample
from lims.storage import service
from lims.storage.models import GRID_KINDS, StorageUnit
from lims.studies.service import get_study

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("position", "accession", "participant", "timepoint", "sample_type", "status", "quantity", "unit",
           "collected", "freeze_thaw_count")


def safe_cell(value: Any) -> str:
    """Return ``value`` as CSV text a spreadsheet will not run as a formula (a leading ' for =, +, -,
    @...)."""
    text = "" if value is None else (f"{value:g}" if isinstance(value, float) else str(value))
    return "'" + text if text.startswith(FORMULA_START) else text


def contents(session: Session, unit: StorageUnit, user: Any) -> list[dict[str, Any]]:
    """Return one row per position of a box (empty ones included), or per tube of a loose container."""
    rows = []
    cells: list[tuple[str | None, Sample | None]]
    if unit.kind in GRID_KINDS:
        cells = [(c.label, c.sample) for row in service.box_map(session, unit) for c in row]
    else:
        cells = [(None, s) for s in service.loose_samples(session, unit)]
    for label, s in cells:
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row["position"] = label
        if s is not None:
            row.update(accession=s.accession, participant=s.participant.code,
                       timepoint=s.visit.timepoint.code if s.visit else None, sample_type=s.sample_type.code,
                       status=s.status, quantity=s.quantity, unit=s.unit,
                       freeze_thaw_count=s.freeze_thaw_count,
                       collected=access.when(user, s.participant, s.collected_at, time=False) or None)
        rows.append(row)
    return rows


def box_csv(session: Session, unit: StorageUnit, user: Any) -> str:
    """Return a box's contents as CSV (one line per position), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in contents(session, unit, user):
        writer.writerow([safe_cell(row[c]) for c in COLUMNS])
    return out.getvalue()


def box_pdf(session: Session, unit: StorageUnit, user: Any, *, printed: datetime | None = None) -> bytes:
    """Return a printable A4 map of a box: its path, a grid of positions with accession and type, a legend."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = Canvas(buffer, pagesize=(width, height))
    pdf.setTitle(f"Box map {unit.barcode}")
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(15 * mm, height - 15 * mm, f"{unit.name} ({unit.barcode})")
    pdf.setFont("Helvetica", 9)
    pdf.drawString(15 * mm, height - 21 * mm, service.unit_label(session, unit).replace("›", ">"))
    zone = access.study_zone(get_study(session))
    when = f"· printed {access.format_local(printed, zone)}" if printed else ""
    rows = contents(session, unit, user)
    used = sum(1 for r in rows if r["accession"])
    pdf.drawString(15 * mm, height - 26 * mm, f"{used} of {len(rows)} positions used {when}".strip())
    if unit.kind in GRID_KINDS and unit.rows and unit.cols:
        _grid(pdf, unit, rows, width, height)
    else:
        _list(pdf, rows, height)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _grid(pdf: Canvas, unit: StorageUnit, rows: list[dict[str, Any]], width: float, height: float) -> None:
    from reportlab.lib.units import mm

    assert unit.rows and unit.cols
    left, top = 22 * mm, height - 34 * mm
    cell_w = min((width - left - 12 * mm) / unit.cols, 30 * mm)
    cell_h = min((top - 15 * mm) / unit.rows, 18 * mm)
    pdf.setFont("Helvetica-Bold", 8)
    for c in range(unit.cols):
        pdf.drawCentredString(left + (c + 0.5) * cell_w, top + 2 * mm, str(c + 1))
    for r in range(unit.rows):
        pdf.drawCentredString(left - 4 * mm, top - (r + 0.6) * cell_h, chr(65 + r))
    for i, row in enumerate(rows):
        r, c = divmod(i, unit.cols)
        x, y = left + c * cell_w, top - (r + 1) * cell_h
        pdf.setStrokeGray(0.5)
        pdf.setFillGray(1.0 if row["accession"] else 0.93)
        pdf.rect(x, y, cell_w, cell_h, stroke=1, fill=1)
        pdf.setFillGray(0)
        size = max(min(cell_w / mm * 0.62, 7.5), 4.5)
        pdf.setFont("Helvetica-Bold", size)
        pdf.drawString(x + 1 * mm, y + cell_h - size - 0.5, row["position"] or "")
        if row["accession"]:
            pdf.setFont("Helvetica", size)
            pdf.drawString(x + 1 * mm, y + cell_h - 2 * size - 1.5, row["accession"])
            pdf.drawString(x + 1 * mm, y + cell_h - 3 * size - 2.5,
                           f"{row['participant']} {row['sample_type']}"[:28])


def _list(pdf: Canvas, rows: list[dict[str, Any]], height: float) -> None:
    from reportlab.lib.units import mm

    y = height - 36 * mm
    pdf.setFont("Helvetica", 9)
    for row in rows:
        if y < 15 * mm:
            pdf.showPage()
            pdf.setFont("Helvetica", 9)
            y = height - 15 * mm
        pdf.drawString(15 * mm, y, f"{row['accession']}  {row['participant']}  {row['timepoint'] or ''}  "
                                   f"{row['sample_type']}  {row['status']}")
        y -= 5 * mm
