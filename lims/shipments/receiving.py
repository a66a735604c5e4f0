"""Receiving shipments: scans at the destination reconciled with what was packed (received, damaged,
missing, unexpected), items that turn up late, and the reconciliation report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lims import access
from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, NotFound
from lims.custody.service import record_event
from lims.samples import accession as accession_ids
from lims.samples.holding import hold
from lims.samples.models import Sample
from lims.shipments.models import Shipment, ShipmentItem
from lims.shipments.service import lock


@dataclass
class Reconciliation:
    """What arrived compared with what was packed."""

    shipment_code: str
    received: list[str] = field(default_factory=list)
    damaged: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[tuple[str, str]] = field(default_factory=list)
    arrival_temp_c: float | None = None
    not_registered: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing and not self.unexpected and not self.damaged

    def to_dict(self) -> dict[str, Any]:
        return {"shipment": self.shipment_code, "received": self.received,
                "damaged": [{"accession": a, "damage": d} for a, d in self.damaged],
                "missing": self.missing, "unexpected": [{"code": c, "reason": r} for c, r in self.unexpected],
                "arrival_temp_c": self.arrival_temp_c, "not_registered": self.not_registered,
                "complete": self.complete}


def parse_damage(lines: list[str] | str | None) -> dict[str, str]:
    """Read 'ACCESSION: what is wrong' lines (or bare accessions) into {accession: damage}."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    result: dict[str, str] = {}
    for n, line in enumerate(lines or [], start=1):
        if not line.strip():
            continue
        code, _, note = line.partition(":")
        try:
            accession = accession_ids.validate(code)
        except ValueError as exc:
            raise DomainError(f"damaged line {n} ({line.strip()}): {exc}", field="damaged") from None
        result[accession] = note.strip() or "damaged"
    return result


def receive_shipment(session: Session, shipment: Shipment, *, scans: list[str],
                     damaged: dict[str, str] | None = None,
                     arrival_temp_c: float | None = None, by: User | None,
                     at: datetime | None = None) -> Reconciliation:
    """Receive a released shipment by its scans: reconcile received, damaged, missing and unexpected
    samples."""
    lock(session, shipment)
    if shipment.status == "draft":
        raise Conflict(f"shipment {shipment.code} has not been released; it cannot arrive yet")
    if shipment.status == "received":
        raise Conflict(f"shipment {shipment.code} was already received on "
                       f"{shipment.received_at.strftime('%Y-%m-%d') if shipment.received_at else '?'}")
    if shipment.to_site is not None:
        access.require_site(by, shipment.to_site, "receiving this shipment")
    damaged = dict(damaged or {})
    by_accession = {i.accession: i for i in shipment.items}
    report = Reconciliation(shipment.code, arrival_temp_c=arrival_temp_c)
    seen = _scanned(scans, shipment, by_accession, report)
    for code in damaged:
        if code not in by_accession and code not in seen:
            report.unexpected.append((code, f"reported damaged but not in shipment {shipment.code}"))
    when = at or utcnow()
    for item in shipment.items:
        arrived = item.accession in seen or item.accession in damaged
        if not arrived:
            item.state = "missing"
            report.missing.append(item.accession)
            continue
        damage = damaged.get(item.accession)
        item.state = "damaged" if damage else "received"
        item.damage = damage
        if damage:
            report.damaged.append((item.accession, damage))
        else:
            report.received.append(item.accession)
        if item.sample is None:
            report.not_registered.append(item.accession)
            continue
        _arrive(session, shipment, item.sample, by=by, at=when,
                reason=f"damaged: {damage}" if damage else None,
                details={"shipment": shipment.code, "arrival_temp_c": arrival_temp_c,
                         "damaged": bool(damage)})
    shipment.status = "received"
    shipment.received_at = when
    shipment.received_by_id = by.id if by else None
    shipment.arrival_temp_c = arrival_temp_c
    shipment.unexpected = [{"code": c, "reason": r} for c, r in report.unexpected]
    session.flush()
    return report


def receive_late(session: Session, shipment: Shipment, code: str, *, damage: str | None = None,
                 by: User | None, at: datetime | None = None) -> ShipmentItem:
    """Receive an item that was missing at receipt but turned up later (a custody event, like any receipt)."""
    lock(session, shipment)
    if shipment.status != "received":
        raise Conflict(f"shipment {shipment.code} has not been received yet: receive it with its scans")
    if shipment.to_site is not None:
        access.require_site(by, shipment.to_site, "receiving this shipment")
    try:
        accession = accession_ids.validate(code)
    except ValueError as exc:
        raise DomainError(f"{code.strip()!r} is not a sample ID: {exc}", field="code") from None
    item = next((i for i in shipment.items if i.accession == accession), None)
    if item is None:
        raise NotFound(f"{accession} is not in shipment {shipment.code}", field="code")
    if item.state != "missing":
        raise Conflict(f"{accession} was already {item.state} with shipment {shipment.code}", field="code")
    damage = (damage or "").strip() or None
    item.state, item.damage = ("damaged" if damage else "received"), damage
    if item.sample is not None:
        _arrive(session, shipment, item.sample, by=by, at=at or utcnow(),
                reason="received late" + (f"; damaged: {damage}" if damage else ""),
                details={"shipment": shipment.code, "late": True, "damaged": bool(damage)})
    session.flush()
    return item


def reconciliation(shipment: Shipment) -> Reconciliation:
    """Rebuild a received shipment's reconciliation report from what was stored."""
    report = Reconciliation(shipment.code, arrival_temp_c=shipment.arrival_temp_c)
    for item in shipment.items:
        if item.state == "received":
            report.received.append(item.accession)
        elif item.state == "damaged":
            report.damaged.append((item.accession, item.damage or "damaged"))
        elif item.state == "missing":
            report.missing.append(item.accession)
        if item.state in ("received", "damaged") and item.sample_id is None:
            report.not_registered.append(item.accession)
    report.unexpected = [(u["code"], u["reason"]) for u in shipment.unexpected or []]
    return report


def _scanned(scans: list[str], shipment: Shipment, by_accession: dict[str, ShipmentItem],
             report: Reconciliation) -> set[str]:
    """Return the sample IDs scanned at receipt; report scans that are no ID or not in the shipment."""
    seen: set[str] = set()
    for raw in scans:
        if not raw.strip():
            continue
        try:
            code = accession_ids.validate(raw)
        except ValueError as exc:
            report.unexpected.append((raw.strip(), f"not a sample ID: {exc}"))
            continue
        if code in seen:
            continue
        seen.add(code)
        if code not in by_accession:
            report.unexpected.append((code, f"not in shipment {shipment.code}"))
    return seen


def _arrive(session: Session, shipment: Shipment, sample: Sample, *, by: User | None, at: datetime,
            reason: str | None, details: dict[str, Any]) -> None:
    """One sample arrived: it is received, held by the destination, and its custody says so."""
    if sample.status == "in_transit":
        sample.status = "received"
    if shipment.to_site_id is not None:
        hold(session, sample, shipment.to_site_id)
    site_code = shipment.to_site.code if shipment.to_site else None
    record_event(session, sample.id, "shipment_received", by=by, at=at, site_code=site_code,
                 from_location=f"shipment {shipment.code}", to_location=site_code or shipment.destination,
                 reason=reason, details=details)
