"""Demo part: printed and reprinted labels, thaws and check-outs at the bench."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lims.custody.service import record_event
from lims.samples.models import Sample


def generate(ctx: object) -> None:
    """Label a share of the tubes (a few reprints), thaw some aliquots, check a few out for assays."""
    session, rng, summary = ctx.session, ctx.rng, ctx.summary  # type: ignore[attr-defined]
    technicians = ctx.technicians  # type: ignore[attr-defined]
    samples = session.scalars(
        select(Sample).where(Sample.accession.is_not(None), Sample.status == "in_storage").order_by(Sample.id)
    ).all()
    if not samples:
        return
    chosen = rng.choice(len(samples), size=min(400, len(samples)), replace=False)
    labelled = 0
    for i in sorted(chosen):
        s = samples[int(i)]
        tech = technicians[s.participant.site.code]
        at = (s.frozen_at
              or s.collected_at) - timedelta(minutes=5) if (s.frozen_at or s.collected_at) else None
        record_event(session, s.id, "label_printed", by=tech, at=at, reason="first print",
                     details={"format": "pdf", "layout": "a4-38x21", "print_number": 1})
        labelled += 1
        if rng.random() < 0.05:
            record_event(session, s.id, "label_printed", by=tech, at=at and at + timedelta(days=2),
                         reason="reprint", details={"format": "zpl", "layout": "50.8x25.4 mm 300 dpi",
                                                    "print_number": 2})
    thawed = 0
    aliquots = [s for s in samples if s.derivation != "primary"
                and s.sample_type.code in ("CTDNA_PLASMA", "SERUM")]
    for i in rng.choice(len(aliquots), size=min(150, len(aliquots)), replace=False):
        s = aliquots[int(i)]
        tech = technicians[s.participant.site.code]
        for _ in range(1 + int(rng.random() < 0.2)):
            s.freeze_thaw_count += 1
            record_event(session, s.id, "thawed", by=tech,
                         at=(s.frozen_at or s.collected_at) + timedelta(days=30),
                         reason="aliquot checked for assay run",
                         details={"freeze_thaw_count": s.freeze_thaw_count})
            thawed += 1
    summary.extra["labels printed"] = labelled
    summary.extra["thaws"] = thawed
