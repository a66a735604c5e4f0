"""Storage rules: placing by scan, refusals, moves with events for every sample, paths, occupancy,
retention."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from lims.core.errors import Conflict, DomainError, Forbidden
from lims.custody.models import CustodyEvent
from lims.custody.service import verify_chain
from lims.storage import placement, service
from lims.storage.models import Placement
from tests.storage.conftest import make_lab


def _actions(session, sample) -> list[str]:
    return list(session.scalars(select(CustodyEvent.action).where(CustodyEvent.sample_id == sample.id)
                                .order_by(CustodyEvent.seq)))


def test_scan_places_into_next_free_or_typed_position(session, lab, user) -> None:
    tech = user("technician")
    a, b, c = lab.tubes[:3]
    first = service.place_by_scan(session, lab.box, f"  {a.accession.lower()} ", by=tech)
    assert first.position == "A1" and first.action == "stored" and a.status == "in_storage"
    typed = service.place_by_scan(session, lab.box, b.accession, position="b03", by=tech)
    assert typed.position == "B3"
    nxt = service.place_by_scan(session, lab.box, c.accession, by=tech)
    assert nxt.position == "A2"
    assert first.path == f"ZJ › {lab.freezer.name} › {lab.rack.name} › {lab.box.name} › A1"
    assert service.location_path(session, a.id) == first.path
    assert _actions(session, a)[-1] == "stored"
    event = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == a.id)
                            .order_by(CustodyEvent.seq.desc())).first()
    assert event.to_location == first.path and event.user_id == tech.id and event.site_code == "ZJ"


def test_occupied_position_is_refused_and_nothing_is_written(session, lab, user) -> None:
    tech = user("technician")
    a, b = lab.tubes[:2]
    service.place_by_scan(session, lab.box, a.accession, position="B3", by=tech)
    before = session.scalar(select(func.count()).select_from(CustodyEvent))
    with pytest.raises(Conflict, match=f"position B3 of box {lab.box.barcode} is taken by {a.accession}"):
        service.place_by_scan(session, lab.box, b.accession, position="B3", by=tech)
    assert session.get(Placement, b.id) is None and b.status == "collected"
    assert session.scalar(select(func.count()).select_from(CustodyEvent)) == before


def test_database_constraint_is_the_arbiter(session, lab, user) -> None:
    """A stale pre-check (another request filled the position meanwhile) still ends in a clear conflict."""
    a, b = lab.tubes[:2]
    session.add(Placement(sample_id=a.id, unit_id=lab.box.id, row=1, col=1))
    with pytest.raises(Conflict, match=f"position A1 of box {lab.box.barcode} is taken"):
        placement._write_placement(session, b.accession, lab.box.barcode, "A1",
                                 lambda: session.add(Placement(sample_id=b.id, unit_id=lab.box.id, row=1,
                                                               col=1)))
    assert session.get(Placement, b.id) is None
    assert session.get(Placement, a.id) is not None  # the session is still usable


def test_next_free_position_taken_meanwhile_takes_the_next_one(session, lab, user, monkeypatch) -> None:
    """Two people storing into one box at once (PostgreSQL): the one who loses the position gets the next."""
    tech = user("technician")
    a, b = lab.tubes[:2]
    service.place_by_scan(session, lab.box, a.accession, by=tech)
    real, calls = placement.next_free, []

    def stale(session_, unit, after=None):  # what a concurrent store saw before the other one committed
        calls.append(unit.id)
        return (1, 1) if len(calls) == 1 else real(session_, unit, after)

    monkeypatch.setattr(placement, "next_free", stale)
    placed = service.place_by_scan(session, lab.box, b.accession, by=tech)
    assert placed.position == "A2" and len(calls) == 2
    assert _actions(session, b) == ["derived", "stored"]  # one custody event: the lost attempt left none
    with pytest.raises(Conflict, match=r"position A1 of box .* is taken"):  # a typed position is not moved
        service.place_by_scan(session, lab.box, lab.tubes[2].accession, position="A1", by=tech)


def test_bad_positions_wrong_box_type_other_site_and_bad_ids(session, lab, study, make_participant,
                                                             user) -> None:
    tech = user("technician")
    a = lab.tubes[0]
    with pytest.raises(DomainError, match=r"outside .* \(A1 to C3\)"):
        service.place_by_scan(session, lab.box, a.accession, position="D1", by=tech)
    with pytest.raises(DomainError, match="not a position"):
        service.place_by_scan(session, lab.box, a.accession, position="3B", by=tech)
    with pytest.raises(DomainError, match=r"wrong box type: .* takes only CTDNA_PLASMA, SERUM"):
        service.place_sample(session, lab.blood, lab.box, by=tech)
    with pytest.raises(DomainError, match="not a container for tubes"):
        service.place_sample(session, a, lab.rack, by=tech)
    with pytest.raises(DomainError, match="check character"):
        service.place_by_scan(session, lab.box, a.accession[:-1] + ("A" if a.accession[-1] != "A" else "B"),
                              by=tech)
    nb = make_lab(session, study, make_participant, user, site_code="NB", tag="N")
    with pytest.raises(DomainError, match=r"is at site ZJ but .* is at site NB: ship it there first"):
        service.place_sample(session, a, nb.box2, by=None)
    with pytest.raises(Forbidden, match="you work for ZJ"):
        service.place_sample(session, nb.tubes[0], nb.box2, by=tech)
    assert session.get(Placement, a.id) is None


def test_temperature_and_full_box_and_capacity(session, lab, user) -> None:
    tech = user("technician")
    fridge = service.create_unit(session, site=lab.site, kind="fridge", name="T fridge", barcode="T-FRG",
                                 set_temp_c=4.0)
    warm = service.create_unit(session, site=lab.site, kind="box", name="T fridge box", barcode="T-FB",
                               parent=fridge, rows=2, cols=2)
    with pytest.raises(DomainError, match="must be kept at -80 °C but T fridge box is stored at 4 °C"):
        service.place_sample(session, lab.tubes[0], warm, by=tech)
    for tube in lab.tubes[:4]:
        service.place_sample(session, tube, lab.box2, by=tech)
    with pytest.raises(Conflict, match="is full"):
        service.place_sample(session, lab.tubes[4], lab.box2, by=tech)
    bag = service.create_unit(session, site=lab.site, kind="bag", name="T bag", barcode="T-BAG",
                              parent=lab.rack,
                              capacity=1)
    service.place_sample(session, lab.tubes[4], bag, by=tech)
    with pytest.raises(Conflict, match=r"T bag .* is full \(1 of 1\)"):
        service.place_sample(session, lab.tubes[5], bag, by=tech)
    assert service.location_path(session,
                                 lab.tubes[4].id) == f"ZJ › {lab.freezer.name} › {lab.rack.name} › T bag"


def test_numbered_label_scheme(session, lab, user) -> None:
    box = service.create_unit(session, site=lab.site, kind="box", name="T numbered", barcode="T-NUM",
                              parent=lab.rack, rows=3, cols=4, label_scheme="1")
    placed = service.place_sample(session, lab.tubes[0], box, position="7", by=user("technician"))
    assert placed.position == "7" and session.get(Placement, lab.tubes[0].id).row == 2
    assert service.location_path(session, lab.tubes[0].id).endswith("T numbered › 7")


def test_move_box_moves_every_sample_with_events(session, lab, user) -> None:
    tech = user("technician")
    for tube in lab.tubes[:3]:
        service.place_sample(session, tube, lab.box, by=tech)
    rack2 = service.create_unit(session, site=lab.site, kind="rack", name="T rack 2", barcode="T-R2",
                                parent=lab.freezer)
    moved = service.move_unit(session, lab.box, rack2, by=tech, expected_version=lab.box.version)
    assert moved == 3
    for tube in lab.tubes[:3]:
        event = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == tube.id)
                                .order_by(CustodyEvent.seq.desc())).first()
        assert event.action == "moved"
        assert " › T rack 1 › " in event.from_location and " › T rack 2 › " in event.to_location
        assert service.location_path(session, tube.id).startswith(f"ZJ › {lab.freezer.name} › T rack 2 › ")
    # Moving the rack (two levels up) gives the samples inside the box their events too.
    service.place_sample(session, lab.tubes[3], lab.box2, by=tech)
    assert service.move_unit(session, lab.rack, lab.tank, by=tech) == 1
    assert service.location_path(session,
                                 lab.tubes[3].id).startswith(f"ZJ › {lab.tank.name} › {lab.rack.name}")
    assert verify_chain(session).ok


def test_move_into_itself_descendant_other_site_or_box_is_refused(session, lab, study, make_participant,
                                                                  user) -> None:
    with pytest.raises(DomainError, match="into itself"):
        service.move_unit(session, lab.rack, lab.rack, by=None)
    with pytest.raises(DomainError, match="is inside"):
        service.move_unit(session, lab.freezer, lab.box, by=None)
    with pytest.raises(DomainError, match="is inside T -80 freezer"):
        service.move_unit(session, lab.freezer, lab.rack, by=None)
    with pytest.raises(DomainError, match="holds tubes, not other units"):
        service.move_unit(session, lab.box2, lab.box, by=None)
    nb = make_lab(session, study, make_participant, user, site_code="NB", tag="N")
    with pytest.raises(DomainError, match=r"at site NB .* ship the samples instead"):
        service.move_unit(session, lab.rack, nb.freezer, by=None)
    with pytest.raises(Conflict, match="changed by someone else"):
        service.move_unit(session, lab.box, lab.tank, by=None, expected_version=lab.box.version - 1 or 99)


def test_move_sample_compare_and_set(session, lab, user) -> None:
    tech = user("technician")
    a = lab.tubes[0]
    service.place_sample(session, a, lab.box, by=tech)
    seen = session.get(Placement, a.id).version
    service.place_sample(session, a, lab.box2, by=tech, expected_version=seen)  # first mover wins
    with pytest.raises(Conflict, match="moved by someone else"):
        service.place_sample(session, a, lab.box, by=tech, expected_version=seen)
    assert _actions(session, a)[-2:] == ["stored", "moved"]
    with pytest.raises(Conflict, match="already in T box 2 \\(T-B2\\) at A1; type a position"):
        service.place_sample(session, a, lab.box2, by=tech)
    assert service.place_sample(session, a, lab.box2, position="B2", by=tech).position == "B2"


def test_usage_rolls_up_every_level(session, lab, user) -> None:
    tech = user("technician")
    for tube in lab.tubes[:2]:
        service.place_sample(session, tube, lab.box, by=tech)
    service.place_sample(session, lab.tubes[2], lab.box2, by=tech)
    use = service.usage(session, service.site_units(session, lab.site.id))
    assert (use[lab.box.id].capacity, use[lab.box.id].used) == (9, 2)
    assert (use[lab.box2.id].capacity, use[lab.box2.id].used) == (4, 1)
    assert (use[lab.rack.id].capacity, use[lab.rack.id].used) == (13, 3)
    assert (use[lab.freezer.id].capacity, use[lab.freezer.id].used, use[lab.freezer.id].free) == (13, 3, 10)
    assert service.unit_usage(session, lab.freezer).used == 3


def test_box_map_and_suggestion_keeps_visit_together(session, lab, user) -> None:
    tech = user("technician")
    service.place_sample(session, lab.tubes[0], lab.box2, position="A1", by=tech)
    grid = service.box_map(session, lab.box2)
    assert [[c.label for c in row] for row in grid] == [["A1", "A2"], ["B1", "B2"]]
    assert grid[0][0].sample.id == lab.tubes[0].id and grid[0][1].sample is None
    s = service.suggest_location(session, lab.tubes[1])
    assert (s.unit.id, s.position) == (lab.box2.id, "A2") and "other samples" in s.reason
    # Whole blood is not admitted by the plasma-only box 1: the suggestion is box 2.
    blood = service.suggest_location(session, lab.blood)
    assert blood is not None and blood.unit.id == lab.box2.id


def test_retention_review_lists_samples_past_their_period(session, lab, study, user) -> None:
    service.place_sample(session, lab.tubes[0], lab.box, by=user("technician"))
    years = study.settings["retention_years"]["CTDNA_PLASMA"]
    assert not [r for r in service.retention_due(session, study, on=date(2025, 6, 1)) if r.sample.id
                == lab.tubes[0].id]
    due = {r.sample.id: r for r in service.retention_due(session, study, on=date(2025 + years, 1, 9))}
    assert lab.tubes[0].id in due and due[lab.tubes[0].id].due_on == date(2025 + years, 1, 8)
    assert due[lab.tubes[0].id].location.endswith("A1")
