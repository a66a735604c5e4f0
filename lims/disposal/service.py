"""Disposal in two steps, and the list of quarantined samples waiting for it.

Anyone at the bench requests a disposal with a reason; a lab manager approves with an electronic signature
(password re-entered, meaning stated), and only then are the samples disposed: status ``disposed``, nothing
left, position freed, one custody event each. Quarantined samples (consent withdrawn) wait on the disposal
list with the withdrawal reason and where to find them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from lims.accounts.models import Signature, User
from lims.accounts.service import sign
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError
from lims.custody.service import record_event
from lims.participants.models import Participant
from lims.samples.lifecycle import pending_disposal, status_refusal
from lims.samples.models import DisposalRequest, Sample
from lims.storage.models import Placement
from lims.storage.service import location_paths


def request_disposal(session: Session, sample: Sample, *, reason: str, by: User | None) -> DisposalRequest:
    """Ask for a sample to be disposed of; nothing happens to it until a lab manager approves."""
    problem = status_refusal(sample, "dispose", reason=reason)
    if problem:
        raise Conflict(f"{sample.accession}: {problem}", field="accession")
    pending_one = pending_disposal(session, sample)
    if pending_one is not None:
        raise Conflict(f"{sample.accession}: disposal already requested on "
                       f"{pending_one.requested_at:%Y-%m-%d}",
                       field="accession")
    request = DisposalRequest(sample_id=sample.id, reason=reason.strip(),
                              requested_by_id=by.id if by else None)
    session.add(request)
    session.flush()
    return request


def pending(session: Session, *, where: ColumnElement[bool] | None = None) -> list[DisposalRequest]:
    """Return the disposal requests waiting for a decision, oldest first (``where``: a clause on Sample)."""
    stmt = (select(DisposalRequest).join(Sample, DisposalRequest.sample_id == Sample.id)
            .where(DisposalRequest.status == "pending", where if where is not None else true())
            .order_by(DisposalRequest.requested_at, DisposalRequest.id))
    return list(session.scalars(stmt))


def dispose(session: Session, sample: Sample, *, reason: str, by: User | None) -> None:
    """Dispose of a sample with a reason: nothing is left of it and its position is freed."""
    problem = status_refusal(sample, "dispose", reason=reason)
    if problem:
        raise DomainError(f"{sample.accession}: {problem}", field="accession")
    sample.status = "disposed"
    sample.quantity = 0.0
    placement = session.get(Placement, sample.id)
    where = None
    if placement is not None:
        where = location_paths(session, [sample.id]).get(sample.id)
        session.delete(placement)
    record_event(session, sample.id, "disposed", by=by, reason=reason.strip(), from_location=where)


def _content(requests: list[DisposalRequest]) -> list[dict[str, object]]:
    return [{"request": r.id, "sample": r.sample.accession, "reason": r.reason} for r in requests]


def decide(session: Session, request_ids: list[int], *, approve: bool, by: User, password: str, meaning: str,
           note: str | None = None, where: ColumnElement[bool] | None = None) -> tuple[list[DisposalRequest],
                                                                                      Signature]:
    """Approve (dispose) or reject requests under one electronic signature; all or nothing.

    ``where`` (a clause on Sample) limits the requests the signer may decide on; others are reported unknown.
    """
    if not request_ids:
        raise DomainError("choose at least one request", field="requests")
    stmt = (select(DisposalRequest).join(Sample, DisposalRequest.sample_id == Sample.id)
            .where(DisposalRequest.id.in_(request_ids), where if where is not None else true()))
    requests = list(session.scalars(stmt))
    missing = set(request_ids) - {r.id for r in requests}
    if missing:
        raise DomainError(f"no disposal request {', '.join(map(str, sorted(missing)))}", field="requests")
    decided = [r for r in requests if r.status != "pending"]
    if decided:
        raise Conflict(f"request {decided[0].id} was already {decided[0].status}", field="requests")
    if not approve and not (note or "").strip():
        raise DomainError("say why the disposal is rejected", field="note")
    verb = "approve" if approve else "reject"
    signature = sign(session, by, password=password, meaning=meaning, record_type="disposal",
                     record_id=",".join(str(r.id) for r in sorted(requests, key=lambda r: r.id)),
                     content=_content(requests),
                     statement=f"I {verb} the disposal of {len(requests)} sample(s): "
                               + ", ".join(r.sample.accession or "" for r in requests))
    now = utcnow()
    for r in requests:
        if approve:
            dispose(session, r.sample, reason=r.reason, by=by)
        r.status = "approved" if approve else "rejected"
        r.decided_by_id, r.decided_at, r.decision_note, r.signature_id = by.id, now, note, signature.id
    session.flush()
    return requests, signature


@dataclass(frozen=True)
class AwaitingDisposal:
    """A quarantined sample waiting to be disposed, with the reason and where to find it."""

    sample: Sample
    reason: str
    location: str | None


def awaiting_disposal(session: Session, *, where: ColumnElement[bool] | None = None,
                      participant: Participant | None = None,
                      study_id: int | None = None) -> list[AwaitingDisposal]:
    """List quarantined samples awaiting disposal (``where``: a clause on Sample), with reason and
    location."""
    stmt = (select(Sample).where(Sample.status == "quarantined", where if where is not None else true())
            .order_by(Sample.participant_id, Sample.id))
    if study_id is not None:
        stmt = stmt.where(Sample.study_id == study_id)
    if participant is not None:
        stmt = stmt.where(Sample.participant_id == participant.id)
    samples = list(session.scalars(stmt))
    paths = location_paths(session, [s.id for s in samples])
    rows = []
    for s in samples:
        consent = s.participant.consent
        why = (consent.withdrawal_reason if consent is not None and consent.withdrawal_reason
               else "quarantined")
        rows.append(AwaitingDisposal(s, f"consent withdrawn: {why}", paths.get(s.id)))
    return rows

