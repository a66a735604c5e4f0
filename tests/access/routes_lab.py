"""What the lab's daily routes need: printing, storage in bulk, processing, worklists, scanner set-up.

See :mod:`tests.access.routes` for the kinds; a ``printer`` and a ``print_job`` belong to the printer's site.
"""

from __future__ import annotations

import io
from typing import Any

from tests.access.expect import LOGIN, E, Expect, fixed, req


def _file(text: str, name: str = "upload.csv") -> tuple[io.BytesIO, str]:
    return io.BytesIO(text.encode("utf-8")), name


def _bulk(w: Any, o: Any) -> dict[str, Any]:
    """A bulk-placement file: the loose tube into the box's last free position."""
    return {"file": _file(f"accession,box,position\n{o.loose},{o.box_barcode},C3\n")}


def _rack(w: Any, o: Any) -> dict[str, Any]:
    """A FluidX rack-reader file of the box: the stored tube where it is, the loose one beside it."""
    return {"file": _file(f"A01,{o.stored}\nA03,{o.loose}\n"), "numbering": "row"}


def _printer_form(site: str) -> dict[str, Any]:
    return {
        "site": site,
        "name": "Bench 2",
        "connection": "tcp",
        "language": "zpl",
        "host": "127.0.0.1",
        "port": "9",
        "stock": "50x25",
        "dpi": "300",
    }


PROCESS = {"yields": [{"sample_type": "CTDNA_PLASMA", "count": 1, "volume": 1.0, "unit": "ml"}]}
REPRINT = {"reprint_reason": "label smudged"}

LAB_ROUTES: dict[str, Expect] = {
    # ----- printing: the queue and the printers of one's sites --------------------------------------
    "GET /printing/": E(LOGIN, fixed("/printing/"), shows=lambda w, o: [f"R{o.site} printer"]),
    "GET /printing/jobs/<int:job_id>": E(
        LOGIN, req(lambda w, o: f"/printing/jobs/{o.print_job}"), "print_job", shows=lambda w, o: [o.stored]
    ),
    "POST /printing/jobs/<int:job_id>/retry": E(
        "samples.register", req(lambda w, o: f"/printing/jobs/{o.print_job}/retry"), "print_job"
    ),
    "POST /printing/jobs/<int:job_id>/reprint": E(
        "samples.register",
        req(lambda w, o: f"/printing/jobs/{o.print_job}/reprint", data=lambda w, o: REPRINT),
        "print_job",
    ),
    "GET /printing/printers": E(
        LOGIN, fixed("/printing/printers"), shows=lambda w, o: [f"R{o.site} printer"]
    ),
    "POST /printing/printers": E(
        "printers.manage",
        req(lambda w, o: "/printing/printers", data=lambda w, o: _printer_form(o.site)),
        "site",
        in_url=False,
    ),
    "GET /printing/printers/<int:printer_id>": E(
        "printers.manage", req(lambda w, o: f"/printing/printers/{o.printer}"), "printer"
    ),
    "POST /printing/printers/<int:printer_id>": E(
        "printers.manage",
        req(
            lambda w, o: f"/printing/printers/{o.printer}",
            data=lambda w, o: {"bench": "B2", "active": "on"},
        ),
        "printer",
    ),
    "POST /storage/labels": E(
        "storage.manage",
        req(lambda w, o: "/storage/labels", data=lambda w, o: {"unit": [str(o.box)], "format": "zpl"}),
        "unit",
        in_url=False,
    ),
    "GET /api/v1/printing/printers": E(
        LOGIN, fixed("/api/v1/printing/printers"), shows=lambda w, o: [f"R{o.site} printer"]
    ),
    "POST /api/v1/printing/printers": E(
        "printers.manage",
        req(
            lambda w, o: "/api/v1/printing/printers",
            json=lambda w, o: {**_printer_form(o.site), "port": 9, "dpi": 300},
        ),
        "site",
        in_url=False,
    ),
    "GET /api/v1/printing/printers/<int:printer_id>": E(
        LOGIN, req(lambda w, o: f"/api/v1/printing/printers/{o.printer}"), "printer"
    ),
    "PATCH /api/v1/printing/printers/<int:printer_id>": E(
        "printers.manage",
        req(lambda w, o: f"/api/v1/printing/printers/{o.printer}", json=lambda w, o: {"bench": "B2"}),
        "printer",
    ),
    "GET /api/v1/printing/jobs": E(LOGIN, fixed("/api/v1/printing/jobs"), shows=lambda w, o: [o.stored]),
    "POST /api/v1/printing/jobs": E(
        "samples.register",
        req(
            lambda w, o: "/api/v1/printing/jobs",
            json=lambda w, o: {"printer": o.printer, "accession": [o.stored]},
        ),
        "sample",
        in_url=False,
    ),
    "GET /api/v1/printing/jobs/<int:job_id>": E(
        LOGIN,
        req(lambda w, o: f"/api/v1/printing/jobs/{o.print_job}"),
        "print_job",
        shows=lambda w, o: [o.stored],
    ),
    "POST /api/v1/printing/jobs/<int:job_id>/retry": E(
        "samples.register", req(lambda w, o: f"/api/v1/printing/jobs/{o.print_job}/retry"), "print_job"
    ),
    "POST /api/v1/printing/jobs/<int:job_id>/reprint": E(
        "samples.register",
        req(lambda w, o: f"/api/v1/printing/jobs/{o.print_job}/reprint", json=lambda w, o: REPRINT),
        "print_job",
    ),
    # ----- processing and tissue --------------------------------------------------------------------
    "GET /samples/<accession>/made": E(
        LOGIN, req(lambda w, o: f"/samples/{o.primary}/made"), "sample", shows=lambda w, o: [o.stored]
    ),
    "GET /samples/<accession>/tissue": E(
        "samples.register", req(lambda w, o: f"/samples/{o.primary}/tissue"), "sample"
    ),
    "POST /samples/<accession>/tissue": E(
        "samples.register", req(lambda w, o: f"/samples/{o.primary}/tissue", data=lambda w, o: {}), "sample"
    ),
    "POST /api/v1/samples/<string:accession>/process": E(
        "samples.register",
        req(lambda w, o: f"/api/v1/samples/{o.primary}/process", json=lambda w, o: PROCESS),
        "sample",
    ),
    "PUT /api/v1/samples/<string:accession>/tissue": E(
        "samples.register",
        req(lambda w, o: f"/api/v1/samples/{o.primary}/tissue", json=lambda w, o: {}),
        "sample",
    ),
    # ----- storage in bulk: files, rack readers, box exports ----------------------------------------
    "GET /storage/bulk": E("storage.manage", fixed("/storage/bulk")),
    "POST /storage/bulk": E(
        "storage.manage", req(lambda w, o: "/storage/bulk", data=_bulk), "sample", in_url=False
    ),
    "GET /storage/units/<int:unit_id>/contents.csv": E(
        LOGIN, req(lambda w, o: f"/storage/units/{o.box}/contents.csv"), "unit", shows=lambda w, o: [o.stored]
    ),
    "GET /storage/units/<int:unit_id>/map.pdf": E(
        LOGIN, req(lambda w, o: f"/storage/units/{o.box}/map.pdf"), "unit"
    ),
    "GET /storage/units/<int:unit_id>/rack": E(
        "storage.manage", req(lambda w, o: f"/storage/units/{o.box}/rack"), "unit"
    ),
    "POST /storage/units/<int:unit_id>/rack": E(
        "storage.manage", req(lambda w, o: f"/storage/units/{o.box}/rack", data=_rack), "unit"
    ),
    "POST /storage/units/<int:unit_id>/rack/apply": E(
        "storage.manage",
        req(
            lambda w, o: f"/storage/units/{o.box}/rack/apply",
            data=lambda w, o: {"payload": "", "fingerprint": ""},
        ),
        "unit",
    ),
    "POST /api/v1/storage/units/<int:unit_id>/rack-scan": E(
        "storage.manage", req(lambda w, o: f"/api/v1/storage/units/{o.box}/rack-scan", data=_rack), "unit"
    ),
    "POST /api/v1/storage/units/<int:unit_id>/rack-scan/apply": E(
        "storage.manage",
        req(
            lambda w, o: f"/api/v1/storage/units/{o.box}/rack-scan/apply",
            data=lambda w, o: {**_rack(w, o), "fingerprint": "0" * 64},
        ),
        "unit",
    ),
    "POST /api/v1/storage/placements": E(
        "storage.manage", req(lambda w, o: "/api/v1/storage/placements", data=_bulk), "sample", in_url=False
    ),
    # ----- worklists --------------------------------------------------------------------------------
    "GET /worklists/visits": E(LOGIN, fixed("/worklists/visits")),
    "GET /api/v1/worklists/visits": E("read", fixed("/api/v1/worklists/visits")),
    "GET /worklists/samples": E(
        LOGIN,
        req(lambda w, o: "/worklists/samples", query_string=lambda w, o: {"location": o.box_barcode}),
        "unit",
        in_url=False,
        shows=lambda w, o: [o.stored],
    ),
    "GET /worklists/samples.csv": E(
        LOGIN,
        req(lambda w, o: "/worklists/samples.csv", query_string=lambda w, o: {"location": o.box_barcode}),
        "unit",
        in_url=False,
        shows=lambda w, o: [o.stored],
    ),
    # ----- scanner set-up, results table 1 ----------------------------------------------------------
    "GET /station/setup": E(LOGIN, fixed("/station/setup")),
    "GET /station/setup/test-label.svg": E(LOGIN, fixed("/station/setup/test-label.svg")),
    "POST /api/v1/station/diagnose": E(
        "read", fixed("/api/v1/station/diagnose", json={"text": "TB-0000001-X", "suffix": "Enter"})
    ),
    "GET /results/endpoints/table1.<any(csv, xlsx, docx):fmt>": E(
        "results.read", fixed("/results/endpoints/table1.csv"), data_404=True
    ),
}
