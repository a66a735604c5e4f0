"""Custody events chain by hash; tampering made directly in the database is found."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from lims.core.errors import DomainError
from lims.custody.service import history, record_event, verify_chain
from lims.samples.models import Sample


def drop_custody_guard(session) -> None:
    """Do what an attacker with DDL rights would: drop the append-only triggers (undone with the test)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER custody_event_no_change ON custody_event"))
    else:
        session.execute(text("DROP TRIGGER custody_event_no_update"))
        session.execute(text("DROP TRIGGER custody_event_no_delete"))


@pytest.fixture()
def sample(session, study, make_participant) -> Sample:
    p = make_participant()
    blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
    s = Sample(accession="TB-CUST-1", study_id=study.id, participant_id=p.id, sample_type_id=blood.id,
               derivation="primary", status="collected", quantity=10.0, unit="ml", site_id=p.site_id)
    session.add(s)
    session.flush()
    return s


def test_events_chain_and_verify(session, sample, user) -> None:
    tech = user("technician")
    e1 = record_event(session, sample.id, "collected", by=tech, site_code="ZJ")
    e2 = record_event(session, sample.id, "stored", by=tech, to_location="ZJ-FRZ1-B001 A1")
    assert e2.seq == e1.seq + 1 and e2.prev_hash == e1.hash
    session.flush()
    fix = record_event(session, sample.id, "correction", by=tech, corrects=e2, reason="wrong box scanned",
                       details={"to": "ZJ-FRZ1-B001 A2"})
    assert fix.corrects_id == e2.id
    assert [e.action for e in history(session, sample.id)] == ["collected", "stored", "correction"]
    report = verify_chain(session)
    assert report.ok and report.checked >= 3


def test_correction_must_name_its_event_and_actions_are_known(session, sample) -> None:
    with pytest.raises(DomainError, match="must name the event it corrects"):
        record_event(session, sample.id, "correction", by=None)
    with pytest.raises(DomainError, match="unknown custody action"):
        record_event(session, sample.id, "teleported", by=None)


def test_altered_event_is_named(session, sample) -> None:
    record_event(session, sample.id, "collected", by=None)
    victim = record_event(session, sample.id, "checked_out", by=None, reason="assay run 12")
    record_event(session, sample.id, "checked_in", by=None)
    session.flush()
    drop_custody_guard(session)
    session.execute(text("UPDATE custody_event SET reason = 'nothing to see' WHERE id = :id"), {"id": victim.id})
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok
    assert report.broken_seq == victim.seq and report.broken_id == victim.id
    assert "altered" in report.problem


def test_deleted_event_is_named(session, sample) -> None:
    record_event(session, sample.id, "collected", by=None)
    victim = record_event(session, sample.id, "thawed", by=None)
    session.flush()
    victim_id, victim_seq = victim.id, victim.seq
    record_event(session, sample.id, "consumed", by=None)
    session.flush()
    drop_custody_guard(session)
    session.execute(text("DELETE FROM custody_event WHERE id = :id"), {"id": victim_id})
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.broken_seq == victim_seq and "missing" in report.problem
