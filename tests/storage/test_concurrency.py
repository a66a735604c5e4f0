"""Many technicians at once: exactly one winner per position, one mover per sample, no lost custody event.

Runs on its own migrated database (SQLite file, or PostgreSQL with LIMS_TEST_DATABASE_URL) because the
competing transactions must really commit on separate connections. Each worker does what a request does:
load, call the service, commit at the boundary (``commit_with_retry``, which re-runs the unit of work when
SQLite reports a write collision).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.accounts.service import add_user
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.errors import Conflict
from lims.core.migrate import upgrade
from lims.core.uow import run as commit_with_retry
from lims.custody.models import CustodyChain, CustodyEvent
from lims.custody.service import verify_chain
from lims.participants.service import enrol, plan_visits, record_consent
from lims.samples.models import Sample
from lims.samples.service import register_primary, split
from lims.storage import service
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol, timepoint_by_code
from tests.conftest import PASSWORD, PG_URL, fresh_database

WORKERS = 12
POSITIONS = ("A1", "B2", "C3", "A3")


@dataclass
class World:
    engine: Engine
    box_id: int
    tube_ids: list[int]
    tech_ids: list[int]


@pytest.fixture(scope="module", autouse=True)
def custody_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """These sessions run without an app: the custody key and anchor file come from the environment."""
    tmp = tmp_path_factory.mktemp("custody")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIMS_CUSTODY_KEY_FILE", str(tmp / "custody_key"))
        mp.setenv("LIMS_CUSTODY_ANCHOR_FILE", str(tmp / "custody-anchors.log"))
        yield


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp("concurrency")
    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        upgrade(url)
        engine = make_engine(url, pool_size=WORKERS + 2) if url.startswith("postgresql") else make_engine(url)
        with Session(engine) as session:
            study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
            techs = [add_user(session, username=f"tech{i}", password="correct horse battery",
                              role="technician",
                              full_name=f"Tech {i}", site_codes=("ZJ",)) for i in range(WORKERS)]
            site = session.scalar(select(Site).where(Site.code == "ZJ"))
            freezer = service.create_unit(session, site=site, kind="freezer", name="Race freezer",
                                          barcode="RACE-F",
                                          set_temp_c=-80.0)
            box = service.create_unit(session, site=site, kind="box", name="Race box", barcode="RACE-BOX",
                                      parent=freezer, rows=3, cols=3)
            p = enrol(session, study, site=site, code="ZJ-RACE", enrolled_on=date(2025, 1, 6), sex="F",
                      age=55)
            record_consent(session, p, version="2.1", signed_on=date(2025, 1, 6),
                           scopes={"MARKER_RESEARCH": True})
            p.rt_start_on, p.eot_on = date(2025, 1, 20), date(2025, 2, 24)
            session.flush()
            plan_visits(session, p)
            visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
            visit.status, visit.actual_on = "done", date(2025, 1, 8)
            kit = timepoint_by_code(study, "BASELINE").kit[0]
            blood = register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=20, unit="ml",
                                     by=techs[0], collected_at=datetime(2025, 1, 8, 8, tzinfo=UTC))
            plasma = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
            tubes = split(session, blood, sample_type=plasma, count=WORKERS + 1, volume=1.0, unit="ml",
                          by=techs[0], derivation="derivative")
            session.commit()
            yield World(engine, box.id, [t.id for t in tubes], [t.id for t in techs])
        engine.dispose()


def _race(world: World, attempts: list[Any]) -> list[tuple[str, Any]]:
    """Run each attempt in its own thread and session, all released at the same moment."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[tuple[str, Any]] = [("", None)] * len(attempts)

    def run(i: int, attempt: Any) -> None:
        with Session(world.engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                outcomes[i] = ("won", commit_with_retry(session, lambda: attempt(session)))
            except Conflict as exc:
                outcomes[i] = ("refused", exc.message)
            except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test, reported below
                outcomes[i] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def test_exactly_one_technician_wins_each_position(world: World) -> None:
    def attempt(i: int) -> Any:
        def work(session: Session) -> str:
            tech = session.get(User, world.tech_ids[i])
            sample = session.get(Sample, world.tube_ids[i])
            box = session.get(StorageUnit, world.box_id)
            return service.place_sample(session, sample, box, position=POSITIONS[i % len(POSITIONS)],
                                        by=tech).position
        return work

    outcomes = _race(world, [attempt(i) for i in range(WORKERS)])
    assert [o for o in outcomes if o[0] == "error"] == []
    winners = Counter(pos for kind, pos in outcomes if kind == "won")
    assert winners == Counter(dict.fromkeys(POSITIONS, 1)), outcomes
    refusals = [msg for kind, msg in outcomes if kind == "refused"]
    assert len(refusals) == WORKERS - len(POSITIONS)
    assert all("of box RACE-BOX is taken" in m and m.startswith("position ") for m in refusals), refusals
    with Session(world.engine) as session:
        rows = session.execute(select(Placement.row, Placement.col, func.count()).where(
            Placement.unit_id == world.box_id).group_by(Placement.row, Placement.col)).all()
        assert len(rows) == len(POSITIONS) and all(n == 1 for *_, n in rows)
        stored = session.scalar(select(func.count()).select_from(CustodyEvent)
                                .where(CustodyEvent.action == "stored"))
        assert stored == len(POSITIONS)
        losers = [world.tube_ids[i] for i, o in enumerate(outcomes) if o[0] == "refused"]
        assert set(session.scalars(select(Sample.status).where(Sample.id.in_(losers)))) == {"collected"}
        report = verify_chain(session)
        assert report.ok, report
        assert session.scalar(select(func.sum(CustodyChain.seq))) == session.scalar(
            select(func.count()).select_from(CustodyEvent))


def test_exactly_one_technician_moves_a_sample(world: World) -> None:
    tube_id = world.tube_ids[-1]
    with Session(world.engine) as session:
        box = session.get(StorageUnit, world.box_id)
        service.place_sample(session, session.get(Sample, tube_id), box, position="C1", by=None)
        session.commit()
        seen = session.get(Placement, tube_id).version
    free = [p for p in ("A2", "B1", "B3", "C2") if p not in POSITIONS]

    def attempt(i: int) -> Any:
        def work(session: Session) -> str:
            sample = session.get(Sample, tube_id)
            box = session.get(StorageUnit, world.box_id)
            return service.place_sample(session, sample, box, position=free[i % len(free)],
                                        by=session.get(User, world.tech_ids[i]),
                                        expected_version=seen).position
        return work

    outcomes = _race(world, [attempt(i) for i in range(6)])
    assert [o for o in outcomes if o[0] == "error"] == []
    assert sum(1 for kind, _ in outcomes if kind == "won") == 1, outcomes
    assert all("moved by someone else" in msg for kind, msg in outcomes if kind == "refused"), outcomes
    with Session(world.engine) as session:
        moved = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == tube_id,
                                                           CustodyEvent.action == "moved")).all()
        assert len(moved) == 1
        winner = next(pos for kind, pos in outcomes if kind == "won")
        assert moved[0].to_location.endswith(f"Race box › {winner}")
        assert session.get(Placement, tube_id).version == seen + 1
        assert verify_chain(session).ok


def test_exactly_one_technician_moves_a_box(world: World) -> None:
    with Session(world.engine) as session:
        site = session.scalar(select(Site).where(Site.code == "ZJ"))
        freezer = session.scalar(select(StorageUnit).where(StorageUnit.barcode == "RACE-F"))
        shelves = [service.create_unit(session, site=site, kind="shelf", name=f"Race shelf {i}",
                                       barcode=f"RACE-S{i}", parent=freezer).id for i in range(4)]
        session.commit()
        box = session.get(StorageUnit, world.box_id)
        seen, inside = box.version, session.scalar(select(func.count()).select_from(Placement).where(
            Placement.unit_id == world.box_id))

    def attempt(i: int) -> Any:
        def work(session: Session) -> int:
            return service.move_unit(session, session.get(StorageUnit, world.box_id),
                                     session.get(StorageUnit, shelves[i % len(shelves)]),
                                     by=session.get(User, world.tech_ids[i]), expected_version=seen)
        return work

    outcomes = _race(world, [attempt(i) for i in range(8)])
    assert [o for o in outcomes if o[0] == "error"] == []
    assert [o[1] for o in outcomes if o[0] == "won"] == [inside], outcomes
    assert all("someone else" in msg for kind, msg in outcomes if kind == "refused"), outcomes
    with Session(world.engine) as session:
        moved = session.scalar(select(func.count()).select_from(CustodyEvent).where(
            CustodyEvent.action == "moved",
            CustodyEvent.details["into"].as_string().in_([f"RACE-S{i}" for i in range(4)])))
        assert moved == inside  # one event per sample inside, from the single winner
        assert session.get(StorageUnit, world.box_id).version == seen + 1
        assert verify_chain(session).ok


def test_exactly_one_release_of_a_shipment(world: World) -> None:
    from lims.shipments import service as shipments
    from lims.studies.models import Study

    with Session(world.engine) as session:
        site = session.scalar(select(Site).where(Site.code == "ZJ"))
        box = service.create_unit(session, site=site, kind="box", name="Ship box", barcode="RACE-SHIP",
                                  rows=2, cols=2,
                                  parent=session.scalar(select(StorageUnit)
                                                        .where(StorageUnit.barcode == "RACE-F")))
        unplaced = session.scalars(select(Sample)
                                   .where(Sample.id.in_(world.tube_ids), Sample.status == "collected")
                                   .order_by(Sample.id).limit(3)).all()
        for tube in unplaced:
            service.place_sample(session, tube, box, by=None)
        shipment = shipments.create_shipment(session, session.scalar(select(Study)), from_site="ZJ",
                                             to_site="NB",
                                             conditions="dry_ice", by=None)
        packed = len(shipments.add_by_scan(session, shipment, "RACE-SHIP", by=None))
        assert packed == 3
        session.commit()
        shipment_id = shipment.id

    def attempt(i: int) -> Any:
        def work(session: Session) -> str:
            from lims.shipments.models import Shipment

            return shipments.release_shipment(session, session.get(Shipment, shipment_id),
                                              by=session.get(User, world.tech_ids[i]),
                                              signature=(PASSWORD, "approved")).status
        return work

    outcomes = _race(world, [attempt(i) for i in range(6)])
    assert [o for o in outcomes if o[0] == "error"] == []
    assert [o[1] for o in outcomes if o[0] == "won"] == ["released"], outcomes
    assert all("already released" in msg for kind, msg in outcomes if kind == "refused"), outcomes
    with Session(world.engine) as session:
        shipped = session.scalar(select(func.count()).select_from(CustodyEvent)
                                 .where(CustodyEvent.action == "shipped"))
        assert shipped == packed
        assert verify_chain(session).ok


def test_a_tube_is_packed_into_one_shipment_only(world: World) -> None:
    from lims.shipments import service as shipments
    from lims.shipments.models import Shipment, ShipmentItem
    from lims.studies.models import Study

    with Session(world.engine) as session:
        site = session.scalar(select(Site).where(Site.code == "ZJ"))
        box = service.create_unit(session, site=site, kind="box", name="Pack box", barcode="RACE-PACK",
                                  rows=1,
                                  cols=1, parent=session.scalar(select(StorageUnit)
                                                                .where(StorageUnit.barcode == "RACE-F")))
        tube = session.scalars(select(Sample)
                               .where(Sample.id.in_(world.tube_ids), Sample.status == "collected")
                               .order_by(Sample.id.desc()).limit(1)).one()
        service.place_sample(session, tube, box, by=None)
        drafts = [shipments.create_shipment(session, session.scalar(select(Study)), from_site="ZJ",
                                            to_site="WZ",
                                            conditions="ambient", by=None).id for _ in range(6)]
        session.commit()
        accession = tube.accession

    def attempt(i: int) -> Any:
        def work(session: Session) -> list[str]:
            return shipments.add_by_scan(session, session.get(Shipment, drafts[i]), accession, by=None)
        return work

    outcomes = _race(world, [attempt(i) for i in range(6)])
    assert [o for o in outcomes if o[0] == "error"] == []
    assert [o[1] for o in outcomes if o[0] == "won"] == [[accession]], outcomes
    assert all("already packed in shipment" in msg for kind, msg in outcomes if kind == "refused"), outcomes
    with Session(world.engine) as session:
        assert session.scalar(select(func.count()).select_from(ShipmentItem).where(
            ShipmentItem.accession == accession)) == 1
