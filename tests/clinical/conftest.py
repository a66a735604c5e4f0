"""A participant with a full clinical course, for page, API and data-query tests."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lims.clinical.models import (
    CRE,
    AdverseEvent,
    Allocation,
    Death,
    DiseaseEvent,
    LastContact,
    Pathology,
    QoLResponse,
    SubsequentTreatment,
    Surgery,
    Treatment,
)
from lims.clinical.service import sync_anchors

D0 = date(2025, 1, 6)


def day(n: int) -> date:
    """Return study day n counted from enrolment (day 1 = D0)."""
    return D0 + timedelta(days=n - 1)


@pytest.fixture()
def course(session, make_participant):
    """ZJ-850: W&W, regrowth on day 300 salvaged R1, distant spread, death; a late-reported SAE."""
    p = make_participant(code="ZJ-850", enrolled_on=D0)
    session.add_all([
        Treatment(participant_id=p.id, rt_start=day(8), rt_end=day(40), rt_dose_gy=41.4, rt_fractions=23),
        CRE(participant_id=p.id, seq=1, date=day(78), overall="cCR"),
        Allocation(participant_id=p.id, stratum="CCR_WW", rand_date=day(85)),
        CRE(participant_id=p.id, seq=2, date=day(140), overall="cCR"),
        DiseaseEvent(participant_id=p.id, date=day(300), type="LOCAL_REGROWTH", proof="histology"),
        Surgery(participant_id=p.id, date=day(330), intent="salvage", r_status="R1"),
        Pathology(participant_id=p.id, surgery_date=day(330), ypt="ypT2", ypn="ypN1", viable_pct=40.0,
                  ln_examined=20, ln_positive=2),
        DiseaseEvent(participant_id=p.id, date=day(420), type="DISTANT", proof="imaging"),
        SubsequentTreatment(participant_id=p.id, date=day(430), kind="systemic_therapy"),
        Death(participant_id=p.id, date=day(600), cause="disease"),
        LastContact(participant_id=p.id, last_alive_date=day(600), last_disease_assessment_date=day(420)),
        AdverseEvent(participant_id=p.id, term="Pneumonitis", grade=3, onset_date=day(50), serious=True,
                     ethics_reported_on=day(70), irae=True),
        AdverseEvent(participant_id=p.id, term="Oesophagitis", grade=3, onset_date=day(30), serious=True),
        *[QoLResponse(participant_id=p.id, instrument="QLQ-C30", timepoint="BASELINE", item=str(i), value=2.0,
                      date=day(1)) for i in range(1, 29)],
        QoLResponse(participant_id=p.id, instrument="QLQ-C30", timepoint="BASELINE", item="29", value=4.0,
                    date=day(1)),
        QoLResponse(participant_id=p.id, instrument="QLQ-C30", timepoint="BASELINE", item="30", value=6.0,
                    date=day(1)),
    ])
    session.flush()
    sync_anchors(session, p)
    return p
