"""Print labels for samples (PDF sheet or ZPL); every print and reprint is a custody event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core.errors import DomainError
from lims.custody.models import CustodyEvent
from lims.custody.service import record_event
from lims.samples import labels
from lims.samples.models import Sample


@dataclass(frozen=True)
class PrintJob:
    """A rendered label file ready to download or send to a printer."""

    content: bytes
    mimetype: str
    filename: str
    count: int
    reprints: int


def label_data(sample: Sample) -> labels.LabelData:
    """Return what goes on a sample's label."""
    return labels.LabelData(
        accession=sample.accession or "",
        participant=sample.participant.code,
        timepoint=sample.visit.timepoint.code if sample.visit else "",
        sample_type=sample.sample_type.name,
        collected=sample.collected_at.date() if sample.collected_at else None,
    )


def sheet_layout(config: dict[str, Any], name: str | None) -> labels.SheetLayout:
    """Return the configured PDF sheet layout (a preset name or the LABEL_SHEET mapping)."""
    try:
        if name:
            return labels.layout_from_mapping({"preset": name})
        return labels.layout_from_mapping(config.get("LABEL_SHEET") or {"preset": "a4-38x21"})
    except labels.LabelLayoutError as exc:
        raise DomainError(str(exc), field="layout") from None


def zpl_layout(config: dict[str, Any]) -> labels.ZplLayout:
    """Return the configured ZPL label size and printer resolution."""
    try:
        layout = labels.ZplLayout(**(config.get("LABEL_ZPL") or {}))
        layout.validate()
    except (labels.LabelLayoutError, TypeError) as exc:
        raise DomainError(f"ZPL label setting: {exc}", field="layout") from None
    return layout


def print_labels(session: Session, samples: list[Sample], *, fmt: str, by: User | None, config: dict[str, Any],
                 layout_name: str | None = None, start_position: int = 1) -> PrintJob:
    """Render labels for ``samples`` and record one ``label_printed`` event per sample."""
    if not samples:
        raise DomainError("choose at least one sample to label", field="samples")
    missing = [s for s in samples if not s.accession]
    if missing:
        raise DomainError("missed samples have no accession ID and no label", field="samples")
    data = [label_data(s) for s in samples]
    try:
        if fmt == "pdf":
            layout = sheet_layout(config, layout_name)
            per_page = layout.rows * layout.columns
            if not 1 <= start_position <= per_page:
                raise DomainError(f"start position must be between 1 and {per_page} for layout {layout.name}",
                                  field="start_position")
            content = labels.pdf_sheet(data, layout, start_position=start_position)
            mimetype, ext, detail = "application/pdf", "pdf", layout.name
        elif fmt == "zpl":
            zl = zpl_layout(config)
            content = labels.zpl(data, zl).encode("utf-8")
            mimetype, ext, detail = "application/x-zpl", "zpl", f"{zl.width_mm}x{zl.height_mm} mm {zl.dpi} dpi"
        else:
            raise DomainError(f"unknown label format {fmt!r}; use pdf or zpl", field="format")
    except labels.LabelLayoutError as exc:
        raise DomainError(str(exc), field="layout") from None
    previous = dict(session.execute(
        select(CustodyEvent.sample_id, func.count()).where(
            CustodyEvent.sample_id.in_([s.id for s in samples]), CustodyEvent.action == "label_printed"
        ).group_by(CustodyEvent.sample_id)
    ).all())
    reprints = 0
    for s in samples:
        n = previous.get(s.id, 0)
        reprints += n > 0
        record_event(session, s.id, "label_printed", by=by,
                     reason="reprint" if n else "first print",
                     details={"format": fmt, "layout": detail, "print_number": n + 1})
    session.flush()
    name = samples[0].accession if len(samples) == 1 else f"labels-{len(samples)}"
    return PrintJob(content, mimetype, f"{name}.{ext}", len(samples), reprints)
