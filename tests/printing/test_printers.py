"""Printers per site or bench: lab managers set them up (page and API), settings are checked against the
labels they will print, site scope holds; the print forms offer them beside the download."""

from __future__ import annotations

import pypdfium2
import pytest
from sqlalchemy import select

from lims.printing.models import Printer


def test_a_lab_manager_adds_and_changes_a_printer_on_the_page(login, session) -> None:
    client = login("lab_manager")
    page = client.get("/printing/printers")
    assert page.status_code == 200 and "Add a printer" in page.get_data(as_text=True)
    r = client.post("/printing/printers", data={"site": "NB", "name": "Bench 2 Zebra", "bench": "Bench 2",
                                                "connection": "tcp", "language": "zpl", "host": "10.1.2.3",
                                                "stock": "38x13", "dpi": "300"})
    assert r.status_code == 302, r.get_data(as_text=True)
    printer = session.scalar(select(Printer).where(Printer.name == "Bench 2 Zebra"))
    assert (printer.site.code, printer.port, printer.address,
            printer.active) == ("NB", 9100, "10.1.2.3:9100", True)
    listing = client.get("/printing/printers").get_data(as_text=True)
    assert "Bench 2 Zebra" in listing and "10.1.2.3:9100" in listing and "ZPL · 38x13 · 300 dpi" in listing
    r = client.post(f"/printing/printers/{printer.id}", data={"name": "Bench 2 Zebra", "bench": "",
                                                              "connection": "tcp", "language": "zpl",
                                                              "host": "10.1.2.4", "port": "6101",
                                                              "stock": "50x25", "dpi": "203"})
    assert r.status_code == 302
    session.refresh(printer)
    assert (printer.address, printer.bench, printer.stock, printer.dpi, printer.active) == (
        "10.1.2.4:6101", None, "50x25", 203, False)


def test_printer_settings_that_cannot_print_are_refused_with_the_field(login, session) -> None:
    client = login("lab_manager")
    base = {"site": "ZJ", "name": "P", "connection": "tcp", "language": "zpl", "host": "10.0.0.9",
            "stock": "50x25", "dpi": "300"}
    cases = [
        ({"language": "pdf", "stock": "a4-38x21"},
         "a raw TCP printer is sent ZPL; print PDF pages through a CUPS queue"),
        ({"connection": "cups", "host": ""}, "give the CUPS queue name"),
        ({"stock": "a4-38x21"}, "label stock must be one of 50x25, 44x17, 38x21, 38x13, cap13"),
        ({"host": ""}, "give the printer&#39;s network address"),
        ({"dpi": "400"}, "Must be one of: 203, 300, 600."),
    ]
    for change, message in cases:
        r = client.post("/printing/printers", data={**base, **change})
        assert r.status_code == 422 and message in r.get_data(as_text=True), (change,
                                                                              r.get_data(as_text=True))
    assert client.post("/printing/printers", data=base).status_code == 302
    clash = client.post("/printing/printers", data={**base, "name": "p"})
    assert clash.status_code == 409 and "already has a printer called" in clash.get_data(as_text=True)


def test_printers_are_set_up_by_lab_managers_at_their_sites_only(login, session, make_printer) -> None:
    zj = make_printer(port=9100)
    assert login("technician").post("/printing/printers", data={"site": "ZJ"}).status_code == 403
    nb = login("technician_nb")
    assert nb.get(f"/api/v1/printing/printers/{zj.id}").status_code == 404
    assert [p["name"] for p in nb.get("/api/v1/printing/printers").get_json()] == []
    assert [p["name"]
            for p in login("technician").get("/api/v1/printing/printers").get_json()] == ["Bench Zebra"]


def test_the_api_creates_and_switches_off_printers(login, session) -> None:
    client = login("lab_manager")
    r = client.post("/api/v1/printing/printers",
                    json={"site": "WZ", "name": "Lab laser", "connection": "cups",
                                                       "language": "pdf", "queue": "laser",
                                                       "stock": "a4-38x21",
                                                       "dpi": 600})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["address"] == "cups:laser"
    bad = client.post("/api/v1/printing/printers", json={"site": "WZ", "name": "X", "connection": "cups",
                                                         "language": "pdf", "queue": "q", "stock": "38x13",
                                                         "dpi": 600})
    assert bad.status_code == 400 and "page layout must be one of" in bad.get_json()["errors"]["stock"][0]
    off = client.patch(f"/api/v1/printing/printers/{r.get_json()['id']}", json={"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert client.get("/api/v1/printing/printers").get_json() == []


def test_the_sample_page_offers_print_beside_download_and_ticks_new_aliquots(login, session, bench,
                                                                              make_printer) -> None:
    make_printer(port=9100)
    client = login("technician")
    client.post("/samples/labels", data={"accession": [bench.blood.accession, bench.plasma[0].accession],
                                         "format": "pdf"})
    page = client.get(f"/samples/{bench.blood.accession}").get_data(as_text=True)
    assert "Print labels" in page and "Download labels" in page and "Bench Zebra" in page
    assert f'value="{bench.plasma[1].accession}" checked' in page  # new aliquot: no label yet
    assert f'value="{bench.plasma[0].accession}">' in page  # printed before: not ticked
    assert "no label yet" in page and "label printed 1×" in page
    nb_page = login("technician_nb").get(f"/samples/{bench.blood.accession}")
    assert nb_page.status_code == 404


def test_the_jobs_page_lists_the_jobs_of_the_users_sites(login, session, bench, make_printer) -> None:
    from lims.printing.service import print_sample_labels

    printer = make_printer(host="127.0.0.1", port=9)
    job = print_sample_labels(session, [bench.blood], printer, by=None)
    session.info.pop("lims.uow.after_commit", None)
    session.flush()
    page = login("technician").get("/printing/").get_data(as_text=True)
    assert f'/printing/jobs/{job.id}"' in page and "queued" in page
    assert f'/printing/jobs/{job.id}"' not in login("technician_nb").get("/printing/").get_data(as_text=True)


def test_labels_for_new_aliquots_print_from_the_processing_result(login, session, study, make_participant,
                                                                  user,
                                                                  zebra, make_printer) -> None:
    from datetime import UTC, date, datetime

    from lims.samples.models import Sample
    from lims.samples.service import register_primary
    from lims.studies.service import timepoint_by_code

    printer = make_printer(port=zebra.port, stock="38x13", dpi=600)
    participant = make_participant(code="ZJ-777", rt_start_on=date(2025, 1, 20), eot_on=date(2025, 2, 24))
    visit = next(v for v in participant.visits if v.timepoint.code == "BASELINE")
    kit = next(k for k in timepoint_by_code(study, "BASELINE").kit if k.container_type.code == "K2EDTA")
    blood = register_primary(session, visit, kit, sample_type=kit.sample_type, quantity=10, unit="ml",
                             by=user("technician"), collected_at=datetime(2025, 1, 8, 1, 30, tzinfo=UTC))
    client = login("technician")
    form = {"yield-0-count": "4", "yield-0-volume": "1", "yield-0-unit": "ml",
            "yield-1-count": "1", "yield-1-volume": "0.5", "yield-1-unit": "ml",
            "processing_started_at": "2025-01-08T10:30", "precentrifugation_temp_c": "21",
            "spin1_g": "1600", "spin1_min": "10", "spin1_temp_c": "20", "spin1_brake": "on",
            "spin2_g": "16000", "spin2_min": "10", "spin2_temp_c": "20", "spin2_brake": "on",
            "last_spin_ended_at": "2025-01-08T11:00", "postspin_temp_c": "21",
            "frozen_at": "2025-01-08T11:20",
            "storage_temp_c": "-80", "storage_container": "PP"}
    r = client.post(f"/samples/{blood.accession}/process", data=form)
    assert r.status_code == 302 and "/made?" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Labels for the 5 new tubes" in page and "Print labels" in page  # the site's printer is offered
    session.expire_all()
    children = session.scalars(select(Sample).where(Sample.parent_id == blood.id).order_by(Sample.id)).all()
    ticked = [c.accession for c in children if f'name="accession" value="{c.accession}"' in page]
    assert ticked == [c.accession for c in children]
    detail = client.get(f"/samples/{blood.accession}").get_data(as_text=True)
    assert "print labels for new aliquots here" in detail
    assert client.post("/samples/labels",
                       data={"accession": ticked, "printer": printer.id}).status_code == 302
    from tests.labels.zpl_render import render

    (received,) = zebra.wait(1)
    labels = render(received.decode("ascii"))
    assert [label.datamatrix[0] for label in labels] == ticked
    assert any("from K2EDTA blood tube" in c or "K2EDTA" in c for c in labels[0].comments)


def test_downloads_follow_the_configured_label_settings(app, login, session, bench, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "LABEL_ZPL", {"width_mm": 57, "height_mm": 32, "dpi": 203})
    monkeypatch.setitem(app.config, "LABEL_SHEET", {"preset": "letter-44x17", "margin_top_mm": 16})
    client = login("technician")
    zpl = client.post("/samples/labels", data={"accession": [bench.blood.accession], "format": "zpl"})
    assert zpl.status_code == 200 and "^PW456\n^LL256\n" in zpl.get_data(as_text=True)
    sheet = client.post("/samples/labels", data={"accession": [bench.plasma[0].accession], "format": "pdf"})
    assert sheet.status_code == 200
    document = pypdfium2.PdfDocument(sheet.data)
    try:
        assert document.get_metadata_dict()["Title"] == "Labels (letter-44x17, 600 dpi)"
        assert document[0].get_size() == pytest.approx((612.0, 792.0), abs=0.1)
    finally:
        document.close()
    monkeypatch.setitem(app.config, "LABEL_SHEET", {"preset": "a4-38x21", "columns": 9})
    broken = client.post("/samples/labels", data={"accession": [bench.plasma[1].accession], "format": "pdf"})
    assert broken.status_code == 400
    shown = broken.get_data(as_text=True)
    assert "label download settings (LABEL_SHEET, LABEL_ZPL): layout &#39;a4-38x21&#39; is" in shown


def test_the_job_page_links_back_only_to_pages_of_this_site(login, session, bench, make_printer) -> None:
    from lims.printing.service import print_sample_labels

    job = print_sample_labels(session, [bench.blood], make_printer(port=9), by=None)
    session.info.pop("lims.uow.after_commit", None)
    session.flush()
    client = login("technician")
    assert 'href="/samples/x">Back' in client.get(f"/printing/jobs/{job.id}?next=/samples/x").get_data(
        as_text=True)
    for bad in ("javascript:alert(1)", "//evil.example/x", "https://evil.example/"):
        assert "Back</a>" not in client.get(f"/printing/jobs/{job.id}", query_string={"next": bad}).get_data(
            as_text=True)
