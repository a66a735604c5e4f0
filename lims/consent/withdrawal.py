"""Consent withdrawal as one action: record it and quarantine every sample the participant still has.

Quarantined samples refuse every use (see :mod:`lims.consent.rules`), are left out of every export, result
list and analysis, and wait on the disposal list (:mod:`lims.disposal`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.access.dates import local_today, study_zone
from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError
from lims.custody.service import record_event
from lims.participants.models import Participant
from lims.samples.models import Sample

# Samples with these statuses are gone or never existed: nothing to quarantine.
FINISHED = ("missed", "consumed", "disposed")


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal did: the samples quarantined now (and those already gone)."""

    participant: Participant
    on: date
    reason: str
    quarantined: list[Sample]
    untouched: list[Sample]


def withdraw_consent(session: Session, participant: Participant, *, on: date, reason: str,
                     by: User | None, at: datetime | None = None) -> Withdrawal:
    """Record the withdrawal and quarantine every remaining sample of ``participant`` in one unit of work."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("say why consent is withdrawn (e.g. 'participant request, letter of 2026-10-02')",
                          field="reason")
    consent = participant.consent
    if consent is None:
        raise DomainError(f"participant {participant.code} has no recorded consent to withdraw")
    if consent.withdrawn_on is not None:
        raise Conflict(f"participant {participant.code} already withdrew consent on "
                       f"{consent.withdrawn_on.isoformat()}")
    if on < consent.signed_on:
        raise DomainError(f"withdrawal date {on.isoformat()} is before consent was signed "
                          f"({consent.signed_on.isoformat()})", field="on")
    if on > local_today(study_zone(participant.study)):  # the study's calendar day, not the server's
        raise DomainError(f"withdrawal date {on.isoformat()} is in the future", field="on")
    consent.withdrawn_on = on
    consent.withdrawal_reason = reason
    quarantined, untouched = quarantine_samples(session, participant, by=by, at=at)
    return Withdrawal(participant, on, reason, quarantined, untouched)


def quarantine_samples(session: Session, participant: Participant, *, by: User | None,
                       at: datetime | None = None) -> tuple[list[Sample], list[Sample]]:
    """Quarantine every remaining sample of a participant who withdrew; return (quarantined, left alone)."""
    consent = participant.consent
    if consent is None or consent.withdrawn_on is None:
        raise DomainError(f"participant {participant.code} has not withdrawn consent")
    reason = consent.withdrawal_reason or "withdrawn"
    samples = list(session.scalars(
        select(Sample).where(Sample.participant_id == participant.id).order_by(Sample.id)
    ))
    quarantined, untouched = [], []
    for sample in samples:
        if sample.status in FINISHED or sample.status == "quarantined":
            untouched.append(sample)
            continue
        before = sample.status
        sample.status = "quarantined"
        record_event(session, sample.id, "quarantined", by=by, at=at, reason=f"consent withdrawn: {reason}",
                     details={"withdrawn_on": consent.withdrawn_on.isoformat(), "status_before": before})
        quarantined.append(sample)
    session.flush()
    return quarantined, untouched
