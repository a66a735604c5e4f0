"""Marker results on the demo trial's samples, for the results pages (the signal marker follows cCR)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from lims.clinical.service import derived_endpoints
from lims.markers.models import Marker, MarkerResult
from lims.markers.service import save_marker
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import SampleType, Study, TimePoint

SERUM = ("RX_IL6", "RX_IL8", "RX_TNF", "RX_IFNG", "RX_IL10", "RX_CXCL10")
PLASMA = ("RX_CTDNA_VAF", "RX_CTDNA_MTM")
TIMEPOINTS = ("BASELINE", "EOT", "CRE1")
SIGNAL = "RX_IL6"


def seed_marker_results(session: Session, study: Study, seed: int = 7) -> dict[str, Any]:
    """Add the RX_* markers and one value per participant, time point and marker; return what was added."""
    rng = np.random.default_rng(seed)
    for code in SERUM:
        save_marker(session, {"code": code, "name": code, "category": "cytokine", "unit": "pg/mL",
                              "specimen_types": ["SERUM"], "transform": "log2"})
    for code in PLASMA:
        save_marker(session, {"code": code, "name": code, "category": "ctDNA", "unit": "%",
                              "specimen_types": ["CTDNA_PLASMA"], "transform": "log2"})
    markers = {m.code: m.id for m in session.scalars(select(Marker).where(Marker.code.like("RX_%")))}
    ccr = derived_endpoints(session, study).set_index("participant_id")["ccr_cre1"]
    rows = session.execute(
        select(Sample.id, Participant.code, TimePoint.code, SampleType.code)
        .join(Participant, Participant.id == Sample.participant_id)
        .join(Visit, Visit.id == Sample.visit_id).join(TimePoint, TimePoint.id == Visit.timepoint_id)
        .join(SampleType, SampleType.id == Sample.sample_type_id)
        .where(Sample.study_id == study.id, Sample.status != "missed", TimePoint.code.in_(TIMEPOINTS),
               SampleType.code.in_(("SERUM", "CTDNA_PLASMA")), Visit.occurrence == 1)
        .order_by(Sample.id)).all()
    first: dict[tuple[str, str, str], int] = {}
    for sample_id, participant, timepoint, sample_type in rows:
        first.setdefault((participant, timepoint, sample_type), sample_id)
    values = []
    for (participant, _timepoint, sample_type), sample_id in sorted(first.items()):
        responder = bool(ccr.get(participant)) if participant in ccr.index and ccr.get(
            participant) is not None \
            and str(ccr.get(participant)) != "<NA>" else False
        for code in SERUM if sample_type == "SERUM" else PLASMA:
            shift = -1.5 if (code == SIGNAL and responder) else 0.0
            values.append({"sample_id": sample_id, "marker_id": markers[code], "replicate": 1,
                           "value": float(np.exp(rng.normal(2.0 + shift, 0.6)))})
    session.execute(insert(MarkerResult), values)
    session.flush()
    return {"markers": len(markers), "results": len(values)}
