"""Append custody events to the hash chain and verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.custody.models import ACTIONS, CustodyEvent, CustodyHead

GENESIS = "0" * 64
_HEAD_KEY = "lims.custody_head"


def event_hash(fields: dict[str, Any]) -> str:
    """Hash an event's content together with the previous link (canonical JSON, SHA-256)."""
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _content(event: CustodyEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "sample_id": event.sample_id,
        "action": event.action,
        "at": event.at.isoformat(timespec="microseconds"),
        "user_id": event.user_id,
        "site_code": event.site_code,
        "from": event.from_location,
        "to": event.to_location,
        "reason": event.reason,
        "details": event.details or {},
        "corrects_id": event.corrects_id,
        "prev_hash": event.prev_hash,
    }


def record_event(session: Session, sample_id: int, action: str, *, by: User | None,
                 at: datetime | None = None, site_code: str | None = None,
                 from_location: str | None = None, to_location: str | None = None,
                 reason: str | None = None, details: dict[str, Any] | None = None,
                 corrects: CustodyEvent | None = None) -> CustodyEvent:
    """Append one event for ``sample_id``, chained to the previous event of the whole log."""
    if action not in ACTIONS:
        raise DomainError(f"unknown custody action {action!r}")
    if action == "correction" and corrects is None:
        raise DomainError("a correction must name the event it corrects")
    if sample_id is None:
        session.flush()
        raise DomainError("the sample must be saved before its custody is recorded")
    if corrects is not None and corrects.id is None:
        session.flush()
    head = _locked_head(session)
    event = CustodyEvent(
        seq=head.seq + 1, sample_id=sample_id, action=action,
        at=at or utcnow(),
        user_id=by.id if by is not None else None, site_code=site_code,
        from_location=from_location, to_location=to_location, reason=reason,
        details=details or {}, corrects_id=corrects.id if corrects is not None else None,
        prev_hash=head.hash,
    )
    event.hash = event_hash(_content(event))
    head.seq, head.hash = event.seq, event.hash
    session.add(event)
    return event


def _locked_head(session: Session) -> CustodyHead:
    """Return the chain head, locked for this transaction (fetched once per transaction)."""
    head = session.info.get(_HEAD_KEY)
    if head is not None and head in session:
        return head
    head = session.scalar(select(CustodyHead).where(CustodyHead.id == 1).with_for_update())
    if head is None:
        head = CustodyHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    session.info[_HEAD_KEY] = head
    return head


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint's rollback may undo appended events, so forget the cached head on any end.
    session.info.pop(_HEAD_KEY, None)


@dataclass(frozen=True)
class ChainReport:
    """Result of walking the chain: how many events were checked and the first broken one."""

    checked: int
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _events(session: Session, batch: int = 5000) -> Iterator[CustodyEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(CustodyEvent).where(CustodyEvent.seq > last).order_by(CustodyEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole chain in order; report the first event whose hash or link does not match."""
    previous = GENESIS
    expected_seq = 1
    checked = 0
    for link in _events(session):
        if link.seq != expected_seq:
            return ChainReport(checked, expected_seq, None, f"event #{expected_seq} is missing (next is #{link.seq})")
        if link.prev_hash != previous:
            return ChainReport(checked, link.seq, link.id, "its link to the previous event does not match")
        if event_hash(_content(link)) != link.hash:
            return ChainReport(checked, link.seq, link.id, "its content does not match its hash (altered)")
        previous = link.hash
        expected_seq += 1
        checked += 1
    head = session.get(CustodyHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.hash != previous):
        return ChainReport(checked, head.seq, None, f"the chain ends at #{expected_seq - 1} but its head says #{head.seq}")
    return ChainReport(checked)


def history(session: Session, sample_id: int) -> list[CustodyEvent]:
    """Return a sample's custody events in order."""
    return list(session.scalars(
        select(CustodyEvent).where(CustodyEvent.sample_id == sample_id).order_by(CustodyEvent.seq)
    ))
