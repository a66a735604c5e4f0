"""Worklists and search: visits due and overdue per site, the sample grid and its CSV; a pending disposal
blocks packing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest

from lims.access import local_today, study_zone
from lims.core.errors import Conflict
from lims.disposal.service import decide, pending, request_disposal
from lims.samples.service import register_missed, register_primary
from lims.shipments import service as shipments
from lims.storage.service import place_sample
from lims.worklists.visits import week_of, worklist
from tests.conftest import PASSWORD
from tests.storage.conftest import make_lab


@pytest.fixture()
def today(study) -> date:
    return local_today(study_zone(study))


def _visit(p, code):
    return next(v for v in p.visits if v.timepoint.code == code)


@pytest.fixture()
def schedule(session, study, make_participant, today):
    """ZJ: a baseline due this week and one overdue; NB: one due this week; ZJ: one done this week, late."""
    monday, _ = week_of(today)
    rt = {"rt_start_on": monday + timedelta(days=10)}
    due = make_participant(site="ZJ", code="ZJ-801", enrolled_on=monday - timedelta(days=3), **rt)
    late = make_participant(site="ZJ", code="ZJ-802", enrolled_on=monday - timedelta(days=60), **rt)
    nb = make_participant(site="NB", code="NB-803", enrolled_on=monday - timedelta(days=3), **rt)
    done = make_participant(site="ZJ", code="ZJ-804", enrolled_on=monday - timedelta(days=3), **rt)
    for p in (due, late, nb, done):
        v = _visit(p, "BASELINE")
        v.planned_on, v.window_start, v.window_end = monday + timedelta(days=2), monday, monday + timedelta(
            days=6)
    lv = _visit(late, "BASELINE")
    lv.planned_on, lv.window_start, lv.window_end = today - timedelta(days=20), today - timedelta(days=27), \
        today - timedelta(days=13)
    dv = _visit(done, "BASELINE")
    dv.window_start, dv.window_end = monday - timedelta(days=30), monday - timedelta(days=10)
    dv.status, dv.actual_on = "done", monday
    kit = dv.timepoint.kit
    register_primary(session, dv, kit[0], sample_type=kit[0].sample_type, quantity=10, unit="ml", by=None,
                     collected_at=datetime.combine(monday, datetime.min.time(), tzinfo=UTC))
    register_missed(session, dv, kit[1], reason="tube not available", by=None)
    session.flush()
    return due, late, nb, done


def test_worklist_lists_due_overdue_and_done_for_the_users_sites(session, study, user, schedule,
                                                                 today) -> None:
    work = worklist(session, study, user("technician"), day=today)
    codes = {name: [r.participant.code for r in getattr(work, name)] for name in ("due", "overdue", "done")}
    assert "ZJ-801" in codes["due"] and "NB-803" not in codes["due"] and "ZJ-802" not in codes["due"]
    assert "ZJ-802" in codes["overdue"] and "ZJ-804" in codes["done"]
    row = next(r for r in work.done if r.participant.code == "ZJ-804")
    assert (row.collected, row.missed, row.expected) == (1, 1, 6) and row.out_of_window
    assert next(r for r in work.overdue if r.participant.code == "ZJ-802").out_of_window
    assert not next(r for r in work.due if r.participant.code == "ZJ-801").out_of_window
    everyone = worklist(session, study, user("lab_manager"), day=today, site="NB")
    assert [r.participant.code for r in everyone.due if r.participant.code.endswith("803")] == ["NB-803"]
    assert all(r.participant.site.code == "NB" for r in everyone.due + everyone.overdue + everyone.done)


def test_worklist_page_and_api(login, schedule, today) -> None:
    client = login("technician")
    html = client.get("/worklists/visits").get_data(as_text=True)
    assert "ZJ-801" in html and "NB-803" not in html and "out of window" in html
    assert "Register samples" in html and "Screening / baseline" in html
    body = client.get(f"/api/v1/worklists/visits?week={today.isoformat()}").get_json()
    assert body["week_start"] == week_of(today)[0].isoformat()
    row = next(r for r in body["done"] if r["participant"] == "ZJ-804")
    assert row["collected"] == 1 and row["missed"] == 1 and row["out_of_window"] is True
    assert row["kit"][1]["state"] == "missed"
    researcher = login("researcher").get("/api/v1/worklists/visits").get_json()
    assert all(r["planned_on"] is None for r in researcher["due"]) and "NB-803" in str(researcher)
    assert client.get("/api/v1/worklists/visits?week=nonsense").status_code == 422


def test_sample_grid_filters_pages_and_downloads(login, session, study, make_participant, user) -> None:
    lab = make_lab(session, study, make_participant, user, site_code="ZJ", tag="G")
    tech = user("technician")
    for tube in lab.tubes[:3]:
        place_sample(session, tube, lab.box, by=tech)
    code = lab.participant.code
    client = login("technician")
    html = client.get(f"/worklists/samples?participant={code.lower()}&sample_type=CTDNA_PLASMA").get_data(
        as_text=True)
    assert "6 samples" in html and lab.tubes[0].accession in html and "G box 1" in html
    stored = client.get(f"/worklists/samples?participant={code}&location=g-b1").get_data(as_text=True)
    assert "3 samples" in stored and lab.tubes[4].accession not in stored
    loose = client.get(f"/worklists/samples?participant={code}&location=none&sample_type=CTDNA_PLASMA")
    assert "3 samples" in loose.get_data(as_text=True)
    assert "no storage unit with barcode NOPE" in client.get("/worklists/samples?location=nope").get_data(
        as_text=True)
    paged = client.get(f"/worklists/samples?participant={code}&page=2").get_data(as_text=True)
    assert "Page 2 of" not in paged or "7 samples" in paged
    r = client.get(f"/worklists/samples.csv?participant={code}&timepoint=baseline")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert r.mimetype == "text/csv" and len(rows) == 7 and rows[0]["accession"] == lab.blood.accession
    assert rows[1]["location"].endswith("G box 1 › A1") and rows[1]["collected"] == "2025-01-08 16:00"
    api = client.get(f"/api/v1/samples/?participant={code}&site=zj&page_size=100").get_json()
    assert len(api) == 7 and client.get(f"/api/v1/samples/?participant={code}&site=NB").get_json() == []
    nb = login("technician_nb").get(f"/worklists/samples.csv?participant={code}")
    assert len(nb.get_data(as_text=True).splitlines()) == 1  # the header only: ZJ's samples are not NB's


def test_a_pending_disposal_blocks_packing_and_a_rejection_frees_it(session, study, make_participant,
                                                                    user) -> None:
    lab = make_lab(session, study, make_participant, user, site_code="NB", tag="D")
    tech = user("technician_nb")
    tube = lab.tubes[0]
    place_sample(session, tube, lab.box, by=tech)
    request_disposal(session, tube, reason="haemolysed", by=tech)
    shipment = shipments.create_shipment(session, study, from_site="NB", to_site="ZJ", conditions="dry_ice",
                                         by=tech)
    with pytest.raises(Conflict, match=r"waits for a disposal decision .*haemolysed"):
        shipments.add_by_scan(session, shipment, tube.accession, by=tech)
    with pytest.raises(Conflict, match="nothing from box D-B1 was packed"):
        shipments.add_by_scan(session, shipment, "D-B1", by=tech)
    (waiting,) = [r for r in pending(session) if r.sample_id == tube.id]
    decide(session, [waiting.id], approve=False, by=user("lab_manager"), password=PASSWORD,
           meaning="reviewed",
           note="not haemolysed after all")
    assert shipments.add_by_scan(session, shipment, tube.accession, by=tech) == [tube.accession]
