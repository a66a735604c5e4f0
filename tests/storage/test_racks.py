"""Rack readers: each vendor's file imports, compares with the box map and applies; broken files are
refused."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.core.errors import Conflict, DomainError
from lims.custody.models import CustodyEvent
from lims.storage import racks
from lims.storage.models import Placement
from lims.storage.rackfiles import RackFileError, parse_rack_file
from lims.storage.service import create_unit, place_sample

FILES = Path(__file__).parent / "rack_files"
VENDORS = {
    "fluidx.csv": ("FluidX / Brooks", None, "row"),
    "fluidx_rack_barcode.csv": ("FluidX / Brooks", "SA00012345", "row"),
    "visionmate.csv": ("Thermo VisionMate", "VM00001234", "row"),
    "micronic.txt": ("Micronic", "MI00098765", "row"),
    "datapaq.csv": ("Ziath DataPaq", "ZD00004242", "row"),
}


def _file(name: str, tubes: dict[str, str]) -> bytes:
    text = (FILES / name).read_text()
    for key, accession in tubes.items():
        text = text.replace("{" + key + "}", accession)
    return text.encode()


@pytest.fixture()
def rack_lab(session, lab, user):
    """A 96-tube rack (8 x 12) holding s1 at A1, s2 at A2, s3 at B1; s4 unplaced; s5 in another box."""
    tech = user("technician")
    rack96 = create_unit(session, site=lab.site, kind="box", name="Rack 96", barcode="T-RK96",
                         parent=lab.rack,
                         rows=8, cols=12)
    s1, s2, s3, s4, s5 = lab.tubes[:5]
    place_sample(session, s1, rack96, position="A1", by=tech)
    place_sample(session, s2, rack96, position="A2", by=tech)
    place_sample(session, s3, rack96, position="B1", by=tech)
    place_sample(session, s5, lab.box2, position="A1", by=tech)
    tubes = {f"s{i}": s.accession for i, s in enumerate((s1, s2, s3, s4, s5), start=1)}
    return rack96, tubes, (s1, s2, s3, s4, s5)


def _where(session, sample):
    p = session.get(Placement, sample.id)
    return (p.unit.barcode, p.position_label) if p else None


@pytest.mark.parametrize("name", sorted(VENDORS))
def test_each_reader_file_compares_and_applies(session, user, rack_lab, name) -> None:
    rack96, tubes, (s1, s2, s3, s4, s5) = rack_lab
    vendor, barcode, numbering = VENDORS[name]
    tech = user("technician")
    data = _file(name, tubes)
    diff = racks.compare(session, rack96, data, user=tech, numbering=numbering)
    assert diff.rack.vendor == vendor and diff.rack.rack_barcode == barcode
    assert diff.counts == {"match": 1, "moved": 4, "missing": 0, "unknown": 1, "no_read": 1, "empty": 89}
    by_position = {line.position: line for line in diff.lines}
    assert by_position["A2"].state == "moved" and by_position["A2"].expected == s2.accession  # s2 and s3 swap
    assert by_position["E1"].state == "no_read" and by_position["F1"].state == "unknown"
    assert "not a Trialbank ID" in by_position["F1"].note
    assert diff.blockers == []
    last_before = session.scalar(select(CustodyEvent.id).order_by(CustodyEvent.id.desc()).limit(1)) or 0
    racks.apply_scan(session, rack96, data, user=tech, fingerprint=diff.fingerprint, numbering=numbering)
    assert _where(session, s1) == ("T-RK96", "A1") and _where(session, s3) == ("T-RK96", "A2")
    assert _where(session, s2) == ("T-RK96", "B1") and _where(session, s4) == ("T-RK96", "C1")
    assert _where(session, s5) == ("T-RK96", "D1")
    events = session.scalars(select(CustodyEvent).where(CustodyEvent.id > last_before)).all()
    assert sorted((e.sample_id, e.action) for e in events) == sorted(
        [(s2.id, "moved"), (s3.id, "moved"), (s4.id, "stored"), (s5.id, "moved")])
    assert all(vendor in e.reason for e in events)
    assert s4.status == "in_storage"


def test_a_48_rack_numbered_column_first(session, user, lab) -> None:
    tech = user("technician")
    rack48 = create_unit(session, site=lab.site, kind="box", name="Rack 48", barcode="T-RK48",
                         parent=lab.rack,
                         rows=6, cols=8)
    s1, s2, s3, s4, s5 = lab.tubes[:5]
    tubes = {f"s{i}": s.accession for i, s in enumerate((s1, s2, s3, s4, s5), start=1)}
    data = _file("fluidx_48_numbered_column_first.csv", tubes)
    rack = parse_rack_file(data, rows=6, cols=8, numbering="column")
    # Column first: 1 = A1, 2 = B1 ... 6 = F1, 7 = A2.
    assert rack.cells[(1, 2)].code == s3.accession and rack.cells[(6, 1)].code == "FX00000001"
    assert parse_rack_file(data, rows=6, cols=8, numbering="row").cells[(1, 7)].code == s3.accession
    diff = racks.compare(session, rack48, data, user=tech, numbering="column")
    assert diff.counts["moved"] == 5 and diff.counts["no_read"] == 1 and diff.counts["unknown"] == 1
    racks.apply_scan(session, rack48, data, user=tech, fingerprint=diff.fingerprint, numbering="column")
    assert _where(session, s3) == ("T-RK48", "A2")


@pytest.mark.parametrize(("name", "line", "field", "reason"), [
    ("bad_duplicate_position.csv", 2, "position", "position A1 is listed twice (also on line 1)"),
    ("bad_duplicate_tube.csv", 2, "tube", "is read at two positions"),
    ("bad_two_racks.csv", 2, "rack", "differs from 'SA00012345'"),
    ("bad_outside_rack.csv", 2, "position", "position I01 is outside a 8 x 12 rack (A1 to H12)"),
    ("bad_position.csv", 2, "position", "'B1x' is not a rack position"),
    ("bad_header.csv", 1, "format", "not a rack-reader file"),
    ("bad_field_count.csv", 3, "columns", "4 fields where the header has 2"),
    ("bad_not_a_rack.txt", 1, "format", "not a rack-reader file"),
])
def test_malformed_files_are_refused_with_line_and_field(name, line, field, reason) -> None:
    data = _file(name, {"s1": "TB-0000001-5", "s2": "TB-0000002-3"})
    with pytest.raises(RackFileError) as info:
        parse_rack_file(data, rows=8, cols=12)
    assert (info.value.line, info.value.field) == (line, field)
    assert reason in info.value.reason and str(info.value).startswith(f"line {line}, {field}: ")


def test_binary_empty_and_huge_files_are_refused() -> None:
    for data, reason in ((b"\x00\x01PK", "not a text file"), (b"\n\n", "empty"),
                         (b"A1,X\n" * 300_000, "bytes")):
        with pytest.raises(RackFileError, match=reason):
            parse_rack_file(data, rows=8, cols=12)


def test_a_missing_tube_where_another_was_read_blocks_the_apply(session, user, rack_lab) -> None:
    rack96, _tubes, (s1, s2, s3, s4, _s5) = rack_lab
    tech = user("technician")
    data = f"A1,{s4.accession}\nA2,{s2.accession}\nB1,{s3.accession}\n".encode()
    diff = racks.compare(session, rack96, data, user=tech)
    assert diff.counts["missing"] == 1 and diff.counts["moved"] == 1
    assert any(f"where the map still has {s1.accession}" in b for b in diff.blockers)
    with pytest.raises(Conflict, match="nothing was changed"):
        racks.apply_scan(session, rack96, data, user=tech, fingerprint=diff.fingerprint)
    assert _where(session, s4) is None


def test_a_box_changed_since_the_review_is_refused(session, user, rack_lab) -> None:
    rack96, _tubes, (s1, s2, s3, s4, _s5) = rack_lab
    tech = user("technician")
    data = f"A1,{s1.accession}\nA2,{s2.accession}\nB1,{s3.accession}\nC1,{s4.accession}\n".encode()
    diff = racks.compare(session, rack96, data, user=tech)
    place_sample(session, s4, rack96, position="H12", by=tech)
    with pytest.raises(Conflict, match="changed since the scan was reviewed"):
        racks.apply_scan(session, rack96, data, user=tech, fingerprint=diff.fingerprint)


def test_rack_import_needs_a_grid_and_the_right_site(session, user, lab, rack_lab) -> None:
    rack96, _tubes, _ = rack_lab
    with pytest.raises(DomainError, match="not a box with a grid"):
        racks.compare(session, lab.freezer, b"A1,X\n", user=user("technician"))
    with pytest.raises(DomainError, match="line 1, position"):
        racks.compare(session, rack96, b"Z9,TB-0000001-5\n", user=user("technician"))


def test_rack_pages_and_api(login, session, rack_lab) -> None:
    rack96, tubes, (_s1, _s2, _s3, _s4, s5) = rack_lab
    client = login("technician")
    data = _file("visionmate.csv", tubes)
    r = client.post(f"/api/v1/storage/units/{rack96.id}/rack-scan",
                    data={"file": (io.BytesIO(data), "scan.csv"), "numbering": "row"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["vendor"] == "Thermo VisionMate" and body["counts"]["moved"] == 4 and body["moves"] == 4
    stale = client.post(f"/api/v1/storage/units/{rack96.id}/rack-scan/apply",
                        data={"file": (io.BytesIO(data), "scan.csv"), "fingerprint": "0" * 64})
    assert stale.status_code == 409
    bad = client.post(f"/api/v1/storage/units/{rack96.id}/rack-scan",
                      data={"file": (io.BytesIO(b"A01,x\nA01,y\n"), "scan.csv")})
    assert bad.status_code == 400 and "line 2, position" in bad.get_json()["message"]
    page = client.post(f"/storage/units/{rack96.id}/rack", data={"file": (io.BytesIO(data), "scan.csv")},
                       content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Thermo VisionMate" in html and "Apply 4 moves" in html
    payload = html.split('name="payload" value="')[1].split('"')[0]
    r = client.post(f"/storage/units/{rack96.id}/rack/apply",
                    data={"payload": payload, "numbering": "row", "fingerprint": body["fingerprint"]})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/storage/units/{rack96.id}")
    assert "Rack scan applied: 4 tubes placed" in client.get(r.headers["Location"]).get_data(as_text=True)
    session.expire_all()
    assert _where(session, s5) == ("T-RK96", "D1")
    malformed = client.post(f"/storage/units/{rack96.id}/rack",
                            data={"file": (io.BytesIO(b"garbage\x00"), "scan.csv")},
                            content_type="multipart/form-data")
    assert malformed.status_code == 422 and "not a text file" in malformed.get_data(as_text=True)
    assert login("technician_nb").get(f"/storage/units/{rack96.id}/rack").status_code == 404
