"""Status transitions of a sample at the bench: receive, check out/in, thaw, consume, dispose.

Each transition checks the sample's status and the participant's consent, changes the sample and
records one custody event; it never commits. Refusals raise DomainError with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core.errors import DomainError
from lims.custody.service import record_event
from lims.samples.models import Sample

# Action -> statuses it may start from.
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "lookup": ("collected", "received", "in_storage", "checked_out", "in_transit", "consumed", "disposed",
               "quarantined"),
    "receive": ("collected",),
    "check_out": ("in_storage", "received"),
    "check_in": ("checked_out",),
    "thaw": ("in_storage", "checked_out", "received"),
    "consume": ("checked_out", "received", "in_storage"),
    "dispose": ("collected", "received", "in_storage", "checked_out", "quarantined", "consumed"),
}
NEEDS_REASON = {"check_out": "purpose", "dispose": "reason"}
GENETIC_TYPES = ("BUFFY_COAT", "DNA", "WHOLE_BLOOD")


def consent_refusal(sample: Sample, action: str) -> str | None:
    """Return why the participant's consent forbids ``action`` on ``sample``, or None."""
    if action in ("lookup", "dispose", "receive", "check_in"):
        return None
    participant = sample.participant
    consent = participant.consent
    if sample.status == "quarantined" or participant.withdrawn:
        return f"participant {participant.code} withdrew consent: the sample is quarantined and may only be disposed"
    if consent is None:
        return f"participant {participant.code} has no recorded consent"
    if not consent.allows("MARKER_RESEARCH"):
        return f"participant {participant.code}'s consent does not cover marker research"
    if action == "check_out" and sample.sample_type.code in GENETIC_TYPES and not consent.allows("GENETIC_RESEARCH"):
        return f"participant {participant.code}'s consent does not cover genetic research on {sample.sample_type.name}"
    return None


def refusal(sample: Sample, action: str, *, reason: str | None = None) -> str | None:
    """Return why ``action`` is not allowed on ``sample`` now, or None when it is."""
    if action not in ALLOWED_FROM:
        return f"unknown action {action!r}"
    if sample.status == "missed":
        return "this sample was never collected"
    if sample.status not in ALLOWED_FROM[action]:
        human = action.replace("_", " ")
        return f"cannot {human} a sample that is {sample.status.replace('_', ' ')}"
    if action in NEEDS_REASON and not (reason or "").strip():
        return f"say the {NEEDS_REASON[action]} to {action.replace('_', ' ')} a sample"
    return consent_refusal(sample, action)


@dataclass(frozen=True)
class Outcome:
    """What an action did, for the scan station's feedback."""

    action: str
    accession: str
    status: str
    message: str


def _check(sample: Sample, action: str, reason: str | None) -> None:
    problem = refusal(sample, action, reason=reason)
    if problem:
        raise DomainError(f"{sample.accession}: {problem}", field="accession")


def receive(session: Session, sample: Sample, *, by: User | None, site_code: str | None = None) -> Outcome:
    """Mark a collected sample as arrived in the lab."""
    _check(sample, "receive", None)
    sample.status = "received"
    record_event(session, sample.id, "received", by=by, site_code=site_code)
    return Outcome("receive", sample.accession or "", sample.status, "received in the lab")


def check_out(session: Session, sample: Sample, *, purpose: str, by: User | None) -> Outcome:
    """Take a sample out of storage for a stated purpose (its position stays reserved)."""
    _check(sample, "check_out", purpose)
    sample.status = "checked_out"
    record_event(session, sample.id, "checked_out", by=by, reason=purpose.strip())
    return Outcome("check_out", sample.accession or "", sample.status, f"checked out: {purpose.strip()}")


def check_in(session: Session, sample: Sample, *, by: User | None) -> Outcome:
    """Return a checked-out sample to storage."""
    _check(sample, "check_in", None)
    sample.status = "in_storage"
    record_event(session, sample.id, "checked_in", by=by)
    return Outcome("check_in", sample.accession or "", sample.status, "back in storage")


def thaw(session: Session, sample: Sample, *, by: User | None, reason: str | None = None) -> Outcome:
    """Record a thaw: the freeze-thaw count goes up by one."""
    _check(sample, "thaw", reason)
    sample.freeze_thaw_count += 1
    record_event(session, sample.id, "thawed", by=by, reason=reason,
                 details={"freeze_thaw_count": sample.freeze_thaw_count})
    return Outcome("thaw", sample.accession or "", sample.status,
                   f"thawed: now {sample.freeze_thaw_count} freeze-thaw cycle{'s' if sample.freeze_thaw_count != 1 else ''}")


def dispose(session: Session, sample: Sample, *, reason: str, by: User | None) -> Outcome:
    """Dispose of a sample with a reason; nothing is left of it."""
    _check(sample, "dispose", reason)
    sample.status = "disposed"
    sample.quantity = 0.0
    record_event(session, sample.id, "disposed", by=by, reason=reason.strip())
    return Outcome("dispose", sample.accession or "", sample.status, f"disposed: {reason.strip()}")


def lookup(session: Session, sample: Sample, *, by: User | None) -> Outcome:
    """Look a sample up; changes nothing."""
    _check(sample, "lookup", None)
    return Outcome("lookup", sample.accession or "", sample.status, "found")


ACTIONS: dict[str, Callable[..., Outcome]] = {
    "lookup": lookup, "receive": receive, "check_out": check_out, "check_in": check_in, "thaw": thaw,
    "dispose": dispose,
}
