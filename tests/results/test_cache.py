"""Derived data are cached per data version: a write through any worker is seen by every worker at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask import Flask
from sqlalchemy import insert, select, update

from lims import create_app
from lims.clinical.importer import import_tables
from lims.config import DEFAULT_PROTOCOL
from lims.core import versions
from lims.core.migrate import upgrade
from lims.extensions import db
from lims.markers.models import Marker
from lims.results import data
from lims.samples.models import Sample
from lims.samples.service import register_primary
from lims.studies.service import get_study, timepoint_by_code
from tests.conftest import PASSWORD, PG_URL, fresh_database

ENROL = date(2025, 1, 6)
TREATMENT = b"participant_id,rt_start,rt_end,rt_dose_gy,rt_fractions\nZJ-801,2025-01-13,2025-02-14,41.4,23\n"
CRE_801 = b"participant_id,seq,date,overall\nZJ-801,1,2025-03-20,cCR\n"
CRE_802 = b"participant_id,seq,date,overall\nZJ-802,1,2025-03-21,cCR\n"


def _ccr(frame: Any) -> dict[str, Any]:
    return {pid: (None if pd.isna(value) else int(value))
            for pid, value in zip(frame["participant_id"], frame["ccr_cre1"].astype(object), strict=True)}


def test_endpoints_follow_a_clinical_import_in_the_same_worker(session, study, make_participant, user):
    make_participant(code="ZJ-801", enrolled_on=ENROL)
    make_participant(code="ZJ-802", enrolled_on=ENROL)
    import_tables(session, study, {"treatment.csv": TREATMENT, "cre.csv": CRE_801}, by=user("data_manager"))
    before = versions.current(session, "clinical", "markers")
    first = _ccr(data.derived(session, study, "A"))
    assert first["ZJ-801"] == 1 and first["ZJ-802"] is None

    report = import_tables(session, study, {"cre.csv": CRE_802}, by=user("data_manager"))

    assert report.applied
    after = versions.current(session, "clinical", "markers")
    assert after[0] != before[0] and after[1] == before[1]  # clinical records changed, marker data did not
    assert _ccr(data.derived(session, study, "A"))["ZJ-802"] == 1


def test_the_cache_computes_once_per_version(session, study, make_participant):
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert data.cached(session, ("markers",), ("test", "once"), compute) == 1
    assert data.cached(session, ("markers",), ("test", "once"), compute) == 1  # served from the cache
    session.execute(insert(Marker), [{"code": "CACHE_M1", "name": "cache test", "category": "cytokine",
                                      "unit": "pg/mL"}])  # a bulk write through the session
    assert data.cached(session, ("markers",), ("test", "once"), compute) == 2
    assert data.cached(session, ("clinical",), ("test", "once"), compute) == 3  # another kind, another key
    make_participant(code="ZJ-803", enrolled_on=ENROL)  # an ORM write: people are part of both kinds
    assert data.cached(session, ("markers",), ("test", "once"), compute) == 4


def test_busy_sample_writes_leave_the_marker_version_alone(session, study, make_participant, user):
    p = make_participant(code="ZJ-804", enrolled_on=ENROL, rt_start_on=date(2025, 1, 20),
                         eot_on=date(2025, 2, 24))
    visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    kit = timepoint_by_code(study, "BASELINE").kit[0]
    before = versions.current(session, "markers")
    sample = register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                              by=user("technician"), collected_at=datetime(2025, 1, 8, 8, 0, tzinfo=UTC))
    session.execute(update(Sample).where(Sample.id == sample.id).values(freeze_thaw_count=3))
    sample.status = "in_storage"
    visit.status, visit.actual_on = "done", date(2025, 1, 8)
    session.flush()
    assert versions.current(session, "markers") == before  # collected, stored, thawed: no results changed
    sample.collected_at = sample.collected_at  # the same value: no change
    session.flush()
    assert versions.current(session, "markers") == before
    sample.collected_at = datetime(2025, 1, 8, 9, 0, tzinfo=UTC)  # a corrected collection time moves its day
    session.flush()
    assert versions.current(session, "markers") != before


def test_a_rolled_back_write_never_reuses_a_version(session, study, make_participant):
    before = versions.current(session, "clinical")
    nested = session.begin_nested()
    make_participant(code="ZJ-805", enrolled_on=ENROL)
    during = versions.current(session, "clinical")
    nested.rollback()
    assert versions.current(session, "clinical") == before
    make_participant(code="ZJ-806", enrolled_on=ENROL)
    assert versions.current(session, "clinical") not in (before, during)


def _worker(url: str, instance: Path) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                       "SECRET_KEY": "cache-test-key", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                       "MFA_ROLES": "", "RATELIMIT_ENABLED": False, "RATELIMIT_STORAGE_URI": "memory://",
                       "WTF_CSRF_ENABLED": False, "QUEUE_URL": "immediate"})


@pytest.fixture()
def two_workers(tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two app objects on one database, as two web workers are; the database holds two participants."""
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url)
        a, b = _worker(url, tmp_path / "a"), _worker(url, tmp_path / "b")
        with a.app_context():
            from lims.accounts.service import add_user
            from lims.participants.service import enrol, plan_visits, record_consent
            from lims.studies.models import Site
            from lims.studies.protocol import load_protocol
            from lims.studies.service import install_protocol

            install_protocol(db.session, load_protocol(DEFAULT_PROTOCOL))
            add_user(db.session, username="data_manager", password=PASSWORD, role="data_manager",
                     full_name="Data Manager")
            study = get_study(db.session)
            site = db.session.scalar(select(Site).where(Site.code == "ZJ"))
            for code in ("ZJ-801", "ZJ-802"):
                p = enrol(db.session, study, site=site, code=code, enrolled_on=ENROL, sex="M", age=61, ecog=0)
                record_consent(db.session, p, version="2.1", signed_on=ENROL,
                               scopes={"MARKER_RESEARCH": True})
                plan_visits(db.session, p)
            db.session.commit()
        try:
            yield a, b
        finally:
            for app in (a, b):
                app.extensions["lims_db"]["engine"].dispose()


def _import(app: Flask, files: dict[str, bytes]) -> None:
    from lims.accounts.models import User

    with app.app_context():
        by = db.session.scalar(select(User).where(User.username == "data_manager"))
        assert import_tables(db.session, get_study(db.session), files, by=by).applied
        db.session.commit()


def _derived(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return _ccr(data.derived(db.session, get_study(db.session), "A"))


def test_two_workers_agree_after_a_write_in_one(two_workers):
    a, b = two_workers
    _import(a, {"treatment.csv": TREATMENT, "cre.csv": CRE_801})
    assert _derived(a) == _derived(b) == {"ZJ-801": 1, "ZJ-802": None}  # both have it cached now

    _import(a, {"cre.csv": CRE_802})  # worker A writes

    assert _derived(b) == _derived(a) == {"ZJ-801": 1, "ZJ-802": 1}  # worker B does not serve its old copy
