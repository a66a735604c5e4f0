"""The migration re-seals an existing global SHA-256 chain as keyed per-sample chains, and refuses to launder
one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from lims.config import DEFAULT_PROTOCOL
from lims.core import versions
from lims.core.database import make_engine
from lims.core.migrate import alembic_config, upgrade
from lims.custody import keys
from lims.custody.models import CustodyChain, CustodyEvent
from lims.custody.service import verify_chain
from lims.participants.service import enrol
from lims.samples.models import Sample
from lims.studies.models import Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol
from tests.conftest import PG_URL, fresh_database

BEFORE = "b3e7c41a9d02"  # the revision before the keyed chains


def old_hash(fields: dict) -> str:
    """The unkeyed hash the previous versions wrote (canonical JSON, SHA-256)."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
                          .encode()).hexdigest()


@dataclass
class OldInstallation:
    url: str
    engine: Engine
    samples: list[int]
    events: list[dict]


@pytest.fixture()
def old(tmp_path: Path) -> Iterator[OldInstallation]:
    """A database at the previous schema with 7 custody events of 3 samples in one global chain."""
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url, BEFORE)
        engine = make_engine(url)
        with Session(engine) as session:
            versions.pause(session)  # this database is at a revision before the data versions
            study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
            site = session.scalar(select(Site).where(Site.code == "ZJ"))
            p = enrol(session, study, site=site, code="ZJ-MIG", enrolled_on=date(2025, 1, 6), sex="F", age=50)
            blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
            samples = [Sample(accession=f"TB-MIG-{i}", study_id=study.id, participant_id=p.id,
                              sample_type_id=blood.id, derivation="primary", status="collected", quantity=1.0,
                              unit="ml", site_id=p.site_id) for i in range(3)]
            session.add_all(samples)
            session.commit()
            ids = [s.id for s in samples]
        plan = [(ids[0], "collected"), (ids[1], "collected"), (ids[0], "stored"), (ids[2], "collected"),
                (ids[1], "stored"), (ids[0], "correction"), (ids[2], "thawed")]
        events, prev, at = [], "0" * 64, datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
        for seq, (sample_id, action) in enumerate(plan, 1):
            row = {"id": seq, "seq": seq, "sample_id": sample_id, "action": action,
                   "at": at + timedelta(minutes=seq),
                   "user_id": None, "site_code": "ZJ", "from_location": None, "to_location": f"box {seq}",
                   "reason": None, "details": {"n": seq},
                   "corrects_id": 3 if action == "correction" else None,
                   "prev_hash": prev}
            row["hash"] = old_hash({"seq": seq, "sample_id": sample_id, "action": action,
                                    "at": row["at"].isoformat(timespec="microseconds"), "user_id": None,
                                    "site_code": "ZJ", "from": None, "to": row["to_location"], "reason": None,
                                    "details": row["details"], "corrects_id": row["corrects_id"],
                                    "prev_hash": prev})
            events.append(row)
            prev = row["hash"]
        with engine.begin() as conn:
            for row in events:
                conn.execute(text(
                    "INSERT INTO custody_event (id, seq, sample_id, action, at, user_id, site_code, "
                    "from_location, to_location, reason, details, corrects_id, prev_hash, hash) VALUES (:id, "
                    ":seq, :sample_id, :action, :at, :user_id, :site_code, :from_location, :to_location, "
                    ":reason, :details, :corrects_id, :prev_hash, :hash)"),
                    {**row, "details": json.dumps(row["details"]),
                     "at": row["at"] if engine.dialect.name == "postgresql"
                     else row["at"].replace(tzinfo=None)})
            conn.execute(text("INSERT INTO custody_head (id, seq, hash) VALUES (1, 7, :h)"), {"h": prev})
        try:
            yield OldInstallation(url, engine, ids, events)
        finally:
            engine.dispose()


def test_existing_events_are_resealed_per_sample_with_the_key(old: OldInstallation, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "instance" / "custody_key"
    monkeypatch.setenv("LIMS_CUSTODY_KEY_FILE", str(key_file))
    upgrade(old.url)
    assert keys.read_keyring(key_file).epoch == 1 and oct(key_file.stat().st_mode & 0o777) == "0o600"
    with Session(old.engine) as session:
        report = verify_chain(session, key_file=key_file, anchor_file=tmp_path / "anchors.log")
        assert report.ok, [p.describe() for p in report.problems]
        assert (report.events, report.chains) == (7, 3)
        first = old.samples[0]
        chain = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == first)
                                .order_by(CustodyEvent.seq)).all()
        assert [(e.id, e.seq, e.action) for e in chain] == [(1, 1, "collected"), (3, 2, "stored"),
                                                             (6, 3, "correction")]
        assert chain[2].corrects_id == 3 and chain[0].at == old.events[0]["at"]
        assert session.get(CustodyChain, first).seq == 3
    command.downgrade(alembic_config(old.url), BEFORE)
    with old.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, prev_hash, hash FROM custody_event ORDER BY seq")).all()
        head = conn.execute(text("SELECT seq, hash FROM custody_head")).one()
    assert [r.hash for r in rows] == [e["hash"] for e in old.events]  # the same old chain, rebuilt
    assert tuple(head) == (7, old.events[-1]["hash"])


def test_a_broken_old_chain_is_not_laundered(old: OldInstallation, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_CUSTODY_KEY_FILE", str(tmp_path / "custody_key"))
    with old.engine.begin() as conn:
        if old.engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER custody_event_no_change ON custody_event"))
        else:
            conn.execute(text("DROP TRIGGER custody_event_no_update"))
        conn.execute(text("UPDATE custody_event SET reason = 'edited' WHERE seq = 4"))
    with pytest.raises(RuntimeError, match=r"custody event #4 \(id 4\) does not match its hash"):
        upgrade(old.url)
    monkeypatch.setenv("LIMS_CUSTODY_ACCEPT_BROKEN_CHAIN", "1")
    upgrade(old.url)
    with Session(old.engine) as session:
        assert verify_chain(session, key_file=tmp_path / "custody_key", anchor_file=tmp_path / "a.log").ok


def test_without_an_instance_folder_the_migration_refuses_to_guess_a_key(
        old: OldInstallation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIMS_CUSTODY_KEY_FILE", raising=False)
    monkeypatch.delenv("LIMS_INSTANCE_PATH", raising=False)
    with pytest.raises(RuntimeError, match="no instance folder is configured: run 'lims db upgrade'"):
        upgrade(old.url)
