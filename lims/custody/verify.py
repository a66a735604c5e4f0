"""Verify custody: every sample's chain, every checkpoint, and the newest anchors in the file.

Reads stream in one pass each (bounded memory for millions of events): the anchor file's tail first (its lines
only name committed checkpoints), then the checkpoints with their heads, then the events in chain order. Raw
column values are read without the ORM's conversions, so a malformed row is reported, never a crash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, String, column, exists, func, select, table, type_coerce
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.custody import chain, keys
from lims.custody.anchorfile import Anchor, newest_lines
from lims.custody.models import (
    CustodyChain,
    CustodyCheckpoint,
    CustodyCheckpointHead,
    CustodyEpoch,
    CustodyEvent,
)
from lims.custody.report import CustodyReport, Problem, as_int, shown
from lims.custody.walk import ChainWalker, CheckpointWalker

BATCH = 5000
NEWEST_ANCHORS = 20


def verify_chain(session: Session, *, key_file: Path | None = None, anchor_file: Path | None = None,
                 anchors: int = NEWEST_ANCHORS) -> CustodyReport:
    """Check every chain, checkpoint and the newest ``anchors`` anchor lines; name the first bad event of
    each."""
    report = CustodyReport()
    anchor_path = anchor_file or keys.anchor_file()
    lines = _read_anchor_lines(anchor_path, anchors, report)
    key_path = key_file or keys.key_file()
    try:
        keyring = keys.read_keyring(key_path)
    except DomainError as exc:
        report.add(Problem(exc.message))
        keyring = None
    try:
        _walk(session, keyring, key_path, anchor_path, lines, report)
    except SQLAlchemyError as exc:  # a dropped column or table: say so instead of crashing
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        report.add(Problem(f"the custody tables cannot be read as they should be: {reason}"))
        return report
    # Whole-installation problems first, then per chain in chain order: the first listed is the first bad
    # event.
    report.problems.sort(key=lambda p: (0, 0, 0) if p.sample_id is None else (1, p.sample_id, p.seq or 0))
    _name_samples(session, report)
    return report


def _walk(session: Session, keyring: keys.Keyring | None, key_path: Path, anchor_path: Path,
          lines: list[Anchor] | None, report: CustodyReport) -> None:
    _snapshot(session)
    _check_epochs(session, keyring, key_path, report)
    ring = keyring.keys if keyring else {}
    checkpoints = CheckpointWalker(ring, report)
    for row in session.execute(_checkpoint_rows().execution_options(yield_per=BATCH)):
        checkpoints.row(row)
    checkpoints.finish()
    walker = ChainWalker(ring, report, checkpoints.missing)
    for row in session.execute(_event_rows().execution_options(yield_per=BATCH)):
        walker.row(row)
    walker.finish()
    _check_headless(session, report, checkpoints.missing)
    _check_anchors(session, anchor_path, lines, report)
    for epoch, count in sorted(walker.unverifiable.items()):
        report.add(Problem(f"{count} events sealed with epoch {shown(epoch)} cannot be checked: the key file "
                           f"{key_path} has no key for that epoch (forged, or the key file is not the right "
                           "one)"))


def _snapshot(session: Session) -> None:
    # Read one consistent state while others write: PostgreSQL needs REPEATABLE READ for that (SQLite's
    # transaction already reads one snapshot). Only possible when this session's transaction starts here.
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _read_anchor_lines(path: Path, count: int, report: CustodyReport) -> list[Anchor] | None:
    try:
        raw = newest_lines(path, count)
    except FileNotFoundError:
        return None
    except OSError as exc:
        report.add(Problem(f"the anchor file {path} cannot be read: {exc}"))
        return []
    found = []
    for line in raw:
        try:
            found.append(Anchor.parse(line))
        except ValueError:
            report.add(Problem(f"the anchor file {path} holds a line that is not an anchor: "
                               f"{shown(line, 80)}"))
    return found


def _check_epochs(session: Session, keyring: keys.Keyring | None, path: Path, report: CustodyReport) -> None:
    epochs = session.execute(select(CustodyEpoch.number, CustodyEpoch.fingerprint)).all()
    if keyring is None:
        if epochs and not path.exists():
            report.add(Problem(f"the custody key file {path} is missing: no MAC can be checked"))
        return
    for number, fp in epochs:
        key = keyring.keys.get(number)
        if key is not None and keys.fingerprint(key) != fp:
            report.add(Problem(f"epoch {number}: the key file {path} holds key {keys.fingerprint(key)} but "
                               f"the database names key {shown(fp)} (wrong key file, or the epoch row was "
                               "altered)"))


def _checkpoint_rows() -> Any:
    k, h = CustodyCheckpoint.__table__, CustodyCheckpointHead.__table__
    e = CustodyEvent.__table__
    return (
        select(k.c.number, type_coerce(k.c.at, String).label("at"), k.c.epoch, k.c.heads, k.c.digest,
               k.c.prev_mac, k.c.mac, h.c.sample_id, h.c.seq.label("head_seq"), h.c.mac.label("head_mac"),
               e.c.mac.label("event_mac"))
        .select_from(k.outerjoin(h, h.c.checkpoint_number == k.c.number)
                     .outerjoin(e, (e.c.sample_id == h.c.sample_id) & (e.c.seq == h.c.seq)))
        .order_by(k.c.number, h.c.sample_id)
    )


def _event_rows() -> Any:
    e, c = CustodyEvent.__table__, CustodyChain.__table__
    fixed = e.alias("fixed")  # the event a correction corrects
    return (
        select(e.c.id, e.c.sample_id, e.c.seq, e.c.epoch, e.c.action, type_coerce(e.c.at, String).label("at"),
               e.c.user_id, e.c.site_code, e.c.from_location, e.c.to_location, e.c.reason,
               type_coerce(e.c.details, String).label("details"), e.c.corrects_id,
               fixed.c.sample_id.label("fixed_sample"), fixed.c.seq.label("fixed_seq"), e.c.prev_mac, e.c.mac,
               c.c.seq.label("head_seq"), c.c.mac.label("head_mac"),
               (c.c.sample_id.is_not(None)).label("has_head"))
        .select_from(e.outerjoin(fixed, fixed.c.id == e.c.corrects_id)
                     .outerjoin(c, c.c.sample_id == e.c.sample_id))
        .order_by(e.c.sample_id, e.c.seq)
    )


def _check_headless(session: Session, report: CustodyReport, missing: dict[int, tuple[int, int]]) -> None:
    """Report chains whose events are all gone: a head row without events, or an anchored chain without
    either."""
    e, c = CustodyEvent.__table__, CustodyChain.__table__
    rows = session.execute(select(c.c.sample_id, c.c.seq)
                           .where(~exists().where(e.c.sample_id == c.c.sample_id))
                           .execution_options(yield_per=BATCH))
    for sample_id, seq in rows:
        report.add(Problem(f"its chain is deleted: the head row says #{shown(seq)} but no event is left",
                           sample_id=as_int(sample_id), seq=1))
        missing.pop(sample_id, None)
    for sample_id, (seq, number) in sorted(missing.items()):
        report.add(Problem(f"its chain is deleted: checkpoint #{number} sealed it at #{seq}, and no event or "
                           "head row is left", sample_id=sample_id, seq=1))


def _check_anchors(session: Session, path: Path, lines: list[Anchor] | None, report: CustodyReport) -> None:
    newest = session.scalar(select(func.max(CustodyCheckpoint.number)))
    if not lines:
        if newest is not None:
            state = "does not exist" if lines is None else "holds no anchor"
            report.add(Problem(f"the anchor file {path} {state}, but the database holds checkpoints up to "
                               f"#{newest}: the file was lost or replaced, or this is not this database's "
                               "file"))
        else:
            report.notes.append("nothing is anchored yet: run 'lims audit anchor' (without anchors, deleting "
                                "the newest events of a chain cannot be detected)")
        return
    for anchor in lines:
        mac = session.scalar(select(CustodyCheckpoint.mac)
                             .where(CustodyCheckpoint.number == anchor.checkpoint))
        if mac is None:
            report.add(Problem(f"it is missing from the database, but {path} anchored it at "
                               f"{chain.format_at(anchor.at)} (checkpoints deleted, or the database rolled "
                               "back to an older state)", checkpoint=anchor.checkpoint))
        elif not chain.same_mac(mac, anchor.mac):
            report.add(Problem(f"it differs from its anchor in {path} (rewritten)",
                               checkpoint=anchor.checkpoint))
        report.anchors += 1
    report.newest_anchor = lines[-1]
    if newest is not None and as_int(newest) is not None and newest > lines[-1].checkpoint:
        report.notes.append(f"checkpoints #{lines[-1].checkpoint + 1}..#{newest} are newer than the newest "
                            f"anchor line in {path}")


def _name_samples(session: Session, report: CustodyReport) -> None:
    # The sample table by name: samples come after custody in the domain order.
    sample = table("sample", column("id"), column("accession"))
    ids = sorted({p.sample_id for p in report.problems if p.sample_id is not None})
    names: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        names.update(session.execute(select(sample.c.id, sample.c.accession).where(sample.c.id.in_(chunk)))
                     .all())
    for problem in report.problems:
        problem.accession = names.get(problem.sample_id) if problem.sample_id is not None else None
