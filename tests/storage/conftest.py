"""Storage fixtures: a freezer with a rack and two boxes at ZJ, a tank, and plasma tubes to place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from lims.samples.models import Sample
from lims.samples.service import register_primary, split
from lims.storage.models import StorageUnit
from lims.storage.service import create_unit
from lims.studies.models import Site
from lims.studies.service import timepoint_by_code


@dataclass
class Lab:
    site: Site
    freezer: StorageUnit
    rack: StorageUnit
    box: StorageUnit
    box2: StorageUnit
    tank: StorageUnit
    participant: Any
    blood: Sample
    tubes: list[Sample]


def make_tubes(session, study, participant, tech, count: int = 6) -> tuple[Sample, list[Sample]]:
    """Register a baseline Streck tube and split it into ``count`` plasma tubes (status collected)."""
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    visit.status, visit.actual_on = "done", date(2025, 1, 8)
    kit = timepoint_by_code(study, "BASELINE").kit[0]
    blood = register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                             by=tech,
                             collected_at=datetime(2025, 1, 8, 8, 0, tzinfo=UTC))
    plasma = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
    tubes = split(session, blood, sample_type=plasma, count=count, volume=1.0, unit="ml", by=tech,
                  derivation="derivative", storage_temp_c=-80.0)
    return blood, tubes


def make_lab(session, study, make_participant, user, site_code: str = "ZJ", tag: str = "T") -> Lab:
    site = session.scalar(select(Site).where(Site.code == site_code))
    freezer = create_unit(session, site=site, kind="freezer", name=f"{tag} -80 freezer", barcode=f"{tag}-FRZ",
                          set_temp_c=-80.0)
    rack = create_unit(session, site=site, kind="rack", name=f"{tag} rack 1", barcode=f"{tag}-R1",
                       parent=freezer)
    box = create_unit(session, site=site, kind="box", name=f"{tag} box 1", barcode=f"{tag}-B1", parent=rack,
                      rows=3, cols=3, allowed_types="CTDNA_PLASMA,SERUM")
    box2 = create_unit(session, site=site, kind="box", name=f"{tag} box 2", barcode=f"{tag}-B2", parent=rack,
                       rows=2, cols=2)
    tank = create_unit(session, site=site, kind="ln2_tank", name=f"{tag} LN2 tank", barcode=f"{tag}-LN2",
                       set_temp_c=-190.0)
    p = make_participant(site=site_code, rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    blood, tubes = make_tubes(session, study, p, user("technician" if site_code == "ZJ" else "technician_nb"))
    return Lab(site, freezer, rack, box, box2, tank, p, blood, tubes)


@pytest.fixture()
def lab(session, study, make_participant, user) -> Lab:
    return make_lab(session, study, make_participant, user)
