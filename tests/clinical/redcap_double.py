"""A test double of REDCap's API, served on 127.0.0.1 by werkzeug in a thread (no real REDCap runs here).

It follows REDCap's documented API (API Playground / API documentation of REDCap 14):

* every call is a POST, form-encoded, to ``<server>/api/`` with ``token`` and ``content``;
* a token the server does not know answers 403 with the error "You do not have permissions to use the API";
* errors come in ``returnFormat`` (else ``format``, else xml): ``{"error": "..."}`` in JSON,
  ``<hash><error>...</error></hash>`` in XML;
* ``content=version`` answers the version as plain text;
* ``content=metadata`` answers the data dictionary (json or csv), one entry per field;
* ``content=record`` with ``type=flat`` answers the records as the "CSV (raw data)" file export holds them:
  ``format=csv`` the very same CSV, ``format=json`` a list of objects with the same keys in the same order
  (values as text, ``redcap_repeat_instance`` a number when set, as REDCap writes it).

Only what Trialbank asks for is implemented; anything else (EAV records, labels instead of raw codes,
survey fields) is refused with a 400 naming the parameter, so that a change on Trialbank's side shows up.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

VERSION = "14.5.10"
NO_PERMISSION = "You do not have permissions to use the API"


@dataclass
class RedcapDouble:
    """One REDCap project: its token, its flat CSV export and what it was asked (for assertions)."""

    token: str
    export: bytes
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    # ----- the data -----
    def rows(self) -> tuple[list[str], list[list[str]]]:
        reader = csv.reader(io.StringIO(self.export.decode("utf-8")))
        header = next(reader, [])
        return header, [row for row in reader if row]

    def records_json(self) -> list[dict[str, object]]:
        header, rows = self.rows()
        out = []
        for row in rows:
            record: dict[str, object] = dict(zip(header, row, strict=True))
            if str(record.get("redcap_repeat_instance", "")).isdigit():
                record["redcap_repeat_instance"] = int(str(record["redcap_repeat_instance"]))
            out.append(record)
        return out

    def metadata(self) -> list[dict[str, str]]:
        header, _ = self.rows()
        fields: list[dict[str, str]] = []
        for column in header:
            if column.startswith("redcap_") or column.endswith("_complete"):
                continue  # not fields of the dictionary: REDCap adds them to exports
            name = column.split("___", 1)[0]
            if any(f["field_name"] == name for f in fields):
                continue
            kind = "checkbox" if "___" in column else "text"
            fields.append({"field_name": name, "form_name": "form_1", "section_header": "",
                           "field_type": kind,
                           "field_label": name.replace("_", " ").capitalize(),
                           "select_choices_or_calculations": "",
                           "field_note": "", "text_validation_type_or_show_slider_number": "",
                           "text_validation_min": "", "text_validation_max": "", "identifier": "",
                           "branching_logic": "", "required_field": "", "custom_alignment": "",
                           "question_number": "", "matrix_group_name": "", "matrix_ranking": "",
                           "field_annotation": ""})
        return fields

    # ----- the API -----
    def __call__(self, environ: dict, start_response: object) -> object:
        request = Request(environ)
        response = self.answer(request)
        return response(environ, start_response)  # type: ignore[arg-type]

    def answer(self, request: Request) -> Response:
        if request.path != "/api/":
            return Response("Not Found", status=404)
        if request.method != "POST":
            return Response("The API only answers POST requests", status=405)
        form = request.form.to_dict()
        self.requests.append({k: v for k, v in form.items() if k != "token"})
        fmt = form.get("format", "xml")
        error_format = form.get("returnFormat") or fmt
        if form.get("token") != self.token:
            return _error(NO_PERMISSION, 403, error_format)
        content = form.get("content", "")
        if content == "version":
            return Response(VERSION, mimetype="text/html")
        if content == "metadata":
            return _data(self.metadata(), fmt, error_format)
        if content == "record":
            for name, wanted in (("type", "flat"), ("rawOrLabel", "raw"), ("rawOrLabelHeaders", "raw"),
                                 ("exportSurveyFields", "false"), ("exportCheckboxLabel", "false")):
                if form.get(name, wanted) != wanted:
                    return _error(f"the test double only exports {name}={wanted}", 400, error_format)
            if fmt == "csv":
                return Response(self.export, mimetype="text/csv")
            return _data(self.records_json(), fmt, error_format)
        return _error('The value of the parameter "content" is not valid', 400, error_format)


def _data(items: list, fmt: str, error_format: str) -> Response:
    if fmt == "json":
        return Response(json.dumps(items), mimetype="application/json")
    if fmt == "csv":
        out = io.StringIO()
        if items:
            writer = csv.DictWriter(out, fieldnames=list(items[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(items)
        return Response(out.getvalue(), mimetype="text/csv")
    return _error(f"the test double does not write format={fmt}", 400, error_format)


def _error(message: str, status: int, fmt: str) -> Response:
    if fmt == "json":
        return Response(json.dumps({"error": message}), status=status, mimetype="application/json")
    if fmt == "csv":
        return Response(message, status=status, mimetype="text/csv")
    xml = f'<?xml version="1.0" encoding="UTF-8" ?>\n<hash>\n  <error>{message}</error>\n</hash>'
    return Response(xml, status=status, mimetype="text/xml")


@contextmanager
def serve(double: RedcapDouble) -> Iterator[RedcapDouble]:
    """Serve ``double`` on a free port of 127.0.0.1 until the block ends; ``double.url`` is its API
    address."""
    server = make_server("127.0.0.1", 0, double, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_port}/api/"
    try:
        yield double
    finally:
        server.shutdown()
        thread.join(timeout=5)
