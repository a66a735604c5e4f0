"""Shipment fixtures: plasma tubes stored in a box at NB, ready to ship to ZJ (the central lab)."""

from __future__ import annotations

import pytest

from lims.storage.service import place_sample
from tests.storage.conftest import Lab, make_lab


@pytest.fixture()
def nb_lab(session, study, make_participant, user) -> Lab:
    lab = make_lab(session, study, make_participant, user, site_code="NB", tag="N")
    tech = user("technician_nb")
    for tube in lab.tubes[:5]:
        place_sample(session, tube, lab.box, by=tech)
    return lab


@pytest.fixture()
def zj_lab(session, study, make_participant, user) -> Lab:
    return make_lab(session, study, make_participant, user, site_code="ZJ", tag="Z")
