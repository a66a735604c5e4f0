"""Association screens as background jobs: the same computation as in the request, saved as a run."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.jobs import queue
from lims.jobs import service as jobs
from lims.jobs.models import Job
from lims.jobs.service import Handler, Progress
from lims.markers.service import count_results
from lims.results import service
from lims.results.models import AnalysisRun
from lims.studies.models import Study

PERMISSION = "analysis.run"


def screen_rows(session: Session, params: dict[str, Any]) -> int:
    """Estimate how many marker results a screen with these parameters reads."""
    return count_results(session, markers=params["markers"] or None, category=params["category"],
                         sample_type=params["sample_type"])


def screen_or_queue(session: Session, study: Study, params: dict[str, Any], *, by: Any) -> AnalysisRun | Job:
    """Run a screen with checked parameters at once, or queue it as a job when it reads many results (the
    page and the API alike)."""
    if queue.runs_as_job(screen_rows(session, params)):
        return queue_screen(session, study, params, by=by)
    return service.run_screen(session, study, params, by=by)


def queue_screen(session: Session, study: Study, params: dict[str, Any], *, by: Any) -> Job:
    """Queue a screen with checked parameters (``parameters.check_parameters``) for ``by``."""
    return queue.enqueue(session, "association_screen", {"study_id": study.id, "params": params}, by=by)


def run_screen(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Compute the screen with no transaction open, then save the run in one step."""
    job_id, study_id, asked = job.id, int(job.params["study_id"]), dict(job.params["params"])
    jobs.requester(session, job, PERMISSION)
    study = session.get(Study, study_id)
    if study is None:
        raise DomainError(f"no study {study_id}")
    progress.report(0.05, "building the analysis frame")
    params, frame, result = service.compute_screen(session, study, asked)
    session.rollback()  # end the read before saving: no lock is held while it thinks
    progress.report(0.9, f"saving {len(result)} markers")

    def save() -> int:
        user = jobs.requester(session, jobs.get_job(session, job_id), PERMISSION)
        run = service.save_run(session, session.get_one(Study, study_id), params, frame, result, by=user)
        return run.id
    run_id = progress.step(save)
    return {"run_id": run_id, "url": f"/results/runs/{run_id}", "markers": len(result)}


HANDLERS = {"association_screen": Handler(run_screen, label="Association screen")}
