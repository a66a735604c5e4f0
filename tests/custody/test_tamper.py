"""Insider tampering behind the application's back is detected and the first bad place named, for every kind.

The attacker has the database (and DDL rights: the append-only triggers are dropped first) but not the custody
key file nor the anchor file. Every test starts from three anchored chains: a (4 events), b (3), c (2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from lims.custody.anchors import write_anchor
from lims.custody.models import CustodyEvent
from lims.custody.report import CustodyReport
from lims.custody.service import record_event, verify_chain
from lims.samples.models import Sample
from tests.custody.conftest import drop_custody_guard


@dataclass
class World:
    a: Sample
    b: Sample
    c: Sample

    def event(self, session: Session, sample: Sample, seq: int) -> CustodyEvent:
        return session.scalar(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id,
                                                         CustodyEvent.seq == seq))


@pytest.fixture()
def world(session, make_sample, user) -> World:
    tech = user("technician")
    a, b, c = make_sample(), make_sample(), make_sample()
    for sample, actions in ((a, ["collected", "stored", "checked_out", "checked_in"]),
                            (b, ["collected", "stored", "thawed"]), (c, ["collected", "stored"])):
        for action in actions:
            record_event(session, sample.id, action, by=tech, site_code="ZJ", details={"note": action})
    write_anchor(session)
    session.commit()  # the anchor line is appended when the transaction commits
    return World(a, b, c)


def damaged(session: Session) -> CustodyReport:
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok, "tampering went unnoticed"
    return report


def first(report: CustodyReport, sample: Sample | None = None) -> tuple[int | None, str]:
    """Return (seq, message) of the first problem of ``sample`` (or of the whole report)."""
    problems = [p for p in report.problems if sample is None or p.sample_id == sample.id]
    assert problems, [p.describe() for p in report.problems]
    return problems[0].seq, problems[0].message


def execute(session: Session, sql: str, **params: object) -> None:
    session.execute(text(sql), params)


def test_untouched_custody_is_intact(session, world, anchor_file: Path) -> None:
    report = verify_chain(session)
    assert report.ok, [p.describe() for p in report.problems]
    assert (report.events, report.chains, report.checkpoints, report.anchors) == (9, 3, 1, 1)
    assert report.newest_anchor.heads == 3 and "checkpoint=1 " in anchor_file.read_text()


def test_an_edited_event_is_named(session, world) -> None:
    victim = world.event(session, world.a, 2)
    drop_custody_guard(session)
    execute(session, "UPDATE custody_event SET reason = 'nothing to see' WHERE id = :id", id=victim.id)
    report = damaged(session)
    assert report.problem_count == 1
    problem = report.problems[0]
    assert (problem.sample_id, problem.seq, problem.event_id) == (world.a.id, 2, victim.id)
    assert problem.message.startswith("altered") and problem.accession == world.a.accession
    assert f"sample {world.a.accession} event #2 (id {victim.id}): altered" in problem.describe()


def test_a_deleted_event_is_named(session, world) -> None:
    victim = world.event(session, world.a, 3)
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE id = :id", id=victim.id)
    report = damaged(session)
    assert report.problem_count == 1
    assert first(report, world.a) == (3, "missing (deleted): the chain jumps from #2 to #4")


def test_reordered_events_are_named(session, world) -> None:
    two, three = world.event(session, world.a, 2), world.event(session, world.a, 3)
    drop_custody_guard(session)
    execute(session, "UPDATE custody_event SET seq = 100 WHERE id = :id", id=two.id)
    execute(session, "UPDATE custody_event SET seq = 2 WHERE id = :id", id=three.id)
    execute(session, "UPDATE custody_event SET seq = 3 WHERE id = :id", id=two.id)
    seq, message = first(damaged(session), world.a)
    assert seq == 2 and message.startswith("altered")


def test_a_genuine_event_moved_to_another_place_is_named(session, world) -> None:
    # Swap whole rows' content, MACs included, between two places of a's chain: each row is genuine.
    two, three = world.event(session, world.a, 2), world.event(session, world.a, 3)
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE id = :id", id=three.id)
    execute(session, "UPDATE custody_event SET seq = 3 WHERE id = :id", id=two.id)
    report = damaged(session)
    assert first(report, world.a) == (2, "missing (deleted): the chain jumps from #1 to #3")
    assert any(p.seq == 3 and p.message.startswith("altered") for p in report.problems)


def test_a_forged_event_is_named(session, world) -> None:
    last = world.event(session, world.b, 3)
    drop_custody_guard(session)
    forged_mac = hashlib.sha256(b"a guess").hexdigest()
    session.execute(insert(CustodyEvent.__table__).values(
        sample_id=world.b.id, seq=4, epoch=last.epoch, action="disposed", at=last.at, details={},
        prev_mac=last.mac, mac=forged_mac))
    execute(session, "UPDATE custody_chain SET seq = 4, mac = :mac WHERE sample_id = :s", mac=forged_mac,
            s=world.b.id)
    report = damaged(session)
    assert report.problem_count == 1
    seq, message = first(report, world.b)
    assert seq == 4 and "forged" in message


def test_re_chaining_with_the_public_hash_is_named(session, world) -> None:
    drop_custody_guard(session)
    events = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == world.a.id)
                             .order_by(CustodyEvent.seq)).all()
    prev = events[0].mac
    for event in events[1:]:  # edit #2, then re-hash #2..#4 the way the old unkeyed chain did
        reason = "nothing to see" if event.seq == 2 else event.reason
        content = json.dumps({"seq": event.seq, "reason": reason, "prev": prev}, sort_keys=True)
        mac = hashlib.sha256(content.encode()).hexdigest()
        execute(session, "UPDATE custody_event SET reason = :r, prev_mac = :p, mac = :m WHERE id = :id",
                r=reason, p=prev, m=mac, id=event.id)
        prev = mac
    execute(session, "UPDATE custody_chain SET mac = :m WHERE sample_id = :s", m=prev, s=world.a.id)
    report = damaged(session)
    seq, message = first(report, world.a)
    assert seq == 2 and message.startswith("altered")
    assert any(p.seq == 4 and "rewritten" in p.message for p in report.problems)  # the checkpoint saw #4


def test_a_truncated_chain_is_named(session, world) -> None:
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE sample_id = :s AND seq >= 3", s=world.a.id)
    report = damaged(session)
    seq, message = first(report, world.a)
    assert seq == 3 and "checkpoint #1 sealed this chain at #4 but it stops at #2" in message


def test_a_rewound_chain_is_named(session, world) -> None:
    two = world.event(session, world.a, 2)
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE sample_id = :s AND seq >= 3", s=world.a.id)
    execute(session, "UPDATE custody_chain SET seq = 2, mac = :m WHERE sample_id = :s", m=two.mac,
            s=world.a.id)
    report = damaged(session)
    assert report.problem_count == 1
    expected = ("missing (deleted): checkpoint #1 sealed this chain at #4 but it stops at #2 (truncated or "
                "rewound)")
    assert first(report, world.a) == (3, expected)


def test_a_deleted_chain_is_named(session, world) -> None:
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE sample_id = :s", s=world.c.id)
    execute(session, "DELETE FROM custody_chain WHERE sample_id = :s", s=world.c.id)
    report = damaged(session)
    seq, message = first(report, world.c)
    assert seq == 1 and "chain is deleted: checkpoint #1 sealed it at #2" in message


def test_deleting_a_samples_history_and_re_chaining_it_is_named(session, world) -> None:
    one = world.event(session, world.b, 1)
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE sample_id = :s", s=world.b.id)
    prev = "0" * 64
    for seq, action in ((1, "collected"), (2, "disposed")):
        mac = hashlib.sha256(f"{prev}{seq}{action}".encode()).hexdigest()
        session.execute(insert(CustodyEvent.__table__).values(
            sample_id=world.b.id, seq=seq, epoch=one.epoch, action=action, at=one.at, details={},
            prev_mac=prev, mac=mac))
        prev = mac
    execute(session, "UPDATE custody_chain SET seq = 2, mac = :m WHERE sample_id = :s", m=prev, s=world.b.id)
    report = damaged(session)
    seq, message = first(report, world.b)
    assert seq == 1 and message.startswith("altered")


def test_an_altered_checkpoint_is_named(session, world) -> None:
    drop_custody_guard(session)
    execute(session, "UPDATE custody_checkpoint SET heads = 2 WHERE number = 1")
    report = damaged(session)
    assert report.problems[0].checkpoint == 1 and report.problems[0].message.startswith("altered")


def test_a_deleted_checkpoint_head_is_named(session, world) -> None:
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_checkpoint_head WHERE sample_id = :s", s=world.a.id)
    report = damaged(session)
    assert report.problem_count == 1
    assert report.problems[0].checkpoint == 1 and "heads it sealed were altered" in report.problems[0].message


def test_deleted_checkpoint_rows_are_named(session, world, make_sample) -> None:
    record_event(session, world.a.id, "thawed", by=None)
    write_anchor(session)
    session.commit()
    drop_custody_guard(session)
    execute(session, "UPDATE custody_chain SET checkpoint_number = NULL")
    execute(session, "DELETE FROM custody_checkpoint_head WHERE checkpoint_number = 1")
    execute(session, "DELETE FROM custody_checkpoint WHERE number = 1")
    report = damaged(session)
    assert report.problems[0].checkpoint == 1
    assert report.problems[0].message == "missing (deleted): the checkpoints jump from #0 to #2"
    execute(session, "DELETE FROM custody_checkpoint_head WHERE checkpoint_number = 2")
    execute(session, "DELETE FROM custody_checkpoint WHERE number = 2")
    report = damaged(session)
    newest = [p for p in report.problems if p.checkpoint == 2]
    assert newest and "missing from the database, but" in newest[0].message


def test_deleting_everything_is_still_detected(session, world) -> None:
    drop_custody_guard(session)
    for table in ("custody_checkpoint_head", "custody_chain", "custody_event", "custody_checkpoint"):
        execute(session, f"DELETE FROM {table}")  # noqa: S608 - the four table names above
    report = damaged(session)
    assert any(p.checkpoint == 1 and "missing from the database" in p.message for p in report.problems)


def test_a_lost_anchor_file_is_reported(session, world, anchor_file: Path) -> None:
    anchor_file.unlink()
    report = damaged(session)
    assert "does not exist, but the database holds checkpoints up to #1" in report.problems[0].message


def test_events_after_the_newest_anchor_can_be_cut_until_the_next_anchor(session, world) -> None:
    """The documented limit: what no anchor has sealed yet can be removed without a trace."""
    four = world.event(session, world.a, 4)
    record_event(session, world.a.id, "thawed", by=None)
    session.commit()
    drop_custody_guard(session)
    execute(session, "DELETE FROM custody_event WHERE sample_id = :s AND seq = 5", s=world.a.id)
    execute(session, "UPDATE custody_chain SET seq = 4, mac = :m, checkpoint_number = 1 WHERE sample_id = :s",
            m=four.mac, s=world.a.id)
    session.expire_all()
    assert verify_chain(session).ok


def test_malformed_rows_are_named_instead_of_crashing(session, world) -> None:
    two_a, two_b = world.event(session, world.a, 2), world.event(session, world.b, 2)
    drop_custody_guard(session)
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL's types refuse such text; an attacker with DDL rights changes the types first.
        execute(session, "ALTER TABLE custody_event ALTER COLUMN at TYPE text USING at::text")
        execute(session, "ALTER TABLE custody_event ALTER COLUMN details TYPE text USING details::text")
    execute(session, "UPDATE custody_event SET at = 'yesterday' WHERE id = :id", id=two_a.id)
    execute(session, "UPDATE custody_event SET details = '{\"note\": broken' WHERE id = :id", id=two_b.id)
    report = damaged(session)
    assert first(report, world.a) == (2, "malformed: its time 'yesterday' is not a timestamp")
    seq, message = first(report, world.b)
    assert seq == 2 and message.startswith("malformed: its details are not JSON")
    assert report.problem_count == 2 and report.events == 9


def test_a_missing_or_malformed_key_file_is_reported(app, session, world, monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(tmp_path / "nowhere"))
    report = damaged(session)
    assert "custody key file" in report.problems[0].message and "is missing" in report.problems[0].message
    broken = tmp_path / "broken_key"
    broken.write_text("1 not-hex\n")
    monkeypatch.setitem(app.config, "CUSTODY_KEY_FILE", str(broken))
    report = damaged(session)
    assert "line 1: expected '<epoch> <64 hex digits>'" in report.problems[0].message


def test_a_dropped_column_is_reported_not_a_crash(session, world) -> None:
    drop_custody_guard(session)
    execute(session, "ALTER TABLE custody_event DROP COLUMN reason")
    report = damaged(session)
    assert report.problems[0].message.startswith("the custody tables cannot be read as they should be")


def test_audit_verify_exits_non_zero_and_names_the_event(session, runner, world) -> None:
    from lims.cli import main

    ok = runner.invoke(main, ["audit", "verify"])
    assert ok.exit_code == 0 and "Custody chain intact: 9 events in 3 chains" in ok.output
    victim = world.event(session, world.b, 2)
    drop_custody_guard(session)
    execute(session, "UPDATE custody_event SET to_location = 'somewhere else' WHERE id = :id", id=victim.id)
    session.expire_all()
    broken = runner.invoke(main, ["audit", "verify"])
    assert broken.exit_code == 1
    assert f"sample {world.b.accession} event #2 (id {victim.id}): altered" in broken.output
