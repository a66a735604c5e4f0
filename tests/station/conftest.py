"""A participant with a visit, a blood tube, plasma aliquots in storage, for scan tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from lims.samples.models import Sample
from lims.samples.service import register_primary, split
from lims.storage.models import Placement, StorageUnit
from lims.studies.service import timepoint_by_code


@dataclass
class Bench:
    participant: object
    blood: Sample
    plasma: list[Sample]
    box: StorageUnit


def make_bench(session, study, make_participant, user, site: str = "ZJ", code: str | None = None) -> Bench:
    p = make_participant(site=site, code=code, rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    visit.status, visit.actual_on = "done", date(2025, 1, 8)
    kit = timepoint_by_code(study, "BASELINE").kit[0]
    tech = user("technician")
    blood = register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                             by=tech,
                             collected_at=datetime(2025, 1, 8, 8, 0, tzinfo=UTC))
    plasma_type = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
    plasma = split(session, blood, sample_type=plasma_type, count=4, volume=1.0, unit="ml", by=tech,
                   derivation="derivative")
    box = StorageUnit(site_id=p.site_id, kind="box", name=f"Box {p.code}", barcode=f"BOX-{p.code}", rows=9,
                      cols=9)
    session.add(box)
    session.flush()
    for i, s in enumerate(plasma[:3], start=1):
        session.add(Placement(sample_id=s.id, unit_id=box.id, row=1, col=i))
        s.status = "in_storage"
    session.flush()
    return Bench(p, blood, plasma, box)


@pytest.fixture()
def bench(session, study, make_participant, user) -> Bench:
    return make_bench(session, study, make_participant, user)
