"""What a sample's label says: its accession ID, what is in the tube, whose it is and when it was drawn.

Two tubes of one visit differ on the label by their container ("Whole blood in Streck cell-free DNA BCT",
"Whole blood in Serum separator tube"); aliquots and derivatives name the container they came from. The
date is the collection date in the study's time zone (a 07:30 draw in Shanghai is labelled that day, not the
UTC day before). How the label is drawn (symbols, sizes, printers) is :mod:`lims.labels`.
"""

from __future__ import annotations

from lims.access.dates import local_date, study_zone
from lims.labels.layout import LabelContent
from lims.labels.text import Field
from lims.samples.accession import validate
from lims.samples.models import Sample

GAP = "  "  # between two facts on one line (a middle dot is full width in the CJK font)


def sample_label(sample: Sample) -> LabelContent:
    """Return the content of ``sample``'s label (the accession ID is checked first)."""
    accession = validate(sample.accession or "")
    kind = sample.sample_type
    what = kind.name
    short = kind.sprec_type or kind.code
    if sample.container_type is not None:
        joiner = "in" if sample.derivation == "primary" else "from"
        what = f"{kind.name} {joiner} {sample.container_type.name}"
        short = f"{short} {sample.container_type.code}"
    participant = sample.participant
    timepoint = sample.visit.timepoint.code if sample.visit else ""
    collected = ""
    if sample.collected_at is not None:
        collected = local_date(sample.collected_at, study_zone(participant.study)).isoformat()
    return LabelContent(accession, accession, (
        Field("sample", what, short),
        Field("visit", GAP.join(part for part in (participant.code, timepoint) if part)),
        Field("origin", GAP.join(part for part in (participant.site.code, collected) if part)),
    ))
