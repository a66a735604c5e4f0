"""Pages: login is required, and the participant and sample pages show what they promise."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lims.samples.service import register_primary, split
from lims.studies.service import timepoint_by_code


def test_login_page_and_redirect(client) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert "Log in to Trialbank" in page.get_data(as_text=True)
    for path in ("/participants/", "/participants/ZJ-001", "/samples/TB-000001"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/api/v1/participants/").status_code == 401


def test_wrong_password_is_refused_and_never_locks_the_account(client, session, user) -> None:
    """Guessing is slowed by rate limits per address and account (tests/accounts/test_limits.py), never by
    locking the account, which would let anyone lock anyone out."""
    for _ in range(5):
        r = client.post("/login", data={"username": "monitor", "password": "wrong password!"})
        assert r.status_code == 401
        assert "Wrong user name or password" in r.get_data(as_text=True)
    right = client.post("/login", data={"username": "monitor", "password": "correct horse battery"})
    assert right.status_code == 302


@pytest.fixture()
def visit_with_samples(session, study, make_participant, user):
    p = make_participant(code="ZJ-777", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    baseline = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    baseline.status, baseline.actual_on = "done", date(2025, 1, 8)
    kit = timepoint_by_code(study, "BASELINE").kit[0]
    tech = user("technician")
    blood = register_primary(session, baseline, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                             by=tech,
                             collected_at=datetime(2025, 1, 8, 8, 0, tzinfo=UTC))
    plasma_type = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
    plasma = split(session, blood, sample_type=plasma_type, count=2, volume=1.0, unit="ml", by=tech,
                   derivation="derivative")
    aliquots = split(session, plasma[0], sample_type=plasma_type, count=2, volume=0.4, unit="ml", by=tech)
    return p, blood, plasma, aliquots


def test_participant_list_search_and_page(login, visit_with_samples) -> None:
    client = login("researcher")
    listing = client.get("/participants/?q=zj-777").get_data(as_text=True)
    assert "ZJ-777" in listing and "1 participant" in listing
    assert "ZJ-777" not in client.get("/participants/?q=NB-").get_data(as_text=True)
    page = client.get("/participants/ZJ-777")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    _p, blood, _plasma, _ = visit_with_samples
    assert "Participant ZJ-777" in html
    # Time points in order: baseline before mid-nCRT before EOT before CRE1.
    assert html.index('id="visit-BASELINE"') < html.index('id="visit-MID_NCRT"') < html.index(
        'id="visit-EOT"') \
        < html.index('id="visit-CRE1"')
    assert "1 of 6 expected collected" in html
    assert blood.accession in html
    assert client.get("/participants/ZJ-000").status_code == 404


def test_sample_page_shows_lineage_and_custody(login, visit_with_samples) -> None:
    client = login("technician")
    _p, blood, plasma, aliquots = visit_with_samples
    html = client.get(f"/samples/{plasma[0].accession.lower()}").get_data(as_text=True)
    assert f"Sample {plasma[0].accession}" in html
    assert blood.accession in html and aliquots[0].accession in html and aliquots[1].accession in html
    assert html.index(blood.accession) < html.index("(this sample)") < html.index(aliquots[0].accession)
    assert "Custody history" in html and "derived" in html and "aliquoted" in html
    assert "SPREC" in html
    assert client.get("/samples/NOT-AN-ID").status_code == 404


def test_participants_api(login, visit_with_samples) -> None:
    client = login("monitor")
    data = client.get("/api/v1/participants/?q=ZJ-777").get_json()
    assert [p["code"] for p in data] == ["ZJ-777"]
    one = client.get("/api/v1/participants/ZJ-777").get_json()
    assert one["site"] == "ZJ" and one["consents"][0]["scopes"]["MARKER_RESEARCH"] is True
    assert any(v["timepoint"] == "CRE1" for v in one["visits"])
    assert client.get("/api/v1/participants/NOPE-1").status_code == 404
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/participants/" in spec["paths"]


def test_health(client) -> None:
    body = client.get("/health").get_json()
    assert body["database"] == "ok" and body["schema"]


def test_committed_openapi_document_is_current(app) -> None:
    """docs/openapi.json is the API contract for scripts; regenerate with `lims openapi write
    docs/openapi.json`."""
    import json
    from pathlib import Path

    committed = json.loads((Path(__file__).resolve().parents[1] / "docs" / "openapi.json").read_text())
    served = app.test_client().get("/api/v1/openapi.json").get_json()
    assert served == committed, "the API changed: run 'lims openapi write --format=json docs/openapi.json'"
