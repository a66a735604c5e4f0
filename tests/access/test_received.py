"""A shipment from ZJ received at NB: the tubes belong to NB now; ZJ still sees them; SX sees nothing."""

from __future__ import annotations

from sqlalchemy import select

from lims.custody.models import CustodyEvent
from lims.extensions import db
from lims.samples.models import Sample
from lims.storage.models import Placement
from tests.access.conftest import Stage
from tests.conftest import rolled_back


def _lookup(stage: Stage, username: str, code: str) -> int:
    return stage.request(
        username, "POST", "/api/v1/station/lookup", bearer=True, json={"code": code, "mode": "lookup"}
    ).status_code


def test_receiving_site_uses_the_tubes(stage: Stage) -> None:
    w = stage.world
    tube = w.zj.arrived
    r = stage.request(
        "technician_nb", "POST", "/api/v1/station/lookup", bearer=True, json={"code": tube, "mode": "lookup"}
    )
    assert r.status_code == 200 and r.get_json()["sample"]["site"] == "NB", r.get_json()
    assert stage.request("technician_nb", "GET", f"/samples/{tube}").status_code == 200
    assert stage.request("technician_nb", "GET", f"/api/v1/samples/{tube}", bearer=True).status_code == 200
    suggestion = stage.request("technician_nb", "GET", f"/api/v1/storage/suggestions/{tube}", bearer=True)
    assert suggestion.status_code == 200 and suggestion.get_json()["barcode"] == w.nb_box_barcode
    # Store it in an NB box, and check the placement and its custody event in the same transaction.
    with rolled_back(stage.connection):
        client = stage.app.test_client()
        r = client.post(
            f"/api/v1/storage/units/{w.nb_box}/place",
            json={"code": tube},
            headers={"Authorization": f"Bearer {w.tokens['technician_nb']}"},
        )
        assert r.status_code == 201, r.get_json()
        with stage.app.app_context():
            sample = db.session.scalar(select(Sample).where(Sample.accession == tube))
            assert db.session.get(Placement, sample.id).unit_id == w.nb_box
            last = db.session.scalars(
                select(CustodyEvent)
                .where(CustodyEvent.sample_id == sample.id)
                .order_by(CustodyEvent.id.desc())
            ).first()
            assert last.action == "stored" and last.site_code == "NB"
    # The tube stored at NB earlier can be checked out there.
    r = stage.request(
        "technician_nb",
        "POST",
        "/api/v1/station/scan",
        bearer=True,
        json={"code": w.zj.shipped, "mode": "check_out", "text": "assay"},
    )
    assert r.status_code == 200, r.get_json()
    assert stage.request("technician_nb", "GET", f"/shipments/{w.zj.received}").status_code == 200


def test_sending_site_sees_but_may_not_act(stage: Stage) -> None:
    w = stage.world
    for tube in (w.zj.arrived, w.zj.shipped):
        assert _lookup(stage, "technician", tube) == 200
        assert stage.request("technician", "GET", f"/samples/{tube}").status_code == 200
        assert stage.request("technician", "GET", f"/api/v1/samples/{tube}", bearer=True).status_code == 200
    r = stage.request(
        "technician",
        "POST",
        "/api/v1/station/scan",
        bearer=True,
        json={"code": w.zj.shipped, "mode": "check_out", "text": "assay"},
    )
    assert r.status_code == 403 and "held at another site" in r.get_json()["message"]
    r = stage.request(
        "technician",
        "POST",
        f"/api/v1/storage/units/{w.zj.box2}/place",
        bearer=True,
        json={"code": w.zj.arrived},
    )
    assert r.status_code in (400, 409) and "site NB" in r.get_json()["message"], r.get_json()
    # NB's box itself is not ZJ's to see.
    r = stage.request(
        "technician",
        "POST",
        f"/api/v1/storage/units/{w.nb_box}/place",
        bearer=True,
        json={"code": w.zj.arrived},
    )
    assert r.status_code == 404
    assert stage.request("technician", "GET", f"/shipments/{w.zj.received}").status_code == 200


def test_third_site_sees_nothing(stage: Stage) -> None:
    w = stage.world
    for tube in (w.zj.arrived, w.zj.shipped):
        assert _lookup(stage, "technician_sx", tube) == 404
        assert stage.request("technician_sx", "GET", f"/samples/{tube}").status_code == 404
        assert (
            stage.request("technician_sx", "GET", f"/api/v1/samples/{tube}", bearer=True).status_code == 404
        )
        assert (
            stage.request(
                "technician_sx", "GET", f"/api/v1/storage/locations/{tube}", bearer=True
            ).status_code
            == 404
        )
        r = stage.request(
            "technician_sx",
            "POST",
            f"/api/v1/storage/units/{w.sx.box2}/place",
            bearer=True,
            json={"code": tube},
        )
        assert r.status_code == 404
    assert stage.request("technician_sx", "GET", f"/shipments/{w.zj.received}").status_code == 404
    listing = stage.request("technician_sx", "GET", "/api/v1/samples/", bearer=True).get_data(as_text=True)
    assert w.zj.arrived not in listing and w.zj.shipped not in listing
