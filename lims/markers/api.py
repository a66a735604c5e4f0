"""JSON API under /api/v1/markers: catalogue, results (paginated, filterable), import upload, export."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint, Page
from werkzeug.routing import BaseConverter

from lims import access
from lims.core.api import page_of, refused, refused_schema
from lims.core.auth import login_required
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs.api import accepted
from lims.jobs.models import Job
from lims.jobs.schemas import JobSchema
from lims.markers import service
from lims.markers.importer import ImportFailed
from lims.markers.jobs import export_or_queue, import_or_queue
from lims.markers.schemas import (
    ExportQuerySchema,
    ImportReportSchema,
    MarkerSchema,
    ResultQuerySchema,
    ResultSchema,
    UploadSchema,
)

blp = Blueprint("markers_api", __name__, description="Marker catalogue, results, imports and dataset exports")


class MarkerCode(BaseConverter):
    """A marker code in a URL; never one of the collection words, so /imports is never read as a marker."""

    regex = r"(?!(?:results|imports|exports)(?:/|$))[^/]{1,60}"


def result_dict(row: Any) -> dict[str, Any]:
    """Flatten a results-query row for the schema."""
    result, accession, participant, marker = row
    return {**{c: getattr(result, c) for c in ("id", "value", "qualifier", "original_value", "original_unit",
                                               "replicate", "run_id", "batch_id", "plate_id", "assay_date",
                                               "operator", "import_id")},
            "remeasurement": result.remeasurement, "accession": accession, "participant_id": participant,
            "marker": marker, "unit": result.marker.unit}


class ResultPage(Page):
    """Paginate the results query in the database."""

    @property
    def item_count(self) -> int:
        return service.count(db.session, self.collection)

    @property
    def items(self) -> list[Any]:
        return [result_dict(r) for r in db.session.execute(page_of(self.collection, self.page_params))]


@blp.route("/")
class Catalogue(MethodView):
    @login_required
    @blp.response(200, MarkerSchema(many=True))
    def get(self) -> Any:
        """List the marker catalogue."""
        return service.list_markers(db.session)

    @permission_required("markers.manage")
    @blp.arguments(MarkerSchema)
    @blp.response(201, MarkerSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Add a marker to the catalogue (data managers)."""
        return service.save_marker(db.session, data, by=current_user)


@blp.route("/results")
class Results(MethodView):
    @login_required
    @blp.arguments(ResultQuerySchema, location="query")
    @blp.response(200, ResultSchema(many=True))
    @blp.paginate(ResultPage)
    def get(self, args: dict[str, Any]) -> Any:
        """List results, newest first (filter by marker, accession, participant, import, re-measurements)."""
        return service.results_query(db.session, **args, where=access.visible_samples(current_user))


@blp.route("/imports")
class Imports(MethodView):
    @permission_required("markers.import")
    @blp.arguments(UploadSchema, location="files")
    @blp.response(201, ImportReportSchema)
    @blp.alt_response(422, schema=refused_schema(ImportReportSchema),
                      description="Refused: nothing was imported; the report lists every problem")
    @blp.alt_response(202, schema=JobSchema, description="A large file was queued as a job: follow its "
                      "``Location``; its result holds the report")
    def post(self, files: dict[str, Any]) -> Any:
        """Import a results file (long CSV, wide CSV/XLSX); all or nothing, with a report (large ones as a
        job)."""
        upload = files["file"]
        content, filename = upload.read(), upload.filename or "upload.csv"
        try:
            report = import_or_queue(db.session, content, filename=filename, by=current_user)
        except ImportFailed as exc:
            body = exc.report.to_dict()
            return refused(body, f"nothing was imported: {body.get('problem_count', 0)} problem(s)")
        return accepted(report) if isinstance(report, Job) else report.to_dict()


@blp.route("/exports")
class Exports(MethodView):
    @permission_required("export.dataset")
    @blp.arguments(ExportQuerySchema, required=False,
                   description="What to export; without a body, every marker with the default outcomes")
    @blp.response(200, content_type="application/zip", description="Zip: data, data dictionary, manifest")
    @blp.alt_response(202, schema=JobSchema, description="A large export was queued as a job: follow its "
                      "``Location``; when done, its ``file.url`` downloads the zip")
    def post(self, query: Any) -> Any:
        """Export a linked, pseudonymised dataset as a zip (recorded in the audit trail; large ones as a
        job)."""
        result = export_or_queue(db.session, query, by=current_user)
        if isinstance(result, Job):
            return accepted(result)
        return Response(result.content, mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'})


@blp.route("/<marker_code:code>")
class MarkerByCode(MethodView):
    @login_required
    @blp.response(200, MarkerSchema)
    def get(self, code: str) -> Any:
        """Show one catalogue entry."""
        return service.get_marker(db.session, code)

    @permission_required("markers.manage")
    @blp.arguments(MarkerSchema)
    @blp.response(200, MarkerSchema)
    def put(self, data: dict[str, Any], code: str) -> Any:
        """Replace a catalogue entry (data managers)."""
        return service.save_marker(db.session, data, marker=service.get_marker(db.session, code),
                                   by=current_user)
