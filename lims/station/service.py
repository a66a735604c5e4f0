"""Apply scan station actions to one scanned code or to a batch in one transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core import vocabulary
from lims.core.errors import Conflict, DomainError
from lims.disposal.service import request_disposal
from lims.samples import service as samples_service
from lims.samples.lifecycle import NEEDS_REASON
from lims.samples.models import Sample
from lims.samples.presenters import sprec_for
from lims.station import actions
from lims.storage.service import location_path

MODES = ("lookup", "receive", "check_out", "check_in", "thaw", "dispose")


def facts(session: Session, sample: Sample) -> dict[str, Any]:
    """Return the key facts the station shows after a scan."""
    sprec = sprec_for(sample)
    return {
        "accession": sample.accession,
        "participant": sample.participant.code,
        "site": sample.site.code,
        "participant_site": sample.participant.site.code,
        "timepoint": sample.visit.timepoint.code if sample.visit else None,
        "sample_type": sample.sample_type.name,
        "status": sample.status,
        "status_label": vocabulary.label(sample.status, "status"),
        "quantity": sample.quantity,
        "unit": sample.unit,
        "freeze_thaw_count": sample.freeze_thaw_count,
        "sprec": sprec["code"] if sprec else None,
        "location": location_path(session, sample.id),
    }


@dataclass(frozen=True)
class ScanResult:
    ok: bool
    mode: str
    code: str
    message: str
    sample: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _resolve(session: Session, code: str, mode: str, user: User, text: str | None) -> Sample:
    if mode not in MODES:
        raise DomainError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}", field="mode")
    sample = samples_service.get_by_accession(session, code)
    if mode == "lookup":
        access.require_see(user, sample)
    else:
        access.require(user, "station.act", sample)
    problem = actions.refusal(sample, mode, reason=text)
    if problem:
        raise Conflict(f"{sample.accession}: {problem}", field="code")
    return sample


def check(session: Session, code: str, mode: str, *, user: User, text: str | None = None,
          batch: list[str] | None = None) -> ScanResult:
    """Validate one scan for a batch without changing anything (duplicates in the batch are refused)."""
    sample = _resolve(session, code, mode, user, text if mode not in NEEDS_REASON else "pending")
    if batch and sample.accession in {_normal(c) for c in batch}:
        raise Conflict(f"{sample.accession} is already in this batch", field="code")
    return ScanResult(True, mode, sample.accession or code, "ready", facts(session, sample))


def _normal(code: str) -> str:
    try:
        return samples_service.get_accession_code(code)
    except DomainError:
        return code


def scan(session: Session, code: str, mode: str, *, user: User, text: str | None = None) -> ScanResult:
    """Apply ``mode`` to the sample a scanned code names; raises with the reason when refused."""
    sample = _resolve(session, code, mode, user, text)
    outcome = _apply(session, sample, mode, user, text)
    session.flush()
    return ScanResult(True, mode, sample.accession or code, outcome.message, facts(session, sample))


def _apply(session: Session, sample: Sample, mode: str, user: User, text: str | None) -> actions.Outcome:
    if mode == "check_out":
        return actions.check_out(session, sample, purpose=text or "", by=user)
    if mode == "dispose":
        request_disposal(session, sample, reason=text or "", by=user)
        return actions.Outcome("dispose", sample.accession or "", sample.status,
                               "disposal requested: a lab manager approves it with an e-signature")
    if mode == "thaw":
        return actions.thaw(session, sample, by=user, reason=text)
    if mode == "receive":
        return actions.receive(session, sample, by=user)
    if mode == "check_in":
        return actions.check_in(session, sample, by=user)
    return actions.lookup(session, sample, by=user)


def batch(session: Session, codes: list[str], mode: str, *, user: User,
          text: str | None = None) -> list[ScanResult]:
    """Apply ``mode`` to every code in one unit of work: all succeed, or nothing changes.

    Every code is checked first; the error lists each refused code with its reason.
    """
    if not codes:
        raise DomainError("the batch is empty: scan at least one tube", field="codes")
    problems: list[str] = []
    samples: list[Sample] = []
    seen: set[str] = set()
    for i, code in enumerate(codes, start=1):
        try:
            sample = _resolve(session, code, mode, user, text)
        except DomainError as exc:
            problems.append(f"scan {i} ({code.strip()}): {exc.message}")
            continue
        if sample.accession in seen:
            problems.append(f"scan {i} ({sample.accession}): scanned twice in this batch")
            continue
        seen.add(sample.accession or "")
        samples.append(sample)
    if problems:
        raise Conflict(f"nothing was changed; {len(problems)} of {len(codes)} scans refused: "
                       + "; ".join(problems),
                       field="codes")
    results = []
    for sample in samples:
        outcome = _apply(session, sample, mode, user, text)
        results.append(ScanResult(True, mode, sample.accession or "", outcome.message, None))
    session.flush()
    return results


def samples_by_accession(session: Session, accessions: list[str]) -> list[Sample]:
    """Return the samples with these accession IDs (for reports)."""
    return list(session.scalars(select(Sample).where(Sample.accession.in_(accessions))))
