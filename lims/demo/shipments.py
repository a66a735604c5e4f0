"""Demo shipments and consent: NB ships plasma to the central lab at ZJ (one tube missing, one unexpected
scan at receipt), received tubes are stored at ZJ, and a participant withdraws consent end to end."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from lims import consent
from lims.consent.withdrawal import quarantine_samples, withdraw_consent
from lims.demo import DemoContext
from lims.participants.models import Consent, Participant
from lims.samples.models import Sample
from lims.shipments import receiving, service
from lims.storage import service as storage
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site

SHIPPED = 8


def _at(ctx: DemoContext, days_before: int, hour: float = 9.0) -> datetime:
    return datetime.combine(ctx.data_cut - timedelta(days=days_before), time(0), tzinfo=UTC) \
        + timedelta(hours=hour)


def generate(ctx: DemoContext) -> None:
    """Quarantine samples of participants who withdrew, ship NB -> ZJ, and withdraw one more participant."""
    session = ctx.session
    manager = ctx.users.get("labmanager")
    # Participants whose withdrawal the core demo recorded: their samples are quarantined now.
    withdrawn = session.scalars(select(Participant).join(Consent).where(
        Participant.study_id == ctx.study.id, Consent.withdrawn_on.is_not(None))
                                .order_by(Participant.id)).all()
    quarantined = 0
    for participant in withdrawn:
        quarantined += len(quarantine_samples(session, participant, by=manager, at=_at(ctx, 30))[0])
    shipments = _ship(ctx)
    quarantined += _withdraw_one(ctx)
    ctx.summary.extra["shipments"] = shipments
    ctx.summary.extra["quarantined samples"] = quarantined


def _ship(ctx: DemoContext) -> int:
    session = ctx.session
    sender, receiver = ctx.technicians.get("NB"), ctx.technicians.get("ZJ")
    manager = ctx.users.get("labmanager")
    if sender is None or receiver is None or manager is None:
        return 0
    candidates = session.scalars(
        select(Sample).join(Placement, Placement.sample_id == Sample.id).join(StorageUnit)
        .join(Site, Site.id == StorageUnit.site_id)
        .where(Site.code == "NB", StorageUnit.kind == "box", Sample.status == "in_storage")
        .order_by(Sample.id).limit(200)
    ).all()
    tubes = [s for s in candidates if consent.refusal(s, "ship") is None][:SHIPPED]
    zj_tube = session.scalar(
        select(Sample.accession).join(Placement, Placement.sample_id == Sample.id).join(StorageUnit)
        .join(Site, Site.id == StorageUnit.site_id).where(Site.code == "ZJ").order_by(Sample.id).limit(1))
    if len(tubes) < 2 or zj_tube is None:
        return 0
    shipment = service.create_shipment(session, ctx.study, from_site="NB", to_site="ZJ", conditions="dry_ice",
                                       courier="SF Express", tracking_number="SF1400298817", by=sender)
    for tube in tubes:
        service.add_by_scan(session, shipment, tube.accession or "", by=sender)
    service.release_shipment(session, shipment, by=manager, instance="trialbank-demo", at=_at(ctx, 10),
                             signature=(ctx.password, "approved"))
    # last tube lost, one ZJ tube scanned by mistake
    scans = [t.accession or "" for t in tubes[:-1]] + [zj_tube]
    receiving.receive_shipment(session, shipment, scans=scans,
                               damaged={tubes[0].accession or "": "cracked cap"},
                             arrival_temp_c=-71.5, by=receiver, at=_at(ctx, 8, 3.0))
    returns = session.scalar(select(StorageUnit).where(StorageUnit.barcode == "ZJ-FRZ2-RET"))
    if returns is not None:
        for i, tube in enumerate(tubes[1:-1]):
            storage.place_sample(session, tube, returns, by=receiver, at=_at(ctx, 8, 4.0 + i / 60))
    # A second shipment still being packed at WZ, to show a draft.
    draft = service.create_shipment(session, ctx.study, from_site="WZ", to_site="ZJ",
                                    conditions="ln2_dry_shipper",
                                    by=ctx.technicians.get("WZ"))
    return 2 if draft else 1


def _withdraw_one(ctx: DemoContext) -> int:
    session = ctx.session
    participant = session.scalar(
        select(Participant).join(Consent).join(Site, Site.id == Participant.site_id)
        .where(Participant.study_id == ctx.study.id, Site.code == "ZJ", Consent.withdrawn_on.is_(None))
        .order_by(Participant.enrolled_on).limit(1))
    if participant is None:
        return 0
    result = withdraw_consent(session, participant, on=ctx.data_cut - timedelta(days=5),
                              reason="participant request by letter (demo)", by=ctx.users.get("datamanager"),
                              at=_at(ctx, 5))
    return len(result.quarantined)
