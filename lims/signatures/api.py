"""JSON API under /api/v1/signatures: queue a signature run, follow it, read its result, re-run it."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.signatures import jobs, parameters, service
from lims.signatures.schemas import RunDetailSchema, RunParametersSchema, RunSchema
from lims.studies.service import get_study

blp = Blueprint("signatures_api", __name__,
                description="Multi-marker signature runs (nested CV, stored, re-runnable)")



@blp.route("/runs")
class Runs(MethodView):
    @permission_required("signatures.read")
    @blp.response(200, RunSchema(many=True))
    def get(self) -> Any:
        """List the latest signature runs of the study (newest first)."""
        return service.recent_runs(db.session, get_study(db.session))

    @permission_required("analysis.run")
    @blp.arguments(RunParametersSchema)
    @blp.response(202, RunDetailSchema)
    def post(self, params: dict[str, Any]) -> Any:
        """Queue a run; it is computed in the background: poll the run until its status is done or failed."""
        study = get_study(db.session)
        clean = parameters.against_study(db.session, study, params)
        run = service.create_run(db.session, study, clean, by=current_user)
        jobs.queue_run(db.session, run, by=current_user)
        return run


@blp.route("/runs/<int:run_id>")
class RunById(MethodView):
    @permission_required("signatures.read")
    @blp.response(200, RunDetailSchema)
    def get(self, run_id: int) -> Any:
        """Show one run: status, spec, seeds, dataset hash, package versions and the full result."""
        return service.get_run(db.session, get_study(db.session), run_id)


@blp.route("/runs/<int:run_id>/rerun")
class Rerun(MethodView):
    @permission_required("analysis.run")
    @blp.response(202, RunDetailSchema)
    def post(self, run_id: int) -> Any:
        """Queue the same run (parameters and seeds) on the current data; the new run is compared with it."""
        study = get_study(db.session)
        original = service.get_run(db.session, study, run_id)
        run = service.create_run(db.session, study, original.parameters, by=current_user, rerun_of=original)
        jobs.queue_run(db.session, run, by=current_user)
        return run
