"""JSON API under /api/v1/results: run an association screen, list and read saved runs, re-run one."""

from __future__ import annotations

import math
from typing import Any

from flask.views import MethodView
from flask_login import current_user
from flask_smorest import Blueprint

from lims.core.permissions import permission_required
from lims.extensions import db
from lims.jobs.api import accepted
from lims.jobs.models import Job
from lims.jobs.schemas import JobSchema
from lims.results import parameters, service
from lims.results.jobs import screen_or_queue
from lims.results.parameters import RunParametersSchema
from lims.results.schemas import RerunSchema, RunSchema
from lims.studies.service import get_study

blp = Blueprint("results_api", __name__, description="Marker-outcome association runs (saved, re-runnable)")


@blp.route("/runs")
class Runs(MethodView):
    @permission_required("results.read")
    @blp.response(200, RunSchema(many=True))
    def get(self) -> Any:
        """List the latest saved runs of the study (newest first)."""
        return service.recent_runs(db.session, get_study(db.session))

    @permission_required("analysis.run")
    @blp.arguments(RunParametersSchema)
    @blp.response(201, RunSchema)
    @blp.alt_response(202, schema=JobSchema, description="A large screen was queued as a job: follow its "
                      "``url`` (the ``Location``); when done, its result names the saved run")
    def post(self, params: dict[str, Any]) -> Any:
        """Run a screen of every marker of the set against the outcome and save it (large ones as a job)."""
        study = get_study(db.session)
        run = screen_or_queue(db.session, study, parameters.against_study(db.session, study, params),
                              by=current_user)
        return accepted(run) if isinstance(run, Job) else run


@blp.route("/runs/<int:run_id>")
class RunById(MethodView):
    @permission_required("results.read")
    @blp.response(200, RunSchema)
    def get(self, run_id: int) -> Any:
        """Show one saved run with its parameters, input hash, version and result table."""
        return service.get_run(db.session, get_study(db.session), run_id)


@blp.route("/runs/<int:run_id>/rerun")
class Rerun(MethodView):
    @permission_required("results.read")
    @blp.response(200, RerunSchema)
    def get(self, run_id: int) -> Any:
        """Re-run a saved run on the current data; say whether the input and the numbers are unchanged."""
        study = get_study(db.session)
        check = service.rerun(db.session, study, service.get_run(db.session, study, run_id))
        if not math.isfinite(check.max_abs_difference):
            check.max_abs_difference = None  # type: ignore[assignment]
        return check
