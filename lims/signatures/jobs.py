"""Signature runs as background jobs: one run per study computes at a time, on any worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.jobs import queue
from lims.jobs.models import Job
from lims.jobs.service import Failed, Handler, Progress
from lims.signatures import service
from lims.signatures.models import SignatureRun
from lims.studies.models import Study


def lock_key(study_id: int) -> str:
    """The lock that lets one signature run per study compute at a time, across all workers."""
    return f"signatures:study:{study_id}"


def _run(session: Session, run_id: int) -> SignatureRun:
    run = session.get(SignatureRun, run_id)
    if run is None:
        raise DomainError(f"no signature run {run_id}")
    return run


def _start(session: Session, run_id: int) -> dict[str, Any]:
    run = _run(session, run_id)
    if run.status == "running":  # a retry after a worker stopped
        run.status = "queued"
    service.mark_running(session, run)
    return {"study_id": run.study_id, "parameters": dict(run.parameters),
            "seeds": list(run.seeds) if run.seeds else None}


def run_signature(session: Session, job: Job, progress: Progress) -> dict[str, Any]:
    """Compute a queued run: mark it running, compute with no transaction open, then store the outcome."""
    run_id = int(job.params["run_id"])
    started = progress.step(lambda: _start(session, run_id))
    progress.report(0.05, "building the analysis frame")
    try:
        frame = service.frame_for(session, session.get_one(Study, started["study_id"]), started["parameters"])
        session.rollback()  # end the read before the long computation: no lock is held while it thinks
        progress.report(0.1, "cross-validating")
        spec, result, model = service.compute(frame, started["parameters"], started["seeds"])
    except DomainError as exc:
        session.rollback()
        message = exc.message
        progress.step(lambda: service.fail_run(session, _run(session, run_id), message))
        raise Failed(message) from None
    progress.report(0.95, "storing the result")
    progress.step(lambda: service.store_result(session, _run(session, run_id), frame, spec, result, model))
    return {"run_id": run_id, "url": f"/signatures/runs/{run_id}"}


def fail_signature(session: Session, job: Job, reason: str) -> None:
    """Record on the run why its job ended without a result."""
    run = session.get(SignatureRun, int(job.params["run_id"]))
    if run is not None and not run.finished:
        service.fail_run(session, run, reason)


HANDLERS = {"signature_run": Handler(run_signature, fail_signature, label="Signature run")}


def queue_run(session: Session, run: SignatureRun, *, by: Any) -> Job:
    """Queue the computation of ``run`` (it starts once the caller's unit of work commits)."""
    job = queue.enqueue(session, "signature_run", {"run_id": run.id}, by=by, lock_key=lock_key(run.study_id))
    run.job_id = job.id
    session.flush()
    return job
