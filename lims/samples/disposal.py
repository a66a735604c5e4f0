"""Disposal in two steps: anyone at the bench requests it with a reason; a lab manager approves with an
electronic signature (password re-entered, meaning stated), and only then are the samples disposed."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.models import Signature, User
from lims.accounts.service import sign
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError
from lims.samples import actions
from lims.samples.models import DisposalRequest, Sample


def request_disposal(session: Session, sample: Sample, *, reason: str, by: User | None) -> DisposalRequest:
    """Ask for a sample to be disposed of; nothing happens to it until a lab manager approves."""
    problem = actions.refusal(sample, "dispose", reason=reason)
    if problem:
        raise Conflict(f"{sample.accession}: {problem}", field="accession")
    pending = session.scalar(select(DisposalRequest).where(DisposalRequest.sample_id == sample.id,
                                                           DisposalRequest.status == "pending"))
    if pending is not None:
        raise Conflict(f"{sample.accession}: disposal already requested on {pending.requested_at:%Y-%m-%d}",
                       field="accession")
    request = DisposalRequest(sample_id=sample.id, reason=reason.strip(), requested_by_id=by.id if by else None)
    session.add(request)
    session.flush()
    return request


def pending(session: Session) -> list[DisposalRequest]:
    """Return the disposal requests waiting for a decision, oldest first."""
    return list(session.scalars(select(DisposalRequest).where(DisposalRequest.status == "pending")
                                .order_by(DisposalRequest.requested_at)))


def _content(requests: list[DisposalRequest]) -> list[dict[str, object]]:
    return [{"request": r.id, "sample": r.sample.accession, "reason": r.reason} for r in requests]


def decide(session: Session, request_ids: list[int], *, approve: bool, by: User, password: str, meaning: str,
           note: str | None = None) -> tuple[list[DisposalRequest], Signature]:
    """Approve (dispose) or reject requests under one electronic signature; all or nothing."""
    if not request_ids:
        raise DomainError("choose at least one request", field="requests")
    requests = list(session.scalars(select(DisposalRequest).where(DisposalRequest.id.in_(request_ids))))
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
            actions.dispose(session, r.sample, reason=r.reason, by=by)
        r.status = "approved" if approve else "rejected"
        r.decided_by_id, r.decided_at, r.decision_note, r.signature_id = by.id, now, note, signature.id
    session.flush()
    return requests, signature
