"""A copy of the 24-participant demo trial with planted signature markers; runs execute inline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from lims import create_app
from lims.clinical.service import derived_endpoints
from lims.extensions import db
from lims.markers.models import Marker, MarkerResult
from lims.markers.service import save_marker
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import SampleType, TimePoint
from lims.studies.service import get_study
from tests.demo_db import CHEAP_HASH, DemoDatabase

SIGNAL = "SG_IL6"
NOISE = ("SG_IL8", "SG_TNF", "SG_IFNG")
FLAT = "SG_FLAT"


@dataclass
class SignatureTrial:
    app: Any
    password: str


def seed_signature_markers(session: Any, seed: int = 11) -> int:
    """Add SG_* serum markers at BASELINE: SG_IL6 is lower with cCR at CRE1, the others are noise, SG_FLAT
    constant."""
    study = get_study(session)
    rng = np.random.default_rng(seed)
    for code in (SIGNAL, *NOISE, FLAT):
        save_marker(session, {"code": code, "name": code, "category": "cytokine", "unit": "pg/mL",
                              "specimen_types": ["SERUM"], "transform": "log2"})
    ids = {m.code: m.id for m in session.scalars(select(Marker).where(Marker.code.like("SG_%")))}
    ccr = derived_endpoints(session, study).set_index("participant_id")["ccr_cre1"]
    rows = session.execute(
        select(Sample.id, Participant.code)
        .join(Participant, Participant.id == Sample.participant_id)
        .join(Visit, Visit.id == Sample.visit_id).join(TimePoint, TimePoint.id == Visit.timepoint_id)
        .join(SampleType, SampleType.id == Sample.sample_type_id)
        .where(Sample.study_id == study.id, Sample.status != "missed", TimePoint.code == "BASELINE",
               SampleType.code == "SERUM", Visit.occurrence == 1)
        .order_by(Sample.id)).all()
    first: dict[str, int] = {}
    for sample_id, participant in rows:
        first.setdefault(participant, sample_id)
    values = []
    for participant, sample_id in sorted(first.items()):
        responder = participant in ccr.index and bool(ccr.fillna(False)[participant])
        for code in (SIGNAL, *NOISE, FLAT):
            value = 5.0 if code == FLAT else float(np.exp(rng.normal(2.0 - (1.5 if code == SIGNAL
                                                                            and responder
                                                                            else 0.0), 0.6)))
            values.append({"sample_id": sample_id, "marker_id": ids[code], "replicate": 1, "value": value})
    session.execute(insert(MarkerResult), values)
    session.flush()
    return len(values)


@pytest.fixture(scope="session")
def signature_trial(demo_database: DemoDatabase,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignatureTrial]:
    """A copy of the run's 24-participant demo database with the SG_* markers added."""
    with demo_database.copy(tmp_path_factory.mktemp("signatures")) as (url, instance):
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                          "SECRET_KEY": "signatures-test-key", "WTF_CSRF_ENABLED": False,
                          "QUEUE_URL": "immediate", "PASSWORD_HASH_METHOD": CHEAP_HASH})
        with app.app_context():
            seed_signature_markers(db.session)
            db.session.commit()
        yield SignatureTrial(app=app, password=demo_database.password)
        app.extensions["lims_db"]["engine"].dispose()


@pytest.fixture()
def sig_client(signature_trial: SignatureTrial) -> Any:
    """Return a function logging a fresh test client of the trial in as a demo user."""

    def _login(username: str = "pi") -> FlaskClient:
        client = signature_trial.app.test_client()
        response = client.post("/login", data={"username": username, "password": signature_trial.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _login
