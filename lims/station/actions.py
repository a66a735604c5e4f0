"""Bench actions on one sample: receive, check out, check in, thaw, look up.

Each action asks the sample's life cycle (:mod:`lims.samples.lifecycle`) and, for a use of the sample, the
participant's consent (:mod:`lims.consent`); it changes the sample and records one custody event, and never
commits. Refusals raise DomainError with the reason. Disposal is its own two-step noun (:mod:`lims.disposal`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from lims import consent
from lims.accounts.models import User
from lims.core.errors import DomainError
from lims.custody.service import record_event
from lims.samples.lifecycle import status_refusal
from lims.samples.models import Sample

# Bench actions that use the sample, and the consent purpose each one is.
PURPOSE = {"check_out": "check_out", "thaw": "thaw"}


def refusal(sample: Sample, action: str, *, reason: str | None = None) -> str | None:
    """Return why ``action`` is not allowed on ``sample`` now (status, reason or consent), or None."""
    problem = status_refusal(sample, action, reason=reason)
    if problem is None and action in PURPOSE:
        problem = consent.refusal(sample, PURPOSE[action])
    return problem


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


def receive(session: Session, sample: Sample, *, by: User | None) -> Outcome:
    """Mark a collected sample as arrived in the lab of the site that holds it."""
    _check(sample, "receive", None)
    sample.status = "received"
    record_event(session, sample.id, "received", by=by, site_code=sample.site.code)
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
    cycles = sample.freeze_thaw_count
    return Outcome("thaw", sample.accession or "", sample.status,
                   f"thawed: now {cycles} freeze-thaw cycle{'s' if cycles != 1 else ''}")


def lookup(session: Session, sample: Sample, *, by: User | None) -> Outcome:
    """Look a sample up; changes nothing."""
    _check(sample, "lookup", None)
    return Outcome("lookup", sample.accession or "", sample.status, "found")
