"""Build, release and receive shipments, with a reconciliation at receipt (manifests: :mod:`.manifests`).

A shipment is built by scanning samples (or a whole box) at the sending site, released by a lab
manager (samples leave their positions, become ``in_transit`` and get a ``shipped`` custody event),
and received by scanning at the destination: every packed sample is received, damaged or missing,
and scans that name nothing in the shipment are reported as unexpected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from lims import access, consent
from lims.accounts.models import Signature, User
from lims.accounts.service import sign
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, NotFound
from lims.custody.service import record_event
from lims.samples import accession as accession_ids
from lims.samples.lifecycle import pending_disposal
from lims.samples.models import Sample
from lims.shipments import manifests
from lims.shipments.models import CONDITIONS, Shipment, ShipmentItem
from lims.storage import service as storage
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site, Study

SHIPPABLE = ("in_storage", "received")
OPEN = ("draft", "released")


# ----- building ---------------------------------------------------------------------------------------
def get_shipment(session: Session, shipment_id: int) -> Shipment:
    """Return the shipment with this id or raise NotFound."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise NotFound(f"no shipment #{shipment_id}")
    return shipment


def shipments_query(*, status: str | None = None, where: Any = None) -> Select[Shipment]:
    """Build the shipment list query, newest first (``where``: a clause on Shipment, e.g. a user's scope)."""
    stmt = select(Shipment).order_by(Shipment.created_at.desc(), Shipment.id.desc())
    if status:
        stmt = stmt.where(Shipment.status == status)
    if where is not None:
        stmt = stmt.where(where)
    return stmt


def list_shipments(session: Session, *, status: str | None = None, where: Any = None) -> list[Shipment]:
    """Return shipments, newest first."""
    return list(session.scalars(shipments_query(status=status, where=where)))


def _site(session: Session, code: str | None, field_name: str) -> Site | None:
    if not code:
        return None
    site = session.scalar(select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        raise DomainError(f"no site {code.strip().upper()}", field=field_name)
    return site


def outside_study(shipment: Shipment) -> bool:
    """Tell whether the destination is not one of the study's sites (third-party sharing)."""
    if shipment.to_site_id is None:
        return True
    return shipment.to_site_id not in {ss.site_id for ss in shipment.study.sites}


def create_shipment(session: Session, study: Study, *, from_site: str, to_site: str | None = None,
                    destination: str | None = None, conditions: str, courier: str | None = None,
                    tracking_number: str | None = None, note: str | None = None, by: User | None) -> Shipment:
    """Open a draft shipment from one site to another site (or a named outside lab)."""
    source = _site(session, from_site, "from_site")
    if source is None:
        raise DomainError("say which site the shipment leaves from", field="from_site")
    target = _site(session, to_site, "to_site")
    destination = (destination or "").strip() or None
    if target is None and destination is None:
        raise DomainError("say where the shipment goes: a site, or the name of the receiving lab",
                          field="to_site")
    if target is not None and target.id == source.id:
        raise DomainError(f"a shipment cannot go from {source.code} to itself", field="to_site")
    if conditions not in CONDITIONS:
        raise DomainError(f"unknown shipping condition {conditions!r}; use one of {', '.join(CONDITIONS)}",
                          field="conditions")
    access.require_site(by, source, "packing a shipment")
    n = session.scalar(select(func.count()).select_from(Shipment).where(
        Shipment.from_site_id == source.id, Shipment.origin == "local")) or 0
    code = f"SHP-{source.code}-{(target.code if target else 'EXT')}-{n + 1:04d}"
    shipment = Shipment(code=code, origin="local", study_id=study.id, from_site_id=source.id,
                        to_site_id=target.id if target else None, destination=destination, status="draft",
                        conditions=conditions, courier=(courier or "").strip() or None,
                        tracking_number=(tracking_number or "").strip() or None,
                        note=(note or "").strip() or None,
                        created_by_id=by.id if by else None, unexpected=[])
    session.add(shipment)
    session.flush()
    return shipment


def update_conditions(session: Session, shipment: Shipment, *, conditions: str, courier: str | None,
                      tracking_number: str | None, by: User | None) -> Shipment:
    """Change a draft shipment's conditions, courier and tracking number."""
    if shipment.status != "draft":
        raise Conflict(f"shipment {shipment.code} is {shipment.status}; its conditions can no longer change")
    if conditions not in CONDITIONS:
        raise DomainError(f"unknown shipping condition {conditions!r}; use one of {', '.join(CONDITIONS)}",
                          field="conditions")
    access.require_site(by, shipment.from_site, "packing a shipment")
    shipment.conditions = conditions
    shipment.courier = (courier or "").strip() or None
    shipment.tracking_number = (tracking_number or "").strip() or None
    session.flush()
    return shipment


def _ship_refusal(session: Session, shipment: Shipment, sample: Sample) -> str | None:
    if sample.status not in SHIPPABLE:
        return (f"{sample.accession} is {sample.status.replace('_', ' ')}; only stored or received samples "
                "can be shipped")
    if sample.study_id != shipment.study_id:
        return f"{sample.accession} belongs to another study"
    if sample.site_id != shipment.from_site_id:
        return (f"{sample.accession} is at site {sample.site.code}, but this shipment leaves from "
                f"{shipment.from_site.code}")
    problem = consent.refusal(sample, "share_outside_study" if outside_study(shipment) else "ship")
    if problem:
        return problem
    disposal = pending_disposal(session, sample)
    if disposal is not None:
        return (f"{sample.accession} waits for a disposal decision (requested "
                f"{disposal.requested_at:%Y-%m-%d}: {disposal.reason}); it cannot be packed until a lab "
                "manager rejects the request")
    other = session.scalar(
        select(Shipment.code).join(ShipmentItem, ShipmentItem.shipment_id == Shipment.id)
        .where(ShipmentItem.sample_id == sample.id, Shipment.status.in_(OPEN), Shipment.id != shipment.id)
    )
    if other is not None:
        return f"{sample.accession} is already packed in shipment {other}"
    return None


def add_by_scan(session: Session, shipment: Shipment, code: str, *, by: User | None) -> list[str]:
    """Pack the sample a scanned accession names, or every sample of a scanned box; return the accessions
    added.

    A box is all or nothing: if one of its samples may not travel, none is added and the message says why.
    """
    if shipment.status != "draft":
        raise Conflict(f"shipment {shipment.code} is {shipment.status}; nothing more can be packed")
    access.require_site(by, shipment.from_site, "packing a shipment")
    box, samples = _scanned(session, shipment, code, by=by)
    # Lock the samples: two people packing the same tube into two shipments act one after the other.
    session.execute(select(Sample.id).where(Sample.id.in_([s.id for s in samples])).with_for_update())
    packed = {i.accession for i in shipment.items}
    problems = []
    for sample in samples:
        if sample.accession in packed:
            problems.append(f"{sample.accession} is already in this shipment")
            continue
        problem = _ship_refusal(session, shipment, sample)
        if problem:
            problems.append(problem)
    if problems:
        prefix = f"nothing from box {box.barcode} was packed: " if box is not None else ""
        raise Conflict(prefix + "; ".join(problems), field="code")
    paths = storage.location_paths(session, [s.id for s in samples])
    for sample in samples:
        shipment.items.append(ShipmentItem(
            accession=sample.accession or "", sample_id=sample.id, participant_code=sample.participant.code,
            sample_type_code=sample.sample_type.code, quantity=sample.quantity, unit=sample.unit,
            parent_accession=sample.parent.accession if sample.parent else None,
            from_location=paths.get(sample.id), box_barcode=box.barcode if box is not None else None,
            state="packed"))
    session.flush()
    return [s.accession or "" for s in samples]


def _scanned(session: Session, shipment: Shipment, code: str, *,
             by: User | None) -> tuple[StorageUnit | None, list[Sample]]:
    """Return what a scan names: a box of the shipment's site and its samples (in position order), or no box
    and the one sample of an accession."""
    raw = (code or "").strip()
    if not raw:
        raise DomainError("scan a tube or a box", field="code")
    try:
        accession = accession_ids.validate(raw)
    except ValueError as exc:
        try:
            box = storage.get_unit_by_barcode(session, raw, site_codes=[shipment.from_site.code],
                                              where=access.visible_units(by) if by is not None else None)
        except NotFound:
            raise DomainError(f"{raw!r} is neither a sample ID ({exc}) nor a box barcode",
                              field="code") from None
        return box, _box_samples(session, shipment, box)
    sample = session.scalar(select(Sample).where(Sample.accession == accession))
    if sample is None or (by is not None and not access.may_see(by, sample)):
        raise NotFound(f"no sample {accession}: the ID is valid but was never registered here", field="code")
    return None, [sample]


def _box_samples(session: Session, shipment: Shipment, box: StorageUnit) -> list[Sample]:
    """Return the samples in ``box`` and the units inside it, or refuse a box elsewhere or empty."""
    if box.site_id != shipment.from_site_id:
        raise DomainError(f"box {box.barcode} is at site {box.site.code}, not {shipment.from_site.code}",
                          field="code")
    samples = list(session.scalars(
        select(Sample).join(Placement, Placement.sample_id == Sample.id)
        .where(Placement.unit_id.in_(storage.descendant_ids(session, box.id)))
        .order_by(Placement.row, Placement.col, Sample.id)
    ))
    if not samples:
        raise DomainError(f"box {box.barcode} is empty", field="code")
    return samples


def remove_item(session: Session, shipment: Shipment, accession: str, *, by: User | None) -> None:
    """Take a sample back out of a draft shipment."""
    if shipment.status != "draft":
        raise Conflict(f"shipment {shipment.code} is {shipment.status}; its contents can no longer change")
    access.require_site(by, shipment.from_site, "packing a shipment")
    code = accession.strip().upper()
    item = next((i for i in shipment.items if i.accession == code), None)
    if item is None:
        raise NotFound(f"{code} is not in shipment {shipment.code}")
    shipment.items.remove(item)
    session.flush()


def release_shipment(session: Session, shipment: Shipment, *, by: User, signature: tuple[str, str],
                     instance: str = "trialbank", at: datetime | None = None) -> Shipment:
    """Release a packed shipment under the releaser's electronic signature (password, meaning).

    Everything is checked again first (consent may have been withdrawn since packing); one refusal
    releases nothing. The signature is part of the operation, so no caller can release without one:
    samples then leave storage, go in transit and get a ``shipped`` event.
    """
    lock(session, shipment)
    access.require_site(by, shipment.from_site, "releasing a shipment")
    if shipment.status != "draft":
        raise Conflict(f"shipment {shipment.code} was already {shipment.status}")
    if not shipment.items:
        raise DomainError(f"cannot release shipment {shipment.code}: it is empty; scan samples into it first")
    problems = []
    for item in shipment.items:
        sample = item.sample
        assert sample is not None
        problem = _ship_refusal(session, shipment, sample)
        if problem:
            problems.append(problem)
    if problems:
        raise Conflict(f"shipment {shipment.code} was not released: " + "; ".join(problems))
    password, meaning = signature
    _sign_release(session, shipment, by, password=password, meaning=meaning)
    when = at or utcnow()
    to = shipment.to_site.code if shipment.to_site else shipment.destination
    for item in shipment.items:
        sample = item.sample
        assert sample is not None
        where = storage.remove_placement(session, sample) or item.from_location
        item.from_location = where
        sample.status = "in_transit"
        record_event(session, sample.id, "shipped", by=by, at=when, site_code=shipment.from_site.code,
                     from_location=where, to_location=f"shipment {shipment.code} to {to}",
                     details={"shipment": shipment.code, "conditions": shipment.conditions,
                              "courier": shipment.courier, "tracking_number": shipment.tracking_number})
    shipment.status = "released"
    shipment.released_at = when
    shipment.released_by_id = by.id
    session.flush()
    shipment.manifest_sha256 = manifests.content_sha256(shipment, instance=instance)
    session.flush()
    return shipment


def lock(session: Session, shipment: Shipment) -> None:
    """Re-read the shipment under a row lock, so two people releasing or receiving it at once act one after
    the other.

    On PostgreSQL the second waits and then sees the new status; on SQLite the write lock does the same
    (the boundary re-runs the unit of work, see lims.core.uow).
    """
    session.refresh(shipment, with_for_update=True)


def _sign_release(session: Session, shipment: Shipment, user: User, *, password: str,
                  meaning: str) -> Signature:
    """Sign a shipment's release: the lab manager re-enters their password and states the meaning."""
    content = {"shipment": shipment.code, "from": shipment.from_site.code,
               "to": shipment.to_site.code if shipment.to_site else shipment.destination,
               "conditions": shipment.conditions,
               "samples": sorted(i.sample.accession or "" for i in shipment.items
                                                                     if i.sample is not None)}
    return sign(session, user, password=password, meaning=meaning, record_type="shipment",
                record_id=shipment.code,
                content=content,
                statement=f"I release shipment {shipment.code} with {len(shipment.items)} sample(s)")
