"""Bulk placement from a CSV (all or nothing, line/field reasons) and a box's contents as CSV and PDF."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from lims.custody.models import CustodyEvent
from lims.storage.bulk import BulkRefused, place_from_csv
from lims.storage.export import box_csv, safe_cell
from lims.storage.models import Placement
from lims.storage.service import place_sample


def _where(session, sample):
    p = session.get(Placement, sample.id)
    return (p.unit.barcode, p.position_label) if p else None


def test_bulk_placement_places_every_line_with_one_event_each(session, lab, user) -> None:
    tech = user("technician")
    a, b, c, d = lab.tubes[:4]
    place_sample(session, a, lab.box, position="A1", by=tech)
    place_sample(session, b, lab.box, position="A2", by=tech)
    # a and b swap; c goes to the next free position; d into the 2 x 2 box; lower-case and hyphen-less IDs
    # pass.
    data = (f"accession,box,position\n{a.accession},T-B1,A2\n{b.accession.lower()},t-b1,A1\n"
            f"{c.accession.replace('-', '')},T-B1,\n{d.accession},T-B2,B2\n").encode()
    assert place_from_csv(session, data, by=tech) == 4
    assert [_where(session, s) for s in (a, b, c, d)] == [
        ("T-B1", "A2"), ("T-B1", "A1"), ("T-B1", "A3"), ("T-B2", "B2")]
    events = session.scalars(select(CustodyEvent)
                             .where(CustodyEvent.reason == "bulk placement from a file")).all()
    assert sorted(e.action for e in events) == ["moved", "moved", "stored", "stored"]


def test_bulk_placement_refuses_everything_with_line_field_and_reason(session, lab, user) -> None:
    tech = user("technician")
    a, b, c, d, e = lab.tubes[:5]
    place_sample(session, e, lab.box, position="B1", by=tech)
    data = (f"accession;box;position\n{a.accession};T-B1;A1\n{b.accession};T-B1;A1\n"
            f"TB-0000042-4;T-B1;A3\n{c.accession};NO-SUCH-BOX;A1\n{d.accession};T-B1;Z9\n"
            f"{a.accession};T-B2;A1\n{lab.blood.accession};T-B1;C3\nxx;T-B1;B1\n").encode()
    with pytest.raises(BulkRefused) as info:
        place_from_csv(session, data, by=tech)
    rows = {(line, field): reason for line, field, _value, reason in info.value.rows}
    assert "listed more than once" in rows[(2, "accession")]
    assert "check character" in rows[(4, "accession")]
    assert "no storage unit with barcode NO-SUCH-BOX" in rows[(5, "box")]
    assert "outside T box 1" in rows[(6, "position")]
    assert "wrong box type" in rows[(8, "accession")]
    assert "accession ID 'XX' has 2 characters" in rows[(9, "accession")]
    assert (3, "position") not in rows or "also given" in rows[(3, "position")]
    assert _where(session, b) is None and _where(session, e) == ("T-B1", "B1")


def test_bulk_placement_refuses_a_taken_position_and_a_bad_header(session, lab, user) -> None:
    tech = user("technician")
    a, b = lab.tubes[:2]
    place_sample(session, a, lab.box, position="A1", by=tech)
    with pytest.raises(BulkRefused, match=f"line 2, position 'A1': taken by {a.accession}"):
        place_from_csv(session, f"accession,box,position\n{b.accession},T-B1,A1\n".encode(), by=tech)
    with pytest.raises(BulkRefused, match="no box column"):
        place_from_csv(session, f"accession,where\n{b.accession},T-B1\n".encode(), by=tech)
    with pytest.raises(BulkRefused, match="not a CSV text file"):
        place_from_csv(session, b"\x00\x01", by=tech)


def test_bulk_page_and_api(login, session, lab) -> None:
    a, b = lab.tubes[:2]
    client = login("technician")
    assert client.get("/storage/bulk").status_code == 200
    bad = client.post("/storage/bulk",
                      data={"file": (io.BytesIO(f"accession,box,position\n{a.accession},T-B1,Q1\n"
                                                                 .encode()), "p.csv")},
                      content_type="multipart/form-data")
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Nothing was placed" in html and "Q1" in html
    r = client.post("/api/v1/storage/placements",
                    data={"file": (io.BytesIO(f"accession,box,position\n{a.accession},T-B1,C3\n".encode()),
                                   "p.csv")})
    assert r.status_code == 201 and r.get_json() == {"placed": 1}
    refused = client.post("/api/v1/storage/placements",
                          data={"file": (io.BytesIO(f"accession,box\n{b.accession},T-XX\n".encode()),
                                         "p.csv")})
    assert refused.status_code == 422 and "line 2" in refused.get_json()["errors"]
    assert login("monitor").post("/api/v1/storage/placements",
                                 data={"file": (io.BytesIO(b"accession,box\n"), "p.csv")}).status_code == 403


def test_formula_cells_are_neutralised() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+A1", "-2", "@SUM(A1)", "\tx", "TB-0000042-3", None, 0.5)] == [
        "'=1+1", "'+A1", "'-2", "'@SUM(A1)", "'\tx", "TB-0000042-3", "", "0.5"]


def test_box_contents_csv_and_pdf(login, session, lab, user) -> None:
    tech = user("technician")
    a, b = lab.tubes[:2]
    place_sample(session, a, lab.box, position="A1", by=tech)
    place_sample(session, b, lab.box, position="C3", by=tech)
    lines = box_csv(session, lab.box, user("technician")).splitlines()
    assert lines[0].startswith("position,accession,participant,timepoint,sample_type,status")
    assert len(lines) == 1 + 9
    assert lines[1].startswith(
        f"A1,{a.accession},{lab.participant.code},BASELINE,CTDNA_PLASMA,in_storage,1,ml,2025-01-08")
    assert lines[2] == "A2,,,,,,,,,"
    researcher = box_csv(session, lab.box, user("researcher")).splitlines()[1]
    assert "2025-01-08" not in researcher and ",day 3," in researcher  # the study day, not the date
    client = login("technician")
    r = client.get(f"/storage/units/{lab.box.id}/contents.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and a.accession in r.get_data(as_text=True)
    pdf = client.get(f"/storage/units/{lab.box.id}/map.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    import pypdfium2

    text = pypdfium2.PdfDocument(pdf.data)[0].get_textpage().get_text_range()
    assert a.accession in text and b.accession in text and "2 of 9 positions used" in text
    assert login("technician_nb").get(f"/storage/units/{lab.box.id}/contents.csv").status_code == 404
