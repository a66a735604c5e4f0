"""Register primary samples, make aliquots and derivatives, and read lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from lims.accounts.models import User
from lims.core.errors import DomainError, NotFound
from lims.custody.service import record_event
from lims.participants.models import Participant, Visit
from lims.samples import accession as accession_ids
from lims.samples.holding import hold
from lims.samples.models import AccessionCounter, PoolMember, Sample
from lims.samples.units import convert, normalise_unit, same_dimension
from lims.studies.models import PREANALYTICAL_FIELDS, KitItem, SampleType, Study


def next_accessions(session: Session, study: Study, count: int) -> list[str]:
    """Reserve ``count`` new accession IDs for ``study`` (serials never reused)."""
    counter = session.scalar(
        select(AccessionCounter).where(AccessionCounter.study_id == study.id).with_for_update()
    )
    if counter is None:
        counter = AccessionCounter(study_id=study.id, last_serial=0)
        session.add(counter)
    first = counter.last_serial + 1
    counter.last_serial += count
    session.flush()
    return [accession_ids.make_accession(first + i, study.accession_prefix) for i in range(count)]


def get_by_accession(session: Session, raw: str) -> Sample:
    """Return the sample a typed or scanned ID names; raise with the reason when it does not."""
    try:
        code = accession_ids.validate(raw)
    except ValueError as exc:
        raise DomainError(str(exc), field="accession") from None
    sample = session.scalar(select(Sample).where(Sample.accession == code).options(
        joinedload(Sample.sample_type), joinedload(Sample.container_type),
        joinedload(Sample.participant).joinedload(Participant.site),
        joinedload(Sample.visit).joinedload(Visit.timepoint),
    ))
    if sample is None:
        raise NotFound(f"no sample {code}: the ID is valid but was never registered here")
    return sample


def find_by_accession(session: Session, raw: str) -> Sample:
    """Return the sample an ID in a URL names; a malformed ID is simply not found (with the reason)."""
    try:
        return get_by_accession(session, raw)
    except NotFound:
        raise
    except DomainError as exc:
        raise NotFound(f"no sample {raw.strip()!r}: {exc.message}", field="accession") from None


def register_primary(session: Session, visit: Visit, kit_item: KitItem | None, *, sample_type: SampleType,
                     quantity: float | None, unit: str, by: User | None, at: datetime | None = None,
                     container_type_id: int | None = None, **preanalytical: Any) -> Sample:
    """Register a collected primary sample of ``visit`` with its raw pre-analytical values."""
    unknown = set(preanalytical) - set(PREANALYTICAL_FIELDS)
    if unknown:
        raise DomainError(f"unknown pre-analytical field(s): {', '.join(sorted(unknown))}")
    participant: Participant = visit.participant
    if sample_type.study_id != participant.study_id:
        raise DomainError(f"sample type {sample_type.code} belongs to another study", field="sample_type")
    (code,) = next_accessions(session, participant.study, 1)
    sample = Sample(
        accession=code, study_id=participant.study_id, participant_id=participant.id, visit_id=visit.id,
        kit_item_id=kit_item.id if kit_item else None, sample_type_id=sample_type.id,
        container_type_id=container_type_id if container_type_id is not None
        else (kit_item.container_type_id if kit_item else None),
        derivation="primary", status="collected", quantity=quantity, initial_quantity=quantity, unit=unit,
        site_id=participant.site_id, **preanalytical,
    )
    session.add(sample)
    session.flush()
    hold(session, sample, participant.site_id)
    record_event(session, sample.id, "collected", by=by, at=at or sample.collected_at,
                 site_code=participant.site.code, details={"visit": visit.timepoint.code})
    return sample


def register_missed(session: Session, visit: Visit, kit_item: KitItem, *, reason: str,
                    by: User | None) -> Sample:
    """Record that a kit's sample was not collected, with the reason."""
    if not reason.strip():
        raise DomainError("say why the sample was not collected", field="reason")
    participant = visit.participant
    sample = Sample(
        accession=None, study_id=participant.study_id, participant_id=participant.id, visit_id=visit.id,
        kit_item_id=kit_item.id, sample_type_id=kit_item.sample_type_id,
        container_type_id=kit_item.container_type_id, derivation="primary", status="missed",
        unit=kit_item.unit, missed_reason=reason.strip(), site_id=participant.site_id,
    )
    session.add(sample)
    session.flush()
    hold(session, sample, participant.site_id)
    return sample


def split(session: Session, parent: Sample, *, sample_type: SampleType, count: int, volume: float, unit: str,
          by: User | None, derivation: str = "aliquot", at: datetime | None = None,
          **preanalytical: Any) -> list[Sample]:
    """Make ``count`` children of ``parent`` (aliquots or derivatives) of ``volume`` each.

    Aliquots are taken out of the parent: their total, converted to the parent's unit, must fit in
    what the parent still holds, and the parent is consumed when nothing is left. Derivatives
    (plasma from blood, DNA from tissue) are new material and do not draw on the parent's quantity.
    Children inherit the parent's freeze-thaw count.
    """
    if derivation not in ("aliquot", "derivative"):
        raise DomainError(f"unknown derivation {derivation!r}", field="derivation")
    if count < 1:
        raise DomainError("make at least one aliquot", field="count")
    if volume <= 0:
        raise DomainError("aliquot volume must be positive", field="volume")
    unit = normalise_unit(unit)
    if parent.status in ("missed", "disposed", "consumed", "quarantined", "in_transit"):
        raise DomainError(f"sample {parent.accession} is {parent.status.replace('_', ' ')} and cannot be "
                          "split")
    unknown = set(preanalytical) - set(PREANALYTICAL_FIELDS)
    if unknown:
        raise DomainError(f"unknown pre-analytical field(s): {', '.join(sorted(unknown))}")
    if derivation == "aliquot" and not same_dimension(unit, parent.unit):
        raise DomainError(f"aliquots in {unit} cannot come out of a sample measured in {parent.unit}",
                          field="unit")
    problem = volume_refusal(parent, [(count, volume, unit)])
    if problem:
        raise DomainError(problem, field="volume")
    codes = next_accessions(session, parent.participant.study, count)
    children = []
    for code in codes:
        child = Sample(
            accession=code, study_id=parent.study_id, participant_id=parent.participant_id,
            visit_id=parent.visit_id, parent_id=parent.id, sample_type_id=sample_type.id,
            container_type_id=parent.container_type_id, derivation=derivation, status="collected",
            quantity=volume, initial_quantity=volume, unit=unit, freeze_thaw_count=parent.freeze_thaw_count,
            collected_at=parent.collected_at, site_id=parent.site_id, **preanalytical,
        )
        session.add(child)
        children.append(child)
    session.flush()
    for child in children:
        hold(session, child, parent.site_id)
    action = "aliquoted" if derivation == "aliquot" else "derived"
    record_event(session, parent.id, action, by=by, at=at,
                 details={"children": codes, "volume": volume, "unit": unit})
    for child in children:
        record_event(session, child.id, action, by=by, at=at, details={"parent": parent.accession})
    if derivation == "aliquot" and parent.quantity is not None:
        parent.quantity = max(parent.quantity - convert(count * volume, unit, parent.unit), 0.0)
        left = available(parent)
        if left is not None and left <= 1e-9:
            parent.status = "consumed"
            record_event(session, parent.id, "consumed", by=by, at=at, reason="fully aliquoted")
    return children


def dead_volume(sample: Sample) -> float:
    """Return what cannot be taken out of ``sample``'s tube, in the sample's unit (protocol; 0 if none).

    A primary tube keeps its container's dead volume; a derived tube that of its sample type.
    """
    source: Any = sample.container_type if sample.derivation == "primary" else sample.sample_type
    if source is None or not source.dead_volume or not source.dead_volume_unit:
        return 0.0
    if not same_dimension(source.dead_volume_unit, sample.unit):
        return 0.0
    return convert(source.dead_volume, source.dead_volume_unit, sample.unit)


def available(sample: Sample) -> float | None:
    """Return how much can still be taken out of ``sample`` (quantity minus dead volume), None if unknown."""
    if sample.quantity is None:
        return None
    return max(sample.quantity - dead_volume(sample), 0.0)


def volume_refusal(parent: Sample, draws: list[tuple[int, float, str]]) -> str | None:
    """Return why ``draws`` (count, amount, unit) cannot all come out of ``parent``, or None.

    Draws in another dimension than the parent (cells from millilitres of blood) are not limited here.
    """
    same = [(n, v, u) for n, v, u in draws if same_dimension(u, parent.unit)]
    if not same or parent.quantity is None:
        return None
    total = sum(convert(n * v, u, parent.unit) for n, v, u in same)
    shown = " + ".join(f"{n} × {v:g} {u}" for n, v, u in same)
    if total > parent.quantity * (1 + 1e-9):
        return (f"{shown} = {total:g} {parent.unit} is more than the {parent.quantity:g} {parent.unit} left "
                f"in {parent.accession}")
    dead, left = dead_volume(parent), available(parent)
    if left is not None and total > left * (1 + 1e-9):
        holder = parent.container_type.name if parent.derivation == "primary" and parent.container_type \
            else parent.sample_type.name
        return (f"{shown} = {total:g} {parent.unit} is more than the {left:g} {parent.unit} that can be "
                f"taken out of {parent.accession}: {dead:g} {parent.unit} stays in the {holder} as dead "
                "volume")
    return None


def pool(session: Session, members: list[tuple[Sample, float]], *, unit: str, by: User | None,
         at: datetime | None = None) -> Sample:
    """Pool portions of several samples of one participant and type into a new sample."""
    if len(members) < 2:
        raise DomainError("a pool needs at least two samples", field="members")
    unit = normalise_unit(unit)
    first = members[0][0]
    seen: set[int] = set()
    for sample, amount in members:
        if sample.id in seen:
            raise DomainError(f"{sample.accession} is listed twice in the pool", field="members")
        seen.add(sample.id)
        if sample.participant_id != first.participant_id or sample.sample_type_id != first.sample_type_id:
            raise DomainError(f"{sample.accession} is not of the same participant and type as "
                              f"{first.accession}",
                              field="members")
        if sample.site_id != first.site_id:
            raise DomainError(f"{sample.accession} is held at another site than {first.accession}",
                              field="members")
        if sample.status not in ("collected", "received", "in_storage", "checked_out"):
            raise DomainError(f"{sample.accession} is {sample.status.replace('_', ' ')} and cannot be pooled")
        if amount <= 0:
            raise DomainError(f"take a positive amount from {sample.accession}", field="members")
        problem = volume_refusal(sample, [(1, amount, unit)])
        if problem:
            raise DomainError(f"cannot pool: {problem}", field="members")
    (code,) = next_accessions(session, first.participant.study, 1)
    total = sum(amount for _, amount in members)
    pooled = Sample(
        accession=code, study_id=first.study_id, participant_id=first.participant_id, visit_id=first.visit_id,
        parent_id=first.id, sample_type_id=first.sample_type_id, container_type_id=first.container_type_id,
        derivation="pool", status="collected", quantity=total, initial_quantity=total, unit=unit,
        freeze_thaw_count=max(s.freeze_thaw_count for s, _ in members), collected_at=first.collected_at,
        site_id=first.site_id,
    )
    session.add(pooled)
    session.flush()
    hold(session, pooled, first.site_id)
    for sample, amount in members:
        session.add(PoolMember(pool_id=pooled.id, member_id=sample.id, quantity=amount))
        if sample.quantity is not None:
            sample.quantity = max(sample.quantity - convert(amount, unit, sample.unit), 0.0)
        record_event(session, sample.id, "pooled", by=by, at=at,
                     details={"pool": code, "amount": amount, "unit": unit})
    record_event(session, pooled.id, "pooled", by=by, at=at,
                 details={"members": [s.accession for s, _ in members]})
    session.flush()
    return pooled


def lineage(session: Session, sample: Sample) -> tuple[list[Sample], list[tuple[int, Sample]]]:
    """Return the ancestors (root first) and the descendants with their depth."""
    ancestors = []
    node = sample.parent
    while node is not None:
        ancestors.append(node)
        node = node.parent
    ancestors.reverse()
    descendants: list[tuple[int, Sample]] = []

    def walk(s: Sample, depth: int) -> None:
        for child in s.children:
            descendants.append((depth, child))
            walk(child, depth + 1)

    walk(sample, 1)
    return ancestors, descendants


def samples_of_participant(session: Session, participant: Participant) -> list[Sample]:
    """Return all samples of a participant, primary and derived."""
    return list(session.scalars(
        select(Sample).where(Sample.participant_id == participant.id).order_by(Sample.id)
    ))


def get_or_404(session: Session, sample_id: int) -> Sample:
    """Return the sample with this database id or raise NotFound."""
    sample = session.get(Sample, sample_id)
    if sample is None:
        raise NotFound(f"no sample #{sample_id}")
    return sample


def get_accession_code(raw: str) -> str:
    """Return the normalised accession ID of a typed or scanned code, or raise DomainError."""
    try:
        return accession_ids.validate(raw)
    except ValueError as exc:
        raise DomainError(str(exc), field="accession") from None
