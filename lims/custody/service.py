"""Append custody events to their sample's keyed chain; read a sample's history.

Writers lock only their sample's head row (``custody_chain``), so events of different samples never wait for
each other. The key comes from the key file (see :mod:`lims.custody.keys`), checked once per transaction
against the epochs the database knows. Services only flush; the caller commits.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, SessionTransaction, SessionTransactionOrigin

from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.custody import chain, keys
from lims.custody.models import ACTIONS, CustodyChain, CustodyEpoch, CustodyEvent
from lims.custody.verify import verify_chain

__all__ = ["history", "record_event", "verify_chain", "writing_keyring"]

_KEYRING = "lims.custody.keyring"
_HEADS = "lims.custody.heads"
_ADVISORY_NAMESPACE = 0x43757374  # "Cust": two-key advisory locks on the first event of a sample (PostgreSQL)


def record_event(session: Session, sample_id: int, action: str, *, by: User | None,
                 at: datetime | None = None, site_code: str | None = None,
                 from_location: str | None = None, to_location: str | None = None,
                 reason: str | None = None, details: dict[str, Any] | None = None,
                 corrects: CustodyEvent | None = None) -> CustodyEvent:
    """Append one event to ``sample_id``'s chain, MACed with the custody key over the previous event's MAC."""
    if action not in ACTIONS:
        raise DomainError(f"unknown custody action {action!r}")
    if action == "correction" and corrects is None:
        raise DomainError("a correction must name the event it corrects")
    if sample_id is None:
        session.flush()
        raise DomainError("the sample must be saved before its custody is recorded")
    if corrects is not None and corrects.id is None:
        session.flush()
    keyring = writing_keyring(session)
    head = _locked_head(session, sample_id)
    # A copy as JSON will store it: what is MACed is what is stored, even if the caller changes its dict
    # later.
    details = json.loads(json.dumps(details or {}))
    event = CustodyEvent(
        sample_id=sample_id, seq=head.seq + 1 if head else 1, epoch=keyring.epoch, action=action,
        at=at or utcnow(), user_id=by.id if by is not None else None, site_code=site_code,
        from_location=from_location, to_location=to_location, reason=reason, details=details,
        corrects_id=corrects.id if corrects is not None else None,
        prev_mac=head.mac if head else chain.GENESIS,
    )
    content = chain.event_content(
        sample_id=sample_id, seq=event.seq, epoch=event.epoch, action=action, at=event.at,
        user_id=event.user_id, site_code=site_code, from_location=from_location, to_location=to_location,
        reason=reason, details=event.details,
        corrects=(corrects.sample_id, corrects.seq) if corrects is not None else None,
    )
    event.mac = chain.event_mac(keyring.key, event.prev_mac, content)
    if head is None:
        head = CustodyChain(sample_id=sample_id)
        session.add(head)
        session.info[_HEADS][sample_id] = head
    head.seq, head.mac, head.checkpoint_number = event.seq, event.mac, None
    session.add(event)
    return event


def history(session: Session, sample_id: int) -> list[CustodyEvent]:
    """Return a sample's custody events in order."""
    return list(session.scalars(
        select(CustodyEvent).where(CustodyEvent.sample_id == sample_id).order_by(CustodyEvent.seq)
    ))


def writing_keyring(session: Session) -> keys.Keyring:
    """Return the custody keys for this transaction, refusing a key file that does not match the database.

    The key file is created on first use (mode 600) while the database has no custody epoch yet; a missing or
    different key file afterwards is refused, because events sealed with another key could never be verified.
    A key file whose newest epoch the database does not know yet starts that epoch (key rotation).
    """
    keyring = session.info.get(_KEYRING)
    if keyring is not None:
        return keyring
    path = keys.key_file()
    with session.no_autoflush:
        known = {e.number: e.fingerprint for e in session.scalars(select(CustodyEpoch))}
    keyring = keys.read_keyring(path)
    if keyring is None:
        if known:
            raise DomainError(f"the custody key file {path} is missing, but the database holds custody "
                              f"sealed with epoch(s) {', '.join(map(str, sorted(known)))}: restore the key "
                              "file from its offline copy (set LIMS_CUSTODY_KEY_FILE if it lives elsewhere)")
        keyring = keys.create_keyring(path)
    problem = epoch_mismatch(keyring, known)
    if problem:
        raise DomainError(problem)
    if keyring.epoch not in known:
        _start_epoch(session, keyring)
    session.info[_KEYRING] = keyring
    return keyring


def epoch_mismatch(keyring: keys.Keyring, known: dict[int, str]) -> str | None:
    """Say why the key file cannot seal or verify the database's custody, or None when it matches."""
    for number, fp in sorted(known.items()):
        key = keyring.keys.get(number)
        if key is None:
            return (f"the custody key file {keyring.path} has no key for epoch {number}, which sealed "
                    "custody in this database: restore the key file from its offline copy")
        if keys.fingerprint(key) != fp:
            return (f"the custody key file {keyring.path} holds a different key for epoch {number} "
                    f"(fingerprint {keys.fingerprint(key)}) than the one that sealed this database's custody "
                    f"({fp}): restore the right key file")
    if known and keyring.epoch < max(known):
        return (f"the database's custody is sealed up to epoch {max(known)} but the key file {keyring.path} "
                f"stops at epoch {keyring.epoch}: restore the newest key file")
    return None


def _start_epoch(session: Session, keyring: keys.Keyring) -> None:
    values = {"number": keyring.epoch, "fingerprint": keys.fingerprint(keyring.key), "started_at": utcnow()}
    if session.get_bind().dialect.name == "postgresql":
        # Two transactions may start the first epoch at once; the second keeps the first's row.
        session.execute(pg_insert(CustodyEpoch).values(**values).on_conflict_do_nothing())
    else:
        session.add(CustodyEpoch(**values))


def _locked_head(session: Session, sample_id: int) -> CustodyChain | None:
    """Return the sample's chain head locked for this transaction, or None when its chain is empty."""
    heads: dict[int, CustodyChain] = session.info.setdefault(_HEADS, {})
    head = heads.get(sample_id)
    if head is not None:
        return head
    # populate_existing: a head loaded in an earlier transaction of this session may be stale.
    query = (select(CustodyChain).where(CustodyChain.sample_id == sample_id).with_for_update()
             .execution_options(populate_existing=True))
    with session.no_autoflush:
        head = session.scalar(query)
        if head is None and session.get_bind().dialect.name == "postgresql":
            # Starting a chain: wait for anyone else starting the same one, then look again.
            session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_NAMESPACE, sample_id)))
            head = session.scalar(query)
    if head is not None:
        heads[sample_id] = head
    return head


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint's rollback may undo appended events, so forget cached heads (and keys) when a transaction or
    # savepoint ends; a flush's internal subtransaction changes nothing we cached.
    if transaction.origin is SessionTransactionOrigin.SUBTRANSACTION:
        return
    session.info.pop(_HEADS, None)
    session.info.pop(_KEYRING, None)
