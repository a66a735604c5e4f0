"""JSON API under /api/v1/clinical: imports (upload -> report) and derived endpoints per participant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from lims.clinical import quality, service, timeline
from lims.clinical.models import ImportRun
from lims.clinical.schemas import (
    ClinicalDataQuerySchema,
    ClinicalEndpointSchema,
    ClinicalImportReportSchema,
    ClinicalImportRunSchema,
    ClinicalImportUploadSchema,
    ClinicalQoLScoresSchema,
    ClinicalQueryArgsSchema,
    ClinicalTimelineMarkSchema,
    ClinicalVariantQuerySchema,
)
from lims.clinical.uploads import import_upload
from lims.core.api import MULTIPART, refused, refused_schema
from lims.core.permissions import permission_required
from lims.extensions import db
from lims.participants.service import get_by_code
from lims.studies.service import get_study

if TYPE_CHECKING:
    import pandas as pd

blp = Blueprint("clinical_api", __name__, description="Clinical data: EDC imports and derived endpoints")


def plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return DataFrame rows with Python values: None for NA, dates for timestamps."""
    import pandas as pd

    rows = []
    for record in frame.to_dict("records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
                row[key] = None
            elif isinstance(value, pd.Timestamp):
                row[key] = value.date()
            elif hasattr(value, "item"):
                row[key] = value.item()
            else:
                row[key] = value
        rows.append(row)
    return rows


@blp.route("/imports")
class Imports(MethodView):
    @permission_required("clinical.import")
    @blp.response(200, ClinicalImportRunSchema(many=True))
    def get(self) -> Any:
        """List the last 100 applied clinical imports, newest first."""
        study = get_study(db.session)
        return db.session.scalars(select(ImportRun).where(ImportRun.study_id == study.id)
                                  .order_by(ImportRun.at.desc()).limit(100)).all()

    @permission_required("clinical.import")
    @blp.arguments(ClinicalImportUploadSchema, location=MULTIPART)
    @blp.response(200, ClinicalImportReportSchema)
    @blp.alt_response(422, schema=refused_schema(ClinicalImportReportSchema),
                      description="Refused: nothing was imported; the report lists every problem")
    def post(self, form: dict[str, Any]) -> Any:
        """Import a REDCap export (with an optional mapping) or Trialbank tables; all or nothing, signed."""
        mapping = form.get("mapping")
        report = import_upload(db.session, get_study(db.session), form["format"],
                               [(u.filename or "", u.read()) for u in form["files"]],
                               (mapping.filename or "mapping.yaml", mapping.read()) if mapping else None,
                               by=current_user, signature=(form["password"], form["meaning"]))
        if not report.applied:
            body = report.as_dict()
            return refused(body, f"nothing was imported: {len(body.get('problems', []))} problem(s)")
        return report.as_dict()


@blp.route("/queries")
class Queries(MethodView):
    @permission_required("clinical.queries")
    @blp.arguments(ClinicalQueryArgsSchema, location="query")
    @blp.response(200, ClinicalDataQuerySchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Open data queries of one site (or all): inconsistencies, missing CREs, windows, deaths, SAEs."""
        found = quality.data_queries(db.session, get_study(db.session), args["site"], args["as_of"])
        return [{**q.__dict__, "value": None if q.value is None else str(q.value)} for q in found]


@blp.route("/endpoints")
class Endpoints(MethodView):
    @permission_required("clinical.read")
    @blp.arguments(ClinicalVariantQuerySchema, location="query")
    @blp.response(200, ClinicalEndpointSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Derived endpoints of every participant of the study."""
        return plain(service.derived_endpoints(db.session, get_study(db.session), args["variant"]))


@blp.route("/participants/<string:code>/endpoints")
class ParticipantEndpoints(MethodView):
    @permission_required("clinical.read")
    @blp.arguments(ClinicalVariantQuerySchema, location="query")
    @blp.response(200, ClinicalEndpointSchema)
    def get(self, args: dict[str, Any], code: str) -> Any:
        """Derived endpoints of one participant (cCR, pCR, MPR, TRG, OS, DFS, EFS, first failure)."""
        p = get_by_code(db.session, code)
        return plain(service.derived_endpoints(db.session, p.study, args["variant"], [p]))[0]


@blp.route("/participants/<string:code>/qol")
class ParticipantQoL(MethodView):
    @permission_required("clinical.read")
    @blp.response(200, ClinicalQoLScoresSchema)
    def get(self, code: str) -> Any:
        """QLQ-C30 and FACT-E scale scores of one participant per time point."""
        p = get_by_code(db.session, code)
        scores = service.qol_scores(db.session, p.study, p)
        return {"qlq_c30": plain(scores["QLQ-C30"]), "fact_e": plain(scores["FACT-E"])}


@blp.route("/participants/<string:code>/timeline")
class ParticipantTimeline(MethodView):
    @permission_required("clinical.read")
    @blp.response(200, ClinicalTimelineMarkSchema(many=True))
    def get(self, code: str) -> Any:
        """Everything dated in one participant's course: treatment, CREs, surgery, events, AEs, samples."""
        p = get_by_code(db.session, code)
        return timeline.as_dict(timeline.build(db.session, p), p)
