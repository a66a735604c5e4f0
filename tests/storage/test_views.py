"""Storage pages and API: scan to place, box map, refusals with messages, moves, locations, retention."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.custody.models import CustodyEvent
from lims.storage.models import Placement


def test_box_map_page_scan_to_place_and_refusals(login, session, lab) -> None:
    client = login("technician")
    page = client.get(f"/storage/scan?barcode={lab.box.barcode.lower()}")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/storage/units/{lab.box.id}")
    a, b = lab.tubes[:2]
    r = client.post(f"/storage/units/{lab.box.id}/place", data={"code": a.accession.lower()},
                    follow_redirects=True)
    html = r.get_data(as_text=True)
    assert f"{a.accession} stored at A1" in html
    assert re.search(r'class="type-CTDNA_PLASMA cell-status-in_storage just-placed"[^>]*>\s*<a '
                     r'href="/samples/'
                     + a.accession, html)
    assert html.count('class="empty"') == 8 + 1  # eight empty cells and the legend
    r = client.post(f"/storage/units/{lab.box.id}/place", data={"code": b.accession, "position": "A1"},
                    follow_redirects=True)
    assert f"position A1 of box {lab.box.barcode} is taken by {a.accession}" in r.get_data(as_text=True)
    r = client.post(f"/storage/units/{lab.box.id}/place", data={"code": lab.blood.accession},
                    follow_redirects=True)
    assert "wrong box type" in r.get_data(as_text=True)
    assert session.get(Placement, b.id) is None
    assert login("monitor").post(f"/storage/units/{lab.box.id}/place",
                                 data={"code": b.accession}).status_code == 403


def test_storage_index_shows_occupancy_and_suggestion(login, session, lab, user) -> None:
    from lims.storage.service import place_sample

    place_sample(session, lab.tubes[0], lab.box2, by=user("technician"))
    client = login("researcher")
    html = client.get(f"/storage/?accession={lab.tubes[1].accession}").get_data(as_text=True)
    assert "T -80 freezer" in html and "1 of 13" in html and "12 free" in html
    assert "Site total: 1 of 13" in html  # the freezer's boxes; the LN2 tank is still empty
    assert "Suggested location for" in html and "position <strong>A2</strong>" in html


def test_move_page_and_api(login, session, lab, user) -> None:
    from lims.storage.service import place_sample

    for tube in lab.tubes[:2]:
        place_sample(session, tube, lab.box, by=user("technician"))
    client = login("technician")
    r = client.post(f"/storage/units/{lab.rack.id}/move", data={"into": lab.box.barcode},
                    follow_redirects=True)
    assert "is inside" in r.get_data(as_text=True)
    r = client.post(f"/api/v1/storage/units/{lab.box.id}/move", json={"into": lab.tank.barcode,
                                                                      "version": lab.box.version})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["samples_moved"] == 2 and r.get_json()["path"].endswith(f"{lab.tank.name} › "
                                                                                f"{lab.box.name}")
    stale = client.post(f"/api/v1/storage/units/{lab.box.id}/move",
                        json={"into": lab.rack.barcode, "version": 1})
    assert stale.status_code == 409 and "someone else" in stale.get_json()["message"]
    moved = session.scalars(select(CustodyEvent).where(CustodyEvent.action == "moved",
                                                       CustodyEvent.sample_id.in_([t.id
                                                                                   for t in lab.tubes[:2]])))
    assert len(list(moved)) == 2


def test_api_place_location_unit_and_retention(login, session, lab) -> None:
    client = login("technician")
    a, b = lab.tubes[:2]
    r = client.post(f"/api/v1/storage/units/{lab.box.id}/place", json={"code": a.accession, "position": "C3"})
    assert r.status_code == 201 and r.get_json()["position"] == "C3" and r.get_json()["action"] == "stored"
    taken = client.post(f"/api/v1/storage/units/{lab.box.id}/place",
                        json={"code": b.accession, "position": "c3"})
    assert taken.status_code == 409 and taken.get_json()["message"].startswith("position C3 of box")
    loc = client.get(f"/api/v1/storage/locations/{a.accession}").get_json()
    assert loc["path"].endswith("T box 1 › C3") and loc["version"] == 1
    moved = client.post(f"/api/v1/storage/units/{lab.box2.id}/place",
                        json={"code": a.accession, "version": 1})
    assert moved.status_code == 201 and moved.get_json()["action"] == "moved"
    again = client.post(f"/api/v1/storage/units/{lab.box.id}/place", json={"code": a.accession, "version": 1})
    assert again.status_code == 409 and "moved by someone else" in again.get_json()["message"]
    detail = client.get(f"/api/v1/storage/units/{lab.box2.id}").get_json()
    assert detail["usage"] == {"capacity": 4, "used": 1, "free": 3, "unbounded": False}
    assert [p["accession"] for p in detail["positions"]] == [a.accession, None, None, None]
    units = client.get("/api/v1/storage/units?site=ZJ&kind=box").get_json()
    assert {u["barcode"] for u in units} >= {"T-B1", "T-B2"}
    assert client.get(f"/api/v1/storage/suggestions/{b.accession}").get_json()["unit_id"] == lab.box2.id
    due = client.get("/api/v1/storage/retention?on=2045-01-09").get_json()
    assert a.accession in {row["accession"] for row in due}
    assert "Retention review" in client.get("/storage/retention?on=2045-01-09").get_data(as_text=True)


def test_create_unit_page_and_api(login, session, lab) -> None:
    client = login("lab_manager")
    r = client.post("/storage/units", data={"parent_id": lab.rack.id, "kind": "box", "name": "New box",
                                            "barcode": "t-new", "rows": "9", "cols": "9"})
    assert r.status_code == 302
    r = client.post("/api/v1/storage/units", json={"parent_id": lab.rack.id, "kind": "box", "name": "Dup",
                                                   "barcode": "T-NEW", "rows": 2, "cols": 2})
    assert r.status_code == 409 and "already has a unit with barcode T-NEW" in r.get_json()["message"]
    r = client.post("/api/v1/storage/units", json={"parent_id": lab.box.id, "kind": "rack", "name": "Bad",
                                                   "barcode": "T-BAD"})
    assert r.status_code == 400 and "holds tubes" in r.get_json()["message"]
    assert login("technician").post("/api/v1/storage/units",
                                    json={"site": "ZJ", "kind": "freezer", "name": "x",
                                                                    "barcode": "x"}).status_code == 403
