"""A technician of site A cannot read or change site B's participants and samples, on pages or the API."""

from __future__ import annotations

from tests.station.conftest import make_bench


def test_technician_sees_only_own_site(login, session, study, make_participant, user) -> None:
    zj = make_bench(session, study, make_participant, user, site="ZJ", code="ZJ-SCOPE")
    nb = make_bench(session, study, make_participant, user, site="NB", code="NB-SCOPE")
    client = login("technician_nb")
    listing = client.get("/participants/?q=SCOPE").get_data(as_text=True)
    assert "NB-SCOPE" in listing and "ZJ-SCOPE" not in listing
    assert "ZJ-SCOPE" not in client.get("/participants/?site=ZJ").get_data(as_text=True)
    assert client.get("/participants/ZJ-SCOPE").status_code == 404
    assert client.get("/participants/NB-SCOPE").status_code == 200
    assert client.get(f"/samples/{zj.plasma[0].accession}").status_code == 404
    assert client.get(f"/samples/{nb.plasma[0].accession}").status_code == 200
    api = [p["code"] for p in client.get("/api/v1/participants/?q=SCOPE").get_json()]
    assert api == ["NB-SCOPE"]
    assert client.get("/api/v1/participants/ZJ-SCOPE").status_code == 404
    # Another site's sample is not found (its existence is not revealed across sites).
    r = client.post("/api/v1/station/lookup", json={"code": zj.plasma[0].accession, "mode": "lookup"})
    assert r.status_code == 404
    r = client.post("/samples/labels", data={"accession": [zj.plasma[0].accession], "format": "zpl"})
    assert r.status_code == 404
    assert client.get("/samples/register/ZJ-SCOPE/BASELINE").status_code == 404
    # Other roles see every site.
    monitor = login("monitor")
    assert monitor.get("/participants/ZJ-SCOPE").status_code == 200
    assert {p["code"]
            for p in monitor.get("/api/v1/participants/?q=SCOPE").get_json()} == {"ZJ-SCOPE", "NB-SCOPE"}
