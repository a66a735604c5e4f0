"""Shipments end to end: build by scan (tube or box), release, manifest, receive with reconciliation,
import."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy import select

from lims.consent.withdrawal import withdraw_consent
from lims.core.errors import Conflict, DomainError, Forbidden
from lims.custody.models import CustodyEvent
from lims.custody.service import verify_chain
from lims.shipments import manifests, receiving, service
from lims.storage.models import Placement
from lims.storage.service import location_path, place_sample
from tests.conftest import PASSWORD


def _last(session, sample) -> CustodyEvent:
    return session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
                           .order_by(CustodyEvent.seq.desc())).first()


def test_shipment_end_to_end_with_missing_and_unexpected(session, study, nb_lab, zj_lab, user,
                                                         nb_site) -> None:
    tech_nb, manager, tech_zj = user("technician_nb"), user("lab_manager"), user("technician")
    shipment = service.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="dry_ice",
                                       courier="SF Express", tracking_number="SF123", by=tech_nb)
    assert shipment.code == "SHP-NB-ZJ-0001" and shipment.status == "draft"
    with pytest.raises(DomainError, match="empty"):
        service.release_shipment(session, shipment, by=manager, signature=(PASSWORD, "approved"))
    added = service.add_by_scan(session, shipment, nb_lab.box.barcode.lower(), by=tech_nb)  # the whole box
    assert added == [t.accession for t in nb_lab.tubes[:5]]
    with pytest.raises(Conflict, match="already in this shipment"):
        service.add_by_scan(session, shipment, nb_lab.tubes[0].accession, by=tech_nb)
    other = service.create_shipment(session, study, from_site="NB", to_site="WZ", conditions="ambient",
                                    by=tech_nb)
    with pytest.raises(Conflict, match=f"already packed in shipment {shipment.code}"):
        service.add_by_scan(session, other, nb_lab.tubes[1].accession, by=tech_nb)
    with pytest.raises(Forbidden):
        service.add_by_scan(session, shipment, nb_lab.tubes[5].accession, by=tech_zj)

    service.release_shipment(session, shipment, by=manager, instance="nb-instance",
                             signature=(PASSWORD, "approved"))
    t0 = nb_lab.tubes[0]
    assert t0.status == "in_transit" and session.get(Placement, t0.id) is None
    shipped = _last(session, t0)
    assert shipped.action == "shipped" and shipped.from_location.endswith("A1")
    assert shipped.details["shipment"] == shipment.code and shipped.details["tracking_number"] == "SF123"
    with pytest.raises(Conflict, match="already released"):
        service.release_shipment(session, shipment, by=manager, signature=(PASSWORD, "approved"))

    doc = manifests.manifest(shipment, instance="nb-instance", key=nb_site.key)
    assert doc["sha256"] == shipment.manifest_sha256 and len(doc["content"]["items"]) == 5
    assert doc["signature"]["key_id"] == nb_site.key.fingerprint
    rows = list(csv.DictReader(io.StringIO(manifests.manifest_csv(shipment))))
    assert [r["accession"] for r in rows] == added and rows[0]["box"] == nb_lab.box.barcode
    assert rows[0]["parent"] == nb_lab.blood.accession and rows[0]["quantity"] == "1"

    with pytest.raises(Forbidden):
        receiving.receive_shipment(session, shipment, scans=[t0.accession], by=tech_nb)
    stranger = zj_lab.tubes[0].accession
    scans = [t0.accession, t0.accession.lower(), nb_lab.tubes[1].accession, nb_lab.tubes[2].accession,
             stranger,
             "NOT-A-CODE"]
    report = receiving.receive_shipment(session, shipment, scans=scans,
                                      damaged={nb_lab.tubes[3].accession: "cracked cap"},
                                        arrival_temp_c=-72.5,
                                      by=tech_zj)
    assert report.received == [t.accession for t in nb_lab.tubes[:3]]
    assert report.damaged == [(nb_lab.tubes[3].accession, "cracked cap")]
    assert report.missing == [nb_lab.tubes[4].accession]
    assert [c for c, _ in report.unexpected] == [stranger, "NOT-A-CODE"]
    assert "not in shipment" in report.unexpected[0][1] and not report.complete
    assert t0.status == "received" and nb_lab.tubes[4].status == "in_transit"
    assert zj_lab.tubes[0].status == "collected"  # an unexpected scan changes nothing
    received = _last(session, t0)
    assert received.action == "shipment_received" and received.site_code == "ZJ"
    assert received.details["arrival_temp_c"] == -72.5
    assert _last(session, nb_lab.tubes[3]).reason == "damaged: cracked cap"
    stored = receiving.reconciliation(shipment)
    assert stored.to_dict() == report.to_dict()
    # Received at ZJ, the tube can now go into a ZJ box (and not back into an NB one).
    place_sample(session, t0, zj_lab.box, by=tech_zj)
    assert location_path(session, t0.id).startswith("ZJ › ")
    with pytest.raises(Conflict, match="already received"):
        receiving.receive_shipment(session, shipment, scans=[], by=tech_zj)
    assert verify_chain(session).ok


def test_shipping_needs_consent_and_refuses_quarantined(session, study, nb_lab, user) -> None:
    tech_nb = user("technician_nb")
    consent = nb_lab.participant.consent
    outside = service.create_shipment(session, study, from_site="NB",
                                      destination="Genomics partner, Shanghai",
                                      conditions="dry_ice", by=tech_nb)
    assert service.outside_study(outside)
    with pytest.raises(Conflict, match="does not cover sharing samples or data outside the study"):
        service.add_by_scan(session, outside, nb_lab.tubes[0].accession, by=tech_nb)
    inside = service.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="dry_ice",
                                     by=tech_nb)
    service.add_by_scan(session, inside, nb_lab.tubes[0].accession, by=tech_nb)
    withdraw_consent(session, nb_lab.participant, on=consent.signed_on, reason="participant request",
                     by=tech_nb)
    with pytest.raises(Conflict, match="quarantined"):
        service.add_by_scan(session, inside, nb_lab.tubes[1].accession, by=tech_nb)
    with pytest.raises(Conflict, match=r"was not released: .*quarantined"):
        service.release_shipment(session, inside, by=user("lab_manager"), signature=(PASSWORD, "approved"))
    assert inside.status == "draft" and nb_lab.tubes[0].status == "quarantined"


def test_bad_shipments_are_refused(session, study, nb_lab, user) -> None:
    tech = user("technician_nb")
    with pytest.raises(DomainError, match="to itself"):
        service.create_shipment(session, study, from_site="NB", to_site="NB", conditions="dry_ice", by=tech)
    with pytest.raises(DomainError, match="unknown shipping condition"):
        service.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="warm", by=tech)
    with pytest.raises(DomainError, match="say where"):
        service.create_shipment(session, study, from_site="NB", conditions="ambient", by=tech)
    shipment = service.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="ambient",
                                       by=tech)
    with pytest.raises(DomainError, match=r"neither a sample ID .* nor a box barcode"):
        service.add_by_scan(session, shipment, "NO-SUCH-BOX", by=tech)
    with pytest.raises(Conflict, match="only stored or received"):
        service.add_by_scan(session, shipment, nb_lab.blood.accession, by=tech)
    with pytest.raises(Conflict, match="has not been released"):
        receiving.receive_shipment(session, shipment, scans=[], by=tech)
    assert shipment.items == []


def test_consent_withdrawal_end_to_end(session, study, nb_lab, user) -> None:
    from lims.consent import refusal as consent_allows
    from lims.disposal.service import awaiting_disposal as disposal_list
    from lims.station.actions import refusal as bench_refusal

    tech = user("technician_nb")
    p = nb_lab.participant
    tube = nb_lab.tubes[0]
    assert consent_allows(tube, "check_out") is None and consent_allows(tube, "ship") is None
    with pytest.raises(DomainError, match="say why"):
        withdraw_consent(session, p, on=date(2025, 3, 1), reason=" ", by=tech)
    with pytest.raises(DomainError, match="before consent was signed"):
        withdraw_consent(session, p, on=date(2000, 1, 1), reason="participant request", by=tech)
    result = withdraw_consent(session, p, on=date(2025, 3, 1), reason="participant request", by=tech)
    live = [s for s in [nb_lab.blood, *nb_lab.tubes] if s.status != "consumed"]
    assert {s.id for s in result.quarantined} == {s.id for s in live}
    assert all(s.status == "quarantined" for s in live) and p.withdrawn
    event = session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id == tube.id)
                            .order_by(CustodyEvent.seq.desc())).first()
    assert event.action == "quarantined" and event.reason == "consent withdrawn: participant request"
    for action in ("check_out", "thaw", "ship"):
        assert "quarantined" in consent_allows(tube, action)
    assert bench_refusal(tube, "dispose", reason="x") is None and bench_refusal(tube, "lookup") is None
    rows = disposal_list(session, participant=p)
    assert {r.sample.id for r in rows} == {s.id for s in live}
    assert rows[0].reason == "consent withdrawn: participant request"
    assert any(r.location and r.location.endswith("A1") for r in rows)
    with pytest.raises(Conflict, match="already withdrew"):
        withdraw_consent(session, p, on=date(2025, 3, 2), reason="again", by=tech)
    assert verify_chain(session).ok


def test_consent_scopes_are_enforced(session, study, make_participant, user) -> None:
    from lims.consent import refusal as consent_allows
    from lims.participants.service import record_consent
    from tests.storage.conftest import make_tubes

    p = make_participant(rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    record_consent(session, p, version="2.2", signed_on=date(2025, 1, 7),
                   scopes={"MARKER_RESEARCH": True, "GENETIC_RESEARCH": False})
    session.refresh(p)
    blood, tubes = make_tubes(session, study, p, user("technician"), count=1)
    assert consent_allows(tubes[0], "check_out") is None
    buffy = next(t for t in study.sample_types if t.code == "BUFFY_COAT")
    tubes[0].sample_type = buffy
    assert "genetic research" in consent_allows(tubes[0], "check_out")
    record_consent(session, p, version="2.3", signed_on=date(2025, 1, 8), scopes={"MARKER_RESEARCH": False})
    session.refresh(p)
    assert "marker research" in consent_allows(blood, "ship")
    assert consent_allows(blood, "teleport").startswith("unknown purpose 'teleport'")
