"""Printing end to end to a Zebra stand-in on 127.0.0.1: the ZPL it receives is parsed and drawn, and every
barcode decoded; custody, reprint reasons, failures, retries and the after-commit rule."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import func, select

from lims.core.errors import DomainError
from lims.core.uow import run
from lims.custody.models import CustodyEvent
from lims.printing.models import PrintJob
from lims.printing.service import print_sample_labels, send_queued
from lims.samples.accession import make_accession
from tests.labels.helpers import decode, expected, on_dark
from tests.labels.zpl_render import render, to_image


def _events(session, sample_ids):
    session.expire_all()
    return session.scalars(select(CustodyEvent).where(CustodyEvent.sample_id.in_(sample_ids),
                                                      CustodyEvent.action == "label_printed")
                           .order_by(CustodyEvent.seq)).all()


def test_sample_labels_print_on_a_network_zebra(login, session, bench, zebra, make_printer) -> None:
    printer = make_printer(port=zebra.port, stock="38x13", dpi=203)
    tubes = [bench.blood, *bench.plasma]
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [t.accession for t in tubes], "printer": printer.id,
                                             "next": f"/samples/{bench.blood.accession}"})
    assert r.status_code == 302 and "/printing/jobs/" in r.headers["Location"]
    (received,) = zebra.wait(1)
    labels = render(received.decode("ascii"))
    assert [label.datamatrix for label in labels] == [[t.accession] for t in tubes]
    for label in labels:
        assert decode(on_dark(to_image(label), 203)) == expected(label.datamatrix[0], code128=False)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "sent" in page and "Bench Zebra" in page and bench.plasma[0].accession in page
    job = session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    session.refresh(job)
    assert (job.status, job.attempts, job.label_count, job.layout) == ("sent", 1, 5, "38x13 203 dpi")
    events = _events(session, [t.id for t in tubes])
    assert [(e.reason, e.details["printer"], e.details["job"], e.details["print_number"])
            for e in events] == [
        ("first print", "Bench Zebra", job.id, 1)] * 5


def test_a_reprint_needs_a_reason_and_keeps_it(login, session, bench, zebra, make_printer) -> None:
    printer = make_printer(port=zebra.port)
    client = login("technician")
    data = {"accession": [bench.blood.accession], "printer": printer.id}
    assert client.post("/samples/labels", data=data).status_code == 302
    zebra.wait(1)
    refused = client.post("/samples/labels", data=data)
    assert refused.status_code == 400
    assert "already had a label printed: give the reason for the reprint" in refused.get_data(as_text=True)
    assert len(zebra.received) == 1 and session.scalar(select(func.count(PrintJob.id))) == 1
    assert client.post("/samples/labels", data={**data, "reprint_reason": "label smudged"}).status_code == 302
    (_, second) = zebra.wait(2)
    (label,) = render(second.decode("ascii"))
    assert decode(on_dark(to_image(label), 300)) == expected(bench.blood.accession, code128=True)
    events = _events(session, [bench.blood.id])
    assert [(e.reason, e.details["print_number"]) for e in events] == [("first print", 1),
                                                                     ("reprint: label smudged", 2)]
    # A whole job again, from the job page: a new job, the reason in every sample's custody.
    job = session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    assert client.post(f"/printing/jobs/{job.id}/reprint", data={}).status_code == 302
    assert "give the reason for the reprint" in client.get(f"/printing/jobs/{job.id}").get_data(as_text=True)
    again = client.post(f"/printing/jobs/{job.id}/reprint",
                        data={"reprint_reason": "dropped in the water bath"})
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/printing/jobs/{job.id + 1}")
    zebra.wait(3)
    assert _events(session, [bench.blood.id])[-1].reason == "reprint: dropped in the water bath"


def test_a_failed_send_is_kept_and_retried_without_a_second_custody_event(login, session, bench,
                                                                          make_printer) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    printer = make_printer(port=dead)
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [bench.blood.accession], "printer": printer.id})
    assert r.status_code == 302
    job = session.scalars(select(PrintJob).order_by(PrintJob.id.desc())).first()
    session.refresh(job)
    assert job.status == "failed" and f"printer 127.0.0.1:{dead}" in job.error
    assert "The printer did not take the labels" in client.get(r.headers["Location"]).get_data(as_text=True)
    from tests.printing.conftest import Listener

    listener = Listener()
    try:
        printer.port = listener.port
        session.flush()
        assert client.post(f"/printing/jobs/{job.id}/retry").status_code == 302
        (received,) = listener.wait(1)
    finally:
        listener.close()
    (label,) = render(received.decode("ascii"))
    assert label.datamatrix == [bench.blood.accession]
    session.refresh(job)
    assert (job.status, job.attempts, job.error) == ("sent", 2, None)
    assert len(_events(session, [bench.blood.id])) == 1
    assert client.post(f"/printing/jobs/{job.id}/retry").status_code == 302  # sent: refused, reprint instead
    assert "reprint it with a reason" in client.get(f"/printing/jobs/{job.id}").get_data(as_text=True)


def test_nothing_is_sent_when_the_request_fails(login, session, bench, zebra, make_printer) -> None:
    printer = make_printer(port=zebra.port)
    client = login("technician")
    r = client.post("/samples/labels", data={"accession": [bench.blood.accession, make_accession(9999999)],
                                             "printer": printer.id})
    assert r.status_code == 404
    assert session.scalar(select(func.count(PrintJob.id))) == 0 and _events(session, [bench.blood.id]) == []
    assert zebra.received == []


def test_a_unit_of_work_that_rolls_back_prints_nothing(session, bench, zebra, make_printer, user) -> None:
    printer = make_printer(port=zebra.port)
    session.commit()  # the bench and printer exist; the unit below starts after them

    def work() -> None:
        print_sample_labels(session, [bench.blood], printer, by=user("technician"))
        raise DomainError("a later step of the same request failed")

    with pytest.raises(DomainError):
        run(session, work)
    time.sleep(0.5)
    assert zebra.received == [] and session.scalar(select(func.count(PrintJob.id))) == 0
    assert _events(session, [bench.blood.id]) == []


def test_storage_labels_print_with_barcode_name_and_path(login, session, bench, zebra, make_printer) -> None:
    printer = make_printer(port=zebra.port, stock="50x25", dpi=203)
    client = login("technician")
    assert client.post("/storage/labels",
                       data={"unit": [bench.box.id], "printer": printer.id}).status_code == 302
    (received,) = zebra.wait(1)
    (label,) = render(received.decode("ascii"))
    barcode = bench.box.barcode
    assert decode(on_dark(to_image(label), 203)) == expected(barcode, code128=True)
    assert any(f"name: Box {bench.participant.code} (box 9" in c for c in label.comments)
    assert any(c.startswith("path: ZJ") for c in label.comments)
    download = client.post("/storage/labels",
                           data={"unit": [bench.box.id], "format": "pdf", "layout": "38x21"})
    assert download.status_code == 200 and download.mimetype == "application/pdf"


def test_the_api_queues_and_reports_jobs(login, session, bench, zebra, make_printer) -> None:
    printer = make_printer(port=zebra.port)
    client = login("technician")
    r = client.post("/api/v1/printing/jobs",
                    json={"accession": [bench.plasma[0].accession], "printer": printer.id})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["status"] == "queued"  # answered before the commit; sent right after it
    zebra.wait(1)
    job = client.get(f"/api/v1/printing/jobs/{r.get_json()['id']}").get_json()
    assert job["status"] == "sent" and job["samples"] == [bench.plasma[0].accession]
    again = client.post("/api/v1/printing/jobs", json={"accession": [bench.plasma[0].accession],
                                                       "printer": printer.id})
    assert again.status_code == 400 and again.get_json()["errors"] == {
        "reprint_reason": [(f"{bench.plasma[0].accession} already had a label printed: give the reason for "
                           "the reprint")]}
    listed = client.get("/api/v1/printing/jobs?status=sent").get_json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert login("technician_nb").get(f"/api/v1/printing/jobs/{job['id']}").status_code == 404


def test_the_queue_runner_sends_what_is_left_queued(session, bench, zebra, make_printer, user) -> None:
    printer = make_printer(port=zebra.port)
    job = print_sample_labels(session, [bench.blood], printer, by=user("technician"))
    session.info.pop("lims.uow.after_commit", None)  # as if the process stopped before sending
    assert send_queued(session) == {job.id: "sent"}
    (received,) = zebra.wait(1)
    assert render(received.decode("ascii"))[0].datamatrix == [bench.blood.accession]
    assert send_queued(session) == {}
