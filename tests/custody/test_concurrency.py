"""Custody writers of different samples never wait for each other; writers of one sample take turns.

Runs on its own database (the transactions must really commit on separate connections) and without an app, so
the custody key and anchor file come from the environment, as for any script.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.custody.anchors import write_anchor
from lims.custody.models import CustodyEvent
from lims.custody.service import record_event, verify_chain
from lims.participants.service import enrol
from lims.samples.models import Sample
from lims.studies.models import Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol
from tests.conftest import PG_URL, fresh_database, requires_postgres

WRITERS = 6


@dataclass
class World:
    engine: Engine
    samples: list[int]
    anchors: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("custody-concurrency")
    with pytest.MonkeyPatch.context() as mp, fresh_database(PG_URL or "sqlite://", tmp) as url:
        mp.setenv("LIMS_CUSTODY_KEY_FILE", str(tmp / "custody_key"))
        mp.setenv("LIMS_CUSTODY_ANCHOR_FILE", str(tmp / "custody-anchors.log"))
        upgrade(url)
        engine = make_engine(url, pool_size=WRITERS + 4) if url.startswith("postgresql") else make_engine(url)
        with Session(engine) as session:
            study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
            site = session.scalar(select(Site).where(Site.code == "ZJ"))
            p = enrol(session, study, site=site, code="ZJ-CONC", enrolled_on=date(2025, 1, 6), sex="F",
                      age=50)
            blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
            samples = [Sample(accession=f"TB-CONC-{i}", study_id=study.id, participant_id=p.id,
                              sample_type_id=blood.id, derivation="primary", status="collected", quantity=1.0,
                              unit="ml", site_id=p.site_id) for i in range(WRITERS + 2)]
            session.add_all(samples)
            session.flush()
            for s in samples:
                record_event(session, s.id, "collected", by=None)
            session.commit()
            ids = [s.id for s in samples]
        try:
            yield World(engine, ids, tmp / "custody-anchors.log")
        finally:
            engine.dispose()


def _lock_timeout(session: Session, ms: int) -> None:
    session.execute(text(f"SET LOCAL lock_timeout = '{ms}ms'"))


@requires_postgres
def test_a_writer_does_not_wait_for_another_samples_open_chain(world: World) -> None:
    a, b = world.samples[0], world.samples[1]
    with Session(world.engine) as holder, Session(world.engine) as other, Session(world.engine) as same:
        record_event(holder, a, "checked_out", by=None)
        holder.flush()  # holds sample a's chain head, uncommitted
        _lock_timeout(other, 2000)
        record_event(other, b, "checked_out", by=None)
        other.commit()  # would fail with a lock timeout if it waited for a's writer
        _lock_timeout(same, 300)
        with pytest.raises(OperationalError, match="lock timeout"):
            record_event(same, a, "checked_in", by=None)  # the same chain takes its turn
        same.rollback()
        holder.commit()
        record_event(same, a, "checked_in", by=None)
        same.commit()
    with Session(world.engine) as session:
        actions = session.scalars(select(CustodyEvent.action).where(CustodyEvent.sample_id == a)
                                  .order_by(CustodyEvent.seq)).all()
        assert actions == ["collected", "checked_out", "checked_in"]


@requires_postgres
def test_an_anchor_does_not_wait_for_a_writer_and_leaves_its_head_for_the_next(world: World) -> None:
    a, b = world.samples[2], world.samples[3]
    with Session(world.engine) as writer, Session(world.engine) as anchorer:
        record_event(writer, a, "thawed", by=None)
        writer.flush()
        with Session(world.engine) as other:
            record_event(other, b, "thawed", by=None)
            other.commit()
        _lock_timeout(anchorer, 2000)
        first = write_anchor(anchorer)
        anchorer.commit()
        writer.commit()
        second = write_anchor(anchorer)
        anchorer.commit()
    lines = world.anchors.read_text().splitlines()
    assert lines[-2:] == [first.line, second.line] and second.checkpoint == first.checkpoint + 1
    with Session(world.engine) as session:
        heads = session.execute(text("SELECT checkpoint_number, sample_id FROM custody_checkpoint_head "
                                     "WHERE checkpoint_number >= :n"), {"n": first.checkpoint}).all()
        assert (second.checkpoint, a) in heads and (first.checkpoint, a) not in heads
        assert verify_chain(session, anchor_file=world.anchors).ok


def test_concurrent_writers_keep_every_chain_whole(world: World) -> None:
    """Writers of distinct samples and several writers of one shared sample, all at once, all commit."""
    shared = world.samples[-1]
    errors: list[str] = []
    barrier = threading.Barrier(WRITERS)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            for n in range(5):
                for sample_id in (world.samples[i], shared):
                    for _attempt in range(50):
                        with Session(world.engine) as session:
                            try:
                                record_event(session, sample_id, "moved", by=None,
                                             details={"writer": i, "n": n})
                                session.commit()
                                break
                            except OperationalError:  # SQLite: another writer holds the database; retry
                                session.rollback()
                    else:
                        errors.append(f"writer {i} gave up")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with Session(world.engine) as session:
        seqs = session.scalars(select(CustodyEvent.seq).where(CustodyEvent.sample_id == shared)
                               .order_by(CustodyEvent.seq)).all()
        assert seqs == list(range(1, 2 + WRITERS * 5))
        report = verify_chain(session, anchor_file=world.anchors)
        assert report.ok, [p.describe() for p in report.problems]
