"""Register a visit's samples from its kit in one step, and process a primary into derivatives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.custody.service import record_event
from lims.participants.models import Visit
from lims.samples.models import Sample
from lims.samples.service import register_missed, register_primary, split
from lims.samples.units import normalise_unit
from lims.studies.models import KitItem


@dataclass
class KitEntry:
    """What the technician recorded for one expected tube."""

    kit_item_id: int
    collected: bool
    collected_at: datetime | None = None
    quantity: float | None = None
    missed_reason: str | None = None
    haemolysed: bool = False


class ValidationErrors(DomainError):
    """Several problems at once; ``problems`` maps a form field to its message."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def register_visit(session: Session, visit: Visit, entries: list[KitEntry], *, actual_on: date,
                   by: User | None) -> list[Sample]:
    """Register every kit tube of ``visit`` as collected or missed; all or nothing."""
    kit = {k.id: k for k in visit.timepoint.kit}
    problems: dict[str, str] = {}
    seen: set[int] = set()
    participant = visit.participant
    if session.scalar(select(Sample.id).where(Sample.visit_id == visit.id).limit(1)) is not None:
        raise DomainError(f"visit {visit.timepoint.code} of {participant.code} is already registered")
    if actual_on < participant.enrolled_on - timedelta(days=60):
        problems["actual_on"] = "visit date is long before enrolment"
    if actual_on > utcnow().date():
        problems["actual_on"] = "visit date is in the future"
    for entry in entries:
        key = f"kit-{entry.kit_item_id}"
        item: KitItem | None = kit.get(entry.kit_item_id)
        if item is None:
            problems[key] = "not part of this visit's kit"
            continue
        if entry.kit_item_id in seen:
            problems[key] = "listed twice"
        seen.add(entry.kit_item_id)
        if entry.collected:
            if entry.collected_at is None:
                problems[f"{key}-collected_at"] = f"{item.label}: give the collection time"
            elif entry.collected_at > utcnow():
                problems[f"{key}-collected_at"] = f"{item.label}: collection time is in the future"
            elif entry.collected_at.date() != actual_on:
                problems[f"{key}-collected_at"] = f"{item.label}: collected on another day than the visit ({actual_on})"
            if entry.quantity is None or entry.quantity <= 0:
                problems[f"{key}-quantity"] = f"{item.label}: give the amount collected ({item.unit})"
            elif entry.quantity > item.volume * 5:
                problems[f"{key}-quantity"] = (f"{item.label}: {entry.quantity:g} {item.unit} is far more than the "
                                               f"{item.volume:g} {item.unit} expected")
        elif not item.optional and not (entry.missed_reason or "").strip():
            problems[f"{key}-missed_reason"] = f"{item.label}: say why it was not collected"
    for item_id, item in kit.items():
        if item_id not in seen and not item.optional:
            problems[f"kit-{item_id}"] = f"{item.label}: mark it collected or missed"
    if problems:
        raise ValidationErrors(problems)
    created = []
    for entry in entries:
        item = kit[entry.kit_item_id]
        if entry.collected:
            created.append(register_primary(
                session, visit, item, sample_type=item.sample_type, quantity=entry.quantity, unit=item.unit,
                by=by, collected_at=entry.collected_at, haemolysed=entry.haemolysed,
            ))
        elif (entry.missed_reason or "").strip():
            register_missed(session, visit, item, reason=entry.missed_reason or "", by=by)
    visit.status = "done"
    visit.actual_on = actual_on
    session.flush()
    return created


@dataclass
class YieldEntry:
    sample_type_code: str
    count: int
    volume: float
    unit: str


PROCESSING_FIELDS = (
    "processing_started_at", "precentrifugation_temp_c", "spin1_g", "spin1_min", "spin1_temp_c", "spin1_brake",
    "spin2_done", "spin2_g", "spin2_min", "spin2_temp_c", "spin2_brake", "last_spin_ended_at", "postspin_temp_c",
    "frozen_at", "storage_temp_c", "storage_container",
)


def process_primary(session: Session, primary: Sample, yields: list[YieldEntry], *, by: User | None,
                    consume: bool, **preanalytics: Any) -> list[Sample]:
    """Process a primary tube into its derivatives/aliquots with the raw pre-analytical values."""
    unknown = set(preanalytics) - set(PROCESSING_FIELDS)
    if unknown:
        raise DomainError(f"unknown processing field(s): {', '.join(sorted(unknown))}")
    if not yields:
        raise DomainError("choose at least one product to make", field="yields")
    times = [(k, v) for k, v in preanalytics.items() if isinstance(v, datetime)]
    for name, value in times:
        if primary.collected_at and value < primary.collected_at:
            raise DomainError(f"{name.replace('_', ' ')} is before the collection time", field=name)
        if value > utcnow():
            raise DomainError(f"{name.replace('_', ' ')} is in the future", field=name)
    order = ["processing_started_at", "last_spin_ended_at", "frozen_at"]
    stamps = [preanalytics.get(k) for k in order if preanalytics.get(k) is not None]
    if stamps != sorted(stamps):
        raise DomainError("processing start, end of last spin and freezing must be in that order",
                          field="frozen_at")
    types = {t.code: t for t in primary.participant.study.sample_types}
    made: list[Sample] = []
    for y in yields:
        if y.sample_type_code not in types:
            raise DomainError(f"unknown sample type {y.sample_type_code!r}", field="yields")
        normalise_unit(y.unit)
    spun = preanalytics.get("spin1_g") is not None
    for y in yields:
        sample_type = types[y.sample_type_code]
        derivation = "aliquot" if sample_type.id == primary.sample_type_id else "derivative"
        made.extend(split(session, primary, sample_type=sample_type, count=y.count, volume=y.volume, unit=y.unit,
                          by=by, derivation=derivation, at=preanalytics.get("frozen_at"), spun=spun,
                          **preanalytics))
    record_event(session, primary.id, "processed", by=by, at=preanalytics.get("processing_started_at"),
                 details={"made": [s.accession for s in made]})
    if consume and primary.status != "consumed":
        primary.status = "consumed"
        primary.quantity = 0.0
        record_event(session, primary.id, "consumed", by=by, reason="processed into derivatives")
    session.flush()
    return made
