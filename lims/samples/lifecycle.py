"""A sample's life cycle: which bench actions may start from which status (consent is asked separately)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.samples.models import DisposalRequest, Sample

# Action -> statuses it may start from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "lookup": ("collected", "received", "in_storage", "checked_out", "in_transit", "consumed", "disposed",
               "quarantined"),
    "receive": ("collected",),
    "check_out": ("in_storage", "received"),
    "check_in": ("checked_out",),
    "thaw": ("in_storage", "checked_out", "received"),
    "dispose": ("collected", "received", "in_storage", "checked_out", "quarantined", "consumed"),
}
NEEDS_REASON = {"check_out": "purpose", "dispose": "reason"}


def status_refusal(sample: Sample, action: str, *, reason: str | None = None) -> str | None:
    """Return why ``action`` cannot start from ``sample``'s status (or lacks its reason), or None."""
    if action not in ALLOWED_FROM:
        return f"unknown action {action!r}"
    if sample.status == "missed":
        return "this sample was never collected"
    if sample.status not in ALLOWED_FROM[action]:
        human = action.replace("_", " ")
        return f"cannot {human} a sample that is {sample.status.replace('_', ' ')}"
    if action in NEEDS_REASON and not (reason or "").strip():
        return f"say the {NEEDS_REASON[action]} to {action.replace('_', ' ')} a sample"
    return None


def pending_disposal(session: Session, sample: Sample) -> DisposalRequest | None:
    """Return the disposal request waiting for a decision on ``sample``, if any (it may not travel
    meanwhile)."""
    return session.scalar(select(DisposalRequest).where(DisposalRequest.sample_id == sample.id,
                                                        DisposalRequest.status == "pending"))
