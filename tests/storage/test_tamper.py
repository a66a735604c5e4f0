"""Custody events are append-only in the database itself; tampering past the guard is named by `lims audit
verify`."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from lims.cli import main
from lims.custody.models import CustodyEvent
from lims.storage.service import move_unit, place_sample
from tests.custody.conftest import drop_custody_guard


def test_database_refuses_update_and_delete_of_custody_events(session, lab, user) -> None:
    place_sample(session, lab.tubes[0], lab.box, by=user("technician"))
    session.flush()
    event = session.scalars(select(CustodyEvent).order_by(CustodyEvent.id.desc())).first()
    for statement in ("UPDATE custody_event SET reason = 'oops' WHERE id = :id",
                      "DELETE FROM custody_event WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement), {"id": event.id})
    assert session.get(CustodyEvent, event.id).reason is None


def test_audit_verify_names_the_altered_event(session, runner, lab, user) -> None:
    tech = user("technician")
    for tube in lab.tubes[:3]:
        place_sample(session, tube, lab.box, by=tech)
    move_unit(session, lab.box, lab.tank, by=tech)
    session.flush()
    ok = runner.invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "Custody chain intact" in ok.output
    victim = session.scalars(select(CustodyEvent).where(CustodyEvent.action == "moved")
                             .order_by(CustodyEvent.seq)).first()
    drop_custody_guard(session)  # an attacker with DDL rights
    session.execute(text("UPDATE custody_event SET to_location = 'ZJ › somewhere else' WHERE id = :id"),
                    {"id": victim.id})
    session.expire_all()
    broken = runner.invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "Custody chain BROKEN" in broken.output
    assert f"event #{victim.seq} (id {victim.id}): altered" in broken.output
