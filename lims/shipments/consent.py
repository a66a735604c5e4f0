"""Consent enforcement: what a participant's consent allows, and withdrawal as one action.

``consent_allows(sample, action)`` is what the scan station, shipments and exports ask before using a
sample. ``withdraw_consent`` records the withdrawal and quarantines every sample the participant still
has (status ``quarantined`` and a ``quarantined`` custody event each), so nothing can be checked out,
shipped or used any more; the quarantined samples are then listed for disposal with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core.errors import Conflict, DomainError
from lims.custody.service import record_event
from lims.participants.models import Participant
from lims.samples.models import Sample
from lims.storage.service import location_paths

# Handling that moves or ends a sample without using it: allowed whatever the consent says.
HANDLING = ("lookup", "dispose", "receive", "check_in", "store", "move")
# Using a sample: needs MARKER_RESEARCH, and the extra scope for genetic or outside use.
USES = ("check_out", "thaw", "ship", "aliquot", "use", "export")
DEFAULT_GENETIC_TYPES = ("BUFFY_COAT", "DNA")
# Samples with these statuses are gone or never existed: nothing to quarantine.
FINISHED = ("missed", "consumed", "disposed")


def genetic_types(sample: Sample) -> tuple[str, ...]:
    """Return the sample type codes whose use is genetic research (study setting, default buffy coat and DNA)."""
    settings = sample.participant.study.settings or {}
    return tuple(settings.get("genetic_sample_types") or DEFAULT_GENETIC_TYPES)


def consent_allows(sample: Sample, action: str, *, outside_study: bool = False) -> str | None:
    """Return None when the participant's consent allows ``action`` on ``sample``, else the reason.

    Quarantined samples (and any sample of a participant who withdrew) refuse everything but
    handling (look-up, disposal, receipt, storage moves). Any use (check-out, thaw, shipment) needs
    MARKER_RESEARCH; genetic sample types need GENETIC_RESEARCH; shipping to a site or lab outside the
    study (``outside_study``) needs THIRD_PARTY_SHARING.
    """
    if action in HANDLING:
        return None
    if action not in USES:
        return f"unknown action {action!r}"
    participant = sample.participant
    consent = participant.consent
    if sample.status == "quarantined" or participant.withdrawn:
        return (f"{sample.accession} is quarantined: participant {participant.code} withdrew consent; "
                "it may only be disposed")
    if consent is None:
        return f"participant {participant.code} has no recorded consent"
    if not consent.allows("MARKER_RESEARCH"):
        return f"participant {participant.code}'s consent does not cover marker research"
    if sample.sample_type.code in genetic_types(sample) and not consent.allows("GENETIC_RESEARCH"):
        return (f"participant {participant.code}'s consent does not cover genetic research, "
                f"so {sample.sample_type.name} may not be used")
    if outside_study and action in ("ship", "export") and not consent.allows("THIRD_PARTY_SHARING"):
        return f"participant {participant.code}'s consent does not cover sharing samples with third parties"
    return None


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
        raise Conflict(f"participant {participant.code} already withdrew consent on {consent.withdrawn_on.isoformat()}")
    if on < consent.signed_on:
        raise DomainError(f"withdrawal date {on.isoformat()} is before consent was signed "
                          f"({consent.signed_on.isoformat()})", field="on")
    if on > date.today():
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


@dataclass(frozen=True)
class DisposalRow:
    """A quarantined sample waiting to be disposed, with the reason and where to find it."""

    sample: Sample
    reason: str
    location: str | None


def disposal_list(session: Session, *, study_id: int | None = None, participant: Participant | None = None) -> list[DisposalRow]:
    """List quarantined samples awaiting disposal, with the withdrawal reason and location."""
    stmt = select(Sample).where(Sample.status == "quarantined").order_by(Sample.participant_id, Sample.id)
    if study_id is not None:
        stmt = stmt.where(Sample.study_id == study_id)
    if participant is not None:
        stmt = stmt.where(Sample.participant_id == participant.id)
    samples = list(session.scalars(stmt))
    paths = location_paths(session, [s.id for s in samples])
    rows = []
    for s in samples:
        consent = s.participant.consent
        why = consent.withdrawal_reason if consent is not None and consent.withdrawal_reason else "quarantined"
        rows.append(DisposalRow(s, f"consent withdrawn: {why}", paths.get(s.id)))
    return rows
