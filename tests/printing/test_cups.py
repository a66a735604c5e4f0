"""Printing through a real CUPS scheduler (our own cupsd on 127.0.0.1) whose queues write jobs to files."""

from __future__ import annotations

from sqlalchemy import select

from lims.labels.pdf import label_origin_dots, sheet_positions
from lims.labels.presets import PRESETS
from lims.printing.models import PrintJob
from lims.printing.transport import Destination, cups_arguments
from tests.labels.helpers import decode, expected, on_dark, rasterise
from tests.labels.zpl_render import render, to_image
from tests.printing.conftest import wait_for_file


def test_sheet_labels_go_through_cups_as_pdf_at_100_percent(login, session, bench, cups,
                                                            make_printer) -> None:
    out = cups.add_queue("sheet_labels")
    host, port = cups.server.split(":")
    printer = make_printer("Office laser", connection="cups", language="pdf", host=host, port=int(port),
                           queue="sheet_labels", stock="a4-38x21", dpi=600)
    tubes = [bench.blood, *bench.plasma]
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [t.accession for t in tubes], "printer": printer.id,
                                             "start_position": "64"})
    assert r.status_code == 302
    document = wait_for_file(out)
    assert document.startswith(b"%PDF")
    job = session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    session.refresh(job)
    assert job.status == "sent", (job.error, cups.log())
    assert job.external_id.startswith("sheet_labels-")
    layout = PRESETS["a4-38x21"]
    pages = rasterise(document, 600)
    width, height = layout.stock.dots(600)
    for tube, (page, position) in zip(tubes, sheet_positions(len(tubes), layout, 64), strict=True):
        x, y = label_origin_dots(layout, position, 600)
        crop = pages[page][y:y + height, x:x + width]
        assert decode(on_dark(crop, 600)) == expected(tube.accession, code128=True)


def test_zpl_goes_raw_through_a_cups_queue(login, session, bench, cups, make_printer) -> None:
    out = cups.add_queue("usb_zebra")
    host, port = cups.server.split(":")
    printer = make_printer("USB Zebra", connection="cups", language="zpl", host=host, port=int(port),
                           queue="usb_zebra", stock="38x13", dpi=600)
    client = login("technician")
    assert client.post("/samples/labels", data={"accession": [bench.blood.accession],
                                                "printer": printer.id}).status_code == 302
    (label,) = render(wait_for_file(out).decode("ascii"))
    assert decode(on_dark(to_image(label), 600)) == expected(bench.blood.accession, code128=False)


def test_a_queue_cups_does_not_know_fails_with_its_reason(login, session, bench, cups, make_printer) -> None:
    host, port = cups.server.split(":")
    printer = make_printer("Gone", connection="cups", language="pdf", host=host, port=int(port),
                           queue="no_such_queue", stock="roll-50x25", dpi=300)
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [bench.blood.accession], "printer": printer.id})
    job = session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    session.refresh(job)
    assert job.status == "failed" and job.error.startswith("CUPS refused the job: lp:")
    assert "The printer did not take the labels" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_lp_command_line() -> None:
    pdf = Destination("cups", "print.lab", 631, "labels", "pdf", media="A4")
    assert cups_arguments(pdf, title="job 7") == ["lp", "-h", "print.lab:631", "-d", "labels", "-t", "job 7",
                                                  "-o", "print-scaling=none", "-o", "media=A4", "-"]
    local = Destination("cups", None, None, "zebra", "zpl")
    assert cups_arguments(local, title="job 8") == ["lp", "-d", "zebra", "-t", "job 8", "-o", "raw", "-"]
