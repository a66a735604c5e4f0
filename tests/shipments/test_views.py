"""Shipment and consent pages and JSON API: the same rules through HTTP, with status codes and messages."""

from __future__ import annotations

import io
import json

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from lims.shipments.models import Shipment
from lims.shipments.schemas import ShipmentReceiveSchema
from tests.conftest import PASSWORD


def test_shipment_api_end_to_end(login, session, nb_lab, zj_lab) -> None:
    client = login("technician_nb")
    r = client.post("/api/v1/shipments/", json={"from_site": "NB", "to_site": "ZJ", "conditions": "dry_ice",
                                                 "courier": "SF", "tracking_number": "T-1"})
    assert r.status_code == 201, r.get_json()
    sid = r.get_json()["id"]
    bad = client.post(f"/api/v1/shipments/{sid}/items", json={"code": "NOPE"})
    assert bad.status_code == 400 and "neither a sample ID" in bad.get_json()["message"]
    r = client.post(f"/api/v1/shipments/{sid}/items", json={"code": nb_lab.box.barcode})
    assert r.status_code == 201 and len(r.get_json()["added"]) == 5
    assert client.delete(f"/api/v1/shipments/{sid}/items/{nb_lab.tubes[4].accession}").status_code == 204
    r = client.patch(f"/api/v1/shipments/{sid}",
                     json={"conditions": "ln2_dry_shipper", "courier": "World Courier",
                                                        "tracking_number": "WC-77"})
    assert r.status_code == 200 and r.get_json()["conditions"] == "ln2_dry_shipper"
    assert r.get_json()["tracking_number"] == "WC-77"
    assert client.post(f"/api/v1/shipments/{sid}/release").status_code == 403  # lab managers release
    assert client.get(f"/api/v1/shipments/{sid}/manifest").status_code == 409  # not released yet
    manager = login("lab_manager")
    # the signature is required
    assert manager.post(f"/api/v1/shipments/{sid}/release", json={}).status_code == 422
    r = manager.post(f"/api/v1/shipments/{sid}/release", json={"password": "not the password"})
    assert r.status_code == 403 and "signature was not applied" in r.get_json()["message"]
    assert manager.get(f"/api/v1/shipments/{sid}").get_json()["status"] == "draft"
    r = manager.post(f"/api/v1/shipments/{sid}/release", json={"password": PASSWORD, "meaning": "approved"})
    assert r.status_code == 200 and r.get_json()["status"] == "released"
    late = client.patch(f"/api/v1/shipments/{sid}", json={"conditions": "ambient"})
    assert late.status_code == 409 and "can no longer change" in late.get_json()["message"]
    doc = manager.get(f"/api/v1/shipments/{sid}/manifest").get_json()
    assert len(doc["sha256"]) == 64 and len(doc["content"]["items"]) == 4
    csv_text = manager.get(f"/api/v1/shipments/{sid}/manifest.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].startswith("accession,participant") and len(csv_text.splitlines()) == 5
    receiver = login("technician")
    r = receiver.post(f"/api/v1/shipments/{sid}/receive", json={
        "scans": [t.accession for t in nb_lab.tubes[:2]] + [zj_lab.tubes[0].accession],
        "damaged": {nb_lab.tubes[2].accession: "thawed on arrival"}, "arrival_temp_c": -20})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["missing"] == [nb_lab.tubes[3].accession]
    assert body["unexpected"][0]["code"] == zj_lab.tubes[0].accession and not body["complete"]
    assert receiver.get(f"/api/v1/shipments/{sid}/reconciliation").get_json() == body
    listing = receiver.get("/api/v1/shipments/?status=received").get_json()
    assert [s["id"] for s in listing] == [sid]


def test_empty_release_and_manifest_import_pages(login, session, study, nb_lab) -> None:
    manager = login("lab_manager")
    r = manager.post("/shipments/", data={"from_site": "NB", "to_site": "ZJ", "conditions": "ambient"})
    assert r.status_code == 302
    shipment = session.scalar(select(Shipment).order_by(Shipment.id.desc()))
    r = manager.post(f"/shipments/{shipment.id}/release", data={"password": PASSWORD}, follow_redirects=True)
    assert "it is empty; scan samples into it first" in r.get_data(as_text=True)
    r = manager.post(f"/shipments/{shipment.id}/items", data={"code": nb_lab.tubes[0].accession},
                     follow_redirects=True)
    assert f"Packed {nb_lab.tubes[0].accession}" in r.get_data(as_text=True)
    manager.post(f"/shipments/{shipment.id}/release", data={"password": PASSWORD, "meaning": "approved"})
    page = manager.get(f"/shipments/{shipment.id}").get_data(as_text=True)
    assert "Signed" in page and "(approved): I release shipment" in page
    raw = manager.get(f"/shipments/{shipment.id}/manifest.json").get_data()
    doc = json.loads(raw)
    doc["content"]["items"][0]["participant"] = "ZJ-999"
    r = manager.post("/shipments/import", data={"manifest": (io.BytesIO(json.dumps(doc).encode()), "m.json")},
                     content_type="multipart/form-data")
    assert r.status_code == 409 and "signed by this installation" in r.get_data(as_text=True)
    r = manager.post("/shipments/import", data={"manifest": (io.BytesIO(raw), "m.json")},
                     content_type="multipart/form-data")
    assert r.status_code == 409 and "signed by this installation" in r.get_data(as_text=True)
    page = manager.get(f"/shipments/{shipment.id}").get_data(as_text=True)
    assert "Receive and reconcile" in page and shipment.manifest_sha256 in page
    r = login("technician").post(f"/shipments/{shipment.id}/receive", data={
        "scans": "\n", "damaged": "", "arrival_temp_c": "cold"}, follow_redirects=True)
    assert "&#39;cold&#39; is not a number" in r.get_data(as_text=True)
    assert session.get(Shipment, shipment.id).status != "received"
    r = login("technician").post(f"/shipments/{shipment.id}/receive", data={
        "scans": "\n", "damaged": "", "arrival_temp_c": "-65"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Reconciliation" in html and "1 missing" in html and nb_lab.tubes[0].accession in html


def test_consent_withdrawal_page_and_disposal_list(login, session, nb_lab) -> None:
    code = nb_lab.participant.code
    assert login("technician").get(f"/consent/{code}/withdraw").status_code == 403
    client = login("data_manager")
    page = client.get(f"/consent/{code}/withdraw").get_data(as_text=True)
    assert f"Withdraw consent: {code}" in page and 'label for="reason"' in page
    r = client.post(f"/consent/{code}/withdraw", data={"on": "2025-03-01", "reason": ""})
    assert r.status_code == 400 and "say why consent is withdrawn" in r.get_data(as_text=True)
    r = client.post(f"/consent/{code}/withdraw", data={"on": "2025-03-01", "reason": "letter of 1 March"},
                    follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "samples quarantined and listed for disposal" in html
    assert html.count("consent withdrawn: letter of 1 March") == 7  # the blood tube and its six plasma tubes
    api = client.get("/api/v1/disposal/quarantined").get_json()
    assert {row["accession"] for row in api} >= {t.accession for t in nb_lab.tubes[:5]}
    again = client.post(f"/api/v1/consent/{code}/withdraw", json={"on": "2025-03-02", "reason": "again"})
    assert again.status_code == 409
    assert client.get("/consent/NB-000/withdraw").status_code == 404


def test_receipt_temperature_reads_a_decimal_comma_alike_on_page_and_json() -> None:
    schema = ShipmentReceiveSchema(only=("arrival_temp_c",))
    assert schema.load({"arrival_temp_c": "-65,5"}) == {"arrival_temp_c": -65.5}
    assert schema.load({"arrival_temp_c": -65.5}) == {"arrival_temp_c": -65.5}
    with pytest.raises(ValidationError, match="'-65,5,1' is not a number"):
        schema.load({"arrival_temp_c": "-65,5,1"})
