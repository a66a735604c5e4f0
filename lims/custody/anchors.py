"""Checkpoints over the chain heads, and their anchor lines in an append-only file outside the database.

A checkpoint covers the chain heads that changed since the previous checkpoint (``custody_chain`` rows whose
``checkpoint_number`` is NULL), so anchoring costs what changed, not what exists, and can run every few
minutes. Its MAC chains it to the previous checkpoint. The anchor line is appended to the file when the
transaction commits, so the file never names a checkpoint the database rolled back.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy import exists, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.custody import chain, keys
from lims.custody.anchorfile import Anchor, append_line
from lims.custody.models import CustodyChain, CustodyCheckpoint, CustodyCheckpointHead
from lims.custody.service import writing_keyring

_PENDING = "lims.custody.pending_anchors"
ANCHOR_LOCK = 0x416E6368  # "Anch": advisory lock key serialising checkpoints on PostgreSQL


def write_anchor(session: Session, *, anchor_file: Path | None = None, at: datetime | None = None,
                 limit: int | None = None, batch: int = 2000) -> Anchor:
    """Seal the chain heads changed since the last checkpoint in a new checkpoint; anchor it in the file at
    commit.

    ``limit`` caps how many heads one checkpoint covers (the rest wait for the next one). Heads that another
    transaction holds locked right now are left for the next checkpoint instead of waited for.
    """
    path = anchor_file or keys.anchor_file()
    _check_appendable(path)
    keyring = writing_keyring(session)
    if session.get_bind().dialect.name == "postgresql":
        # One anchor at a time (the scheduler and an admin may start one together); SQLite has one writer
        # anyway.
        session.execute(select(func.pg_advisory_xact_lock(ANCHOR_LOCK, 0)))
    prev = session.scalar(select(CustodyCheckpoint).order_by(CustodyCheckpoint.number.desc()).limit(1))
    number = prev.number + 1 if prev else 1
    digest = chain.HeadDigest()
    last = 0
    while limit is None or digest.count < limit:
        size = batch if limit is None else min(batch, limit - digest.count)
        rows = session.execute(
            select(CustodyChain.sample_id, CustodyChain.seq, CustodyChain.mac)
            .where(CustodyChain.checkpoint_number.is_(None), CustodyChain.sample_id > last)
            .order_by(CustodyChain.sample_id).limit(size).with_for_update(skip_locked=True)
        ).all()
        if not rows:
            break
        session.execute(insert(CustodyCheckpointHead), [
            {"checkpoint_number": number, "sample_id": r.sample_id, "seq": r.seq, "mac": r.mac}
            for r in rows])
        for r in rows:
            digest.add(r.sample_id, r.seq, r.mac)
        last = rows[-1].sample_id
    at = at or utcnow()
    content = chain.checkpoint_content(number=number, at=at, epoch=keyring.epoch, heads=digest.count,
                                      digest=digest.hexdigest())
    prev_mac = prev.mac if prev else chain.GENESIS
    checkpoint = CustodyCheckpoint(number=number, at=at, epoch=keyring.epoch, heads=digest.count,
                                   digest=digest.hexdigest(), prev_mac=prev_mac,
                                   mac=chain.checkpoint_mac(keyring.key, prev_mac, content))
    session.add(checkpoint)
    session.flush()
    _mark_covered(session, number)
    anchor = Anchor(number, at, keyring.epoch, digest.count, checkpoint.mac)
    session.info.setdefault(_PENDING, []).append((checkpoint, path, anchor.line))
    return anchor


def _mark_covered(session: Session, number: int) -> None:
    head = CustodyCheckpointHead.__table__
    table = CustodyChain.__table__
    session.execute(
        update(table)
        .where(table.c.checkpoint_number.is_(None),
               exists().where(head.c.checkpoint_number == number, head.c.sample_id == table.c.sample_id,
                              head.c.seq == table.c.seq))
        .values(checkpoint_number=number)
    )


def _check_appendable(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    except OSError as exc:
        raise DomainError(f"cannot append to the custody anchor file {path}: {exc}") from None


@sa_event.listens_for(Session, "after_commit")
def _append_anchor_lines(session: Session) -> None:
    for checkpoint, path, line in session.info.pop(_PENDING, []):
        if not inspect(checkpoint).persistent:
            continue  # written inside a savepoint that was rolled back
        try:
            append_line(path, line)
        except OSError as exc:
            raise DomainError(f"checkpoint #{checkpoint.number} is in the database, but appending its anchor "
                              f"to {path} failed ({exc}); fix the file and run 'lims audit anchor' "
                              "again") from None


@sa_event.listens_for(Session, "after_rollback")
def _drop_anchor_lines(session: Session) -> None:
    session.info.pop(_PENDING, None)
