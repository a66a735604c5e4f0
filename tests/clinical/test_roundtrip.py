"""Demo -> REDCap-style CSV -> import into an empty database reproduces the same derived endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.service import add_user
from lims.clinical import redcap, service
from lims.clinical.models import ClinicalChange, ImportRun
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.participants.models import Participant
from lims.participants.service import enrol
from lims.studies.models import Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol
from tests.conftest import PG_URL, fresh_database
from tests.demo_db import DemoDatabase


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("participant_id").reset_index(drop=True).astype(str)


@contextmanager
def demo_session(demo_database: DemoDatabase, tmp: Path) -> Iterator[tuple[Session, Path]]:
    """A session on a copy of the run's demo trial, and the copy of its instance folder."""
    with demo_database.copy(tmp) as (url, instance):
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                yield session, instance
        finally:
            engine.dispose()


def test_demo_round_trip_through_redcap(demo_database: DemoDatabase, tmp_path: Path) -> None:
    with demo_session(demo_database, tmp_path / "demo") as (session, _):
        _round_trip(session, tmp_path)


def _round_trip(session: Session, tmp_path: Path) -> None:
    study = session.scalars(select(Participant)).first().study
    expected = {v: service.derived_endpoints(session, study, v) for v in "AB"}
    expected_qol = service.qol_scores(session, study)
    people = [(p.code, p.site.code, p.enrolled_on) for p in session.scalars(
        select(Participant).where(Participant.study_id == study.id))]
    export = redcap.export_redcap(session, study)
    assert export.count(b"\n") > 100

    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            with Session(engine) as other:
                target = install_protocol(other, load_protocol(DEFAULT_PROTOCOL))[0]
                manager = add_user(other, username="dm", password="a long enough password",
                                   role="data_manager",
                                   full_name="Data Manager")
                for code, site, enrolled_on in people:
                    enrol(other, target, site=other.scalar(select(Site).where(Site.code == site)), code=code,
                          enrolled_on=enrolled_on)
                report = redcap.import_redcap(other, target, "demo.csv", export, by=manager)
                assert report.problems == [] and report.applied
                assert report.inserted > 0 and report.updated == len(people)  # baseline of each participant
                for variant in "AB":
                    got = service.derived_endpoints(other, target, variant)
                    pd.testing.assert_frame_equal(_comparable(got), _comparable(expected[variant]))
                got_qol = service.qol_scores(other, target)
                for instrument, frame in expected_qol.items():
                    pd.testing.assert_frame_equal(_comparable(got_qol[instrument]), _comparable(frame))
                # The same file again changes nothing and records no run.
                runs = other.query(ImportRun).count()
                again = redcap.import_redcap(other, target, "demo.csv", export, by=manager)
                assert again.applied and again.inserted == again.updated == again.changes == 0
                assert other.query(ImportRun).count() == runs
                assert other.query(ClinicalChange).count() == report.changes
        finally:
            engine.dispose()


def test_demo_writes_its_export_and_mapping(demo_database: DemoDatabase, tmp_path: Path) -> None:
    with demo_session(demo_database, tmp_path) as (session, instance):
        _check_demo_files(session, instance / "demo-clinical")


def _check_demo_files(session: Session, folder: Path) -> None:
    from analysis.clinical_checks import check_consistency

    study = session.scalars(select(Participant)).first().study
    assert (folder / "redcap_mapping.yaml").read_text() == redcap.default_mapping_text()
    assert (folder / "redcap_export.csv").read_bytes() == redcap.export_redcap(session, study)
    tables = service.clinical_tables(session, study)
    assert check_consistency(tables) == []
    started = set(tables["treatment"]["participant_id"])
    assert started == set(tables["last_contact"]["participant_id"])  # everyone treated has censoring dates
    assert set(tables["cre"].loc[tables["cre"]["seq"] == 1, "participant_id"]) == {
        p.code for p in session.scalars(select(Participant)) if p.cre1_on is not None}
