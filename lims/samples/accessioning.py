"""Register a visit's samples from its kit in one step, and process a primary into derivatives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.access.dates import local_date, local_today, study_zone
from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.core.vocabulary import problem_text
from lims.custody.service import record_event
from lims.participants.models import Visit
from lims.samples.models import Sample
from lims.samples.preanalytics import problems as preanalytical_problems
from lims.samples.preanalytics import tissue_problems
from lims.samples.service import register_missed, register_primary, split, volume_refusal
from lims.samples.units import normalise_unit
from lims.studies.models import KitItem, SampleType


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

    status = 422

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problem_text(k, v) for k, v in problems.items()))
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
    zone = study_zone(participant.study)
    if actual_on > local_today(zone):
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
            elif local_date(entry.collected_at, zone) != actual_on:
                # The study's calendar day, not UTC's: a 07:30 draw in Shanghai is 23:30 UTC the day before.
                problems[f"{key}-collected_at"] = (f"{item.label}: collected on "
                                                   f"{local_date(entry.collected_at, zone)}, another day "
                                                   f"than the visit ({actual_on})")
            if entry.quantity is None or entry.quantity <= 0:
                problems[f"{key}-quantity"] = f"{item.label}: give the amount collected ({item.unit})"
            elif entry.quantity > item.volume * 5:
                problems[f"{key}-quantity"] = (f"{item.label}: {entry.quantity:g} {item.unit} is far more "
                                               f"than the {item.volume:g} {item.unit} expected")
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

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> YieldEntry:
        """One product as ProcessSchema loads it (page and API)."""
        return cls(body["sample_type"], body["count"], body["volume"], body["unit"])


def kit_yields(session: Session, primary: Sample) -> list[YieldEntry]:
    """The products the protocol's kit plans for this primary tube (the processing page's defaults)."""
    kit = session.get(KitItem, primary.kit_item_id) if primary.kit_item_id else None
    units = {t.code: t.unit for t in primary.participant.study.sample_types}
    return [YieldEntry(y["sample_type"], int(y["aliquots"]), float(y["volume"]),
                       units.get(y["sample_type"], primary.unit))
            for y in (kit.yields if kit else [])]


PROCESSING_FIELDS = (
    "processing_started_at", "precentrifugation_temp_c", "spin1_g", "spin1_min", "spin1_temp_c",
    "spin1_brake",
    "spin2_done", "spin2_g", "spin2_min", "spin2_temp_c", "spin2_brake", "last_spin_ended_at",
    "postspin_temp_c",
    "frozen_at", "storage_temp_c", "storage_container", "storage_via_minus80",
)
TISSUE_FIELDS = (
    "collection_type", "clamped_at", "excised_at", "fixation_type", "fixation_started_at",
    "fixation_ended_at",
    "storage_temp_c", "storage_container", "storage_via_minus80",
)
MAX_ALIQUOTS = 200


def _yield_problems(primary: Sample, yields: list[YieldEntry]) -> tuple[dict[str, str], list[SampleType]]:
    types = {t.code: t for t in primary.participant.study.sample_types}
    problems: dict[str, str] = {}
    if not yields:
        problems["yields"] = "choose at least one product to make"
    for i, y in enumerate(yields):
        key = f"yield-{i}"
        if y.sample_type_code not in types:
            problems[key] = f"unknown sample type {y.sample_type_code!r}"
        elif not 1 <= y.count <= MAX_ALIQUOTS:
            problems[key] = (f"make 1 to {MAX_ALIQUOTS} samples of {types[y.sample_type_code].name}, not "
                             f"{y.count}")
        elif y.volume <= 0:
            problems[key] = f"give the amount of each {types[y.sample_type_code].name}"
        else:
            try:
                normalise_unit(y.unit)
            except DomainError as exc:
                problems[key] = exc.message
    if not problems:
        refusal = volume_refusal(primary, [(y.count, y.volume, y.unit) for y in yields])
        if refusal:
            problems["yields"] = refusal
    made = [types[y.sample_type_code] for y in yields if y.sample_type_code in types]
    return problems, made


def process_primary(session: Session, primary: Sample, yields: list[YieldEntry], *, by: User | None,
                    consume: bool, **preanalytics: Any) -> list[Sample]:
    """Process a primary tube into its derivatives/aliquots with the raw pre-analytical values.

    Refused, with every problem at once (:class:`ValidationErrors`), when the products do not fit in the tube
    (dead volume included), a value is physically impossible, a field the protocol requires for a product is
    missing, the storage temperature is not the product type's, or the times are out of order.
    """
    unknown = set(preanalytics) - set(PROCESSING_FIELDS)
    if unknown:
        raise DomainError(f"unknown processing field(s): {', '.join(sorted(unknown))}")
    # A second spin was done exactly when its speed is recorded (the page and the API alike; SPREC reads
    # "no second centrifugation" from it), unless the caller says so itself.
    preanalytics.setdefault("spin2_done", preanalytics.get("spin2_g") is not None)
    if primary.status not in ("collected", "received"):
        raise DomainError(f"{primary.accession} is {primary.status.replace('_', ' ')} and cannot be "
                          "processed")
    problems, made_types = _yield_problems(primary, yields)
    problems.update(preanalytical_problems(preanalytics, made_types, collected_at=primary.collected_at))
    if problems:
        raise ValidationErrors(problems)
    types = {t.code: t for t in made_types}
    spun = preanalytics.get("spin1_g") is not None
    made: list[Sample] = []
    for y in yields:
        sample_type = types[y.sample_type_code]
        derivation = "aliquot" if sample_type.id == primary.sample_type_id else "derivative"
        made.extend(split(session, primary, sample_type=sample_type, count=y.count, volume=y.volume,
                          unit=y.unit,
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


def record_tissue(session: Session, sample: Sample, *, by: User | None, **values: Any) -> Sample:
    """Record a tissue specimen's pre-analytics (collection, ischaemia, fixation, storage) on the sample
    itself.

    Everything the protocol requires for the sample type must be given, the times must follow
    clamping -> excision -> fixation start -> fixation end, and the storage must suit the fixation and type.
    """
    unknown = set(values) - set(TISSUE_FIELDS)
    if unknown:
        raise DomainError(f"unknown tissue field(s): {', '.join(sorted(unknown))}")
    if sample.sample_type.kind != "solid":
        raise DomainError(f"{sample.accession} is {sample.sample_type.name}, not a tissue specimen: "
                          "use the processing page", field="accession")
    if sample.status in ("missed", "disposed", "consumed", "in_transit"):
        raise DomainError(f"{sample.accession} is {sample.status.replace('_', ' ')}; its record cannot "
                          "change")
    found = tissue_problems(values, sample.sample_type, collected_at=None)
    if found:
        raise ValidationErrors(found)
    recorded = {k: v for k, v in values.items() if v is not None}
    for name in TISSUE_FIELDS:
        setattr(sample, name, values.get(name))
    if recorded.get("excised_at") is not None and sample.collected_at is None:
        sample.collected_at = recorded["excised_at"]
    record_event(session, sample.id, "processed", by=by, at=recorded.get("fixation_started_at"),
                 details={"tissue": {k: (v.isoformat() if isinstance(v, datetime) else v)
                                     for k, v in recorded.items()}})
    session.flush()
    return sample
