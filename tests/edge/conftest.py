"""Edge fixtures: a participant whose samples carry fixed accession IDs, so the corpus files name real
samples.

ZJ-777 (enrolled 2025-01-06) has baseline SERUM (TB-9000001-G, TB-9000002-E), CTDNA_PLASMA (TB-9000003-C,
TB-9000004-A) and FFPE (TB-9000005-8) samples, the marker catalogue of ``tests/markers`` (CTDNA_VAF in %,
IL6 in pg/mL, PDL1_CPS as a score), and stored clinical data: radiotherapy 2025-01-13 to 2025-02-14
(41.4 Gy in 23 fractions) and CRE1 on 2025-03-20 (cCR). NB-778 had surgery on 2025-05-05 (planned, R0)
with 20 lymph nodes examined, none positive.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims.clinical.models import CRE, MODELS, ClinicalChange, ImportRun, Pathology, Surgery, Treatment
from lims.clinical.service import sync_anchors
from lims.markers.models import Marker, MarkerImportRun, MarkerResult
from lims.participants.models import Participant
from lims.samples.accession import make_accession
from tests.markers.conftest import catalogue, sampled  # noqa: F401 - the markers fixtures, shared

ACCESSIONS = {"SERUM": make_accession(9000001), "SERUM_2": make_accession(9000002),
              "CTDNA_PLASMA": make_accession(9000003), "CTDNA_PLASMA_2": make_accession(9000004),
              "FFPE": make_accession(9000005)}
ENROLLED = date(2025, 1, 6)
SURGERY = date(2025, 5, 5)


@pytest.fixture()
def edge(session: Session, catalogue: Any, sampled: Any, make_participant: Any) -> dict[str, Any]:  # noqa: F811 - fixtures by name
    """Create the corpus's world (see the module docstring); return the participants and accessions."""
    p, made = sampled(code="ZJ-777", enrolled_on=ENROLLED)
    from lims.samples.models import Sample

    for key, fixed in ACCESSIONS.items():
        sample = session.scalar(select(Sample).where(Sample.accession == made[key]))
        sample.accession = fixed
    other = make_participant(site="NB", code="NB-778", enrolled_on=ENROLLED)
    session.add_all([Treatment(participant_id=p.id, rt_start=date(2025, 1, 13), rt_end=date(2025, 2, 14),
                               rt_dose_gy=41.4, rt_fractions=23),
                     CRE(participant_id=p.id, seq=1, date=date(2025, 3, 20), overall="cCR"),
                     Surgery(participant_id=other.id, date=SURGERY, intent="planned", r_status="R0"),
                     Pathology(participant_id=other.id, surgery_date=SURGERY, ypt="ypT1", ypn="ypN0",
                               ln_examined=20,
                               ln_positive=0)])
    session.flush()
    sync_anchors(session, p)
    sync_anchors(session, other)
    return {"participant": p, "other": other, "accessions": dict(ACCESSIONS)}


def row_counts(session: Session) -> dict[str, int]:
    """Count the rows of every table an import could write (markers, clinical tables, runs, audit)."""
    models = [MarkerResult, MarkerImportRun, Marker, ImportRun, ClinicalChange, Participant,
              *(model for model, _key in MODELS.values())]
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0 for m in models}
