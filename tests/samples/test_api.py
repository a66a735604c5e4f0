"""Samples JSON API: filtered, paginated lists and one sample with custody."""

from __future__ import annotations

from tests.station.conftest import make_bench


def test_list_filter_paginate_and_detail(login, session, study, make_participant, user) -> None:
    bench = make_bench(session, study, make_participant, user, site="ZJ", code="ZJ-API")
    client = login("researcher")
    r = client.get("/api/v1/samples/?participant=zj-api&sample_type=CTDNA_PLASMA&page_size=2")
    assert r.status_code == 200
    assert [s["accession"] for s in r.get_json()] == [s.accession for s in bench.plasma[:2]]
    assert '"total": 4' in r.headers["X-Pagination"]
    stored = client.get("/api/v1/samples/?participant=ZJ-API&status=in_storage").get_json()
    assert len(stored) == 3 and all(s["status"] == "in_storage" for s in stored)
    assert client.get("/api/v1/samples/?status=lost").status_code == 422
    one = client.get(f"/api/v1/samples/{bench.plasma[0].accession.lower()}").get_json()
    assert one["parent"] == bench.blood.accession and one["sprec"].startswith("PL2-")
    assert [e["action"] for e in one["custody"]] == ["derived"]
    assert len(one["custody"][0]["hash"]) == 64
    assert client.get("/api/v1/samples/TB-0000000-0").status_code == 404
    nb = login("technician_nb")
    assert nb.get(f"/api/v1/samples/{bench.plasma[0].accession}").status_code == 404
    assert nb.get("/api/v1/samples/?participant=ZJ-API").get_json() == []


def test_absurd_page_number_is_an_empty_page(login) -> None:
    client = login("monitor")
    for path in ("/api/v1/samples/", "/api/v1/participants/", "/api/v1/markers/results"):
        r = client.get(f"{path}?page=9223372036854775808&page_size=10")
        assert r.status_code == 200 and r.get_json() == [], path
