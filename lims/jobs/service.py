"""Queue, run, watch, cancel and retry background jobs; the queue engine only carries job ids.

A job is enqueued inside the request's unit of work and pushed to the queue only after that unit
commits, so a job never refers to data that was rolled back. Any worker may pick it up: it is claimed
(queued -> running) in a short transaction, run as one unit of work by the handler registered for its
kind, and finished as done, failed (with the reason) or cancelled. A worker that dies leaves a running
job whose heartbeat stops; the reaper runs it again or marks it failed. Duplicate deliveries are harmless:
only a queued job can be claimed.

Handlers live in each domain's ``jobs.py`` (``HANDLERS = {"kind": Handler(run, on_failure)}``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.core.db import utcnow
from lims.core.errors import Conflict, DomainError, NotFound
from lims.core.permissions import allowed
from lims.core.uow import after_commit, unit_of_work
from lims.core.uow import run as run_unit
from lims.jobs.models import FINISHED, Job, JobFile

log = logging.getLogger(__name__)
T = TypeVar("T")
# A running job whose heartbeat is older than this lost its worker. Generous: on SQLite a job's long write
# step holds the one write lock, and its heartbeats wait behind it.
STALE_AFTER = timedelta(minutes=5)
RESEND_AFTER = timedelta(minutes=10)     # a queued job not picked up by then is pushed again (harmless)
RETRY_DELAY = 5                          # seconds before a job whose lock is busy is tried again


class Cancelled(Exception):
    """Raised inside a handler when someone asked for the job to stop."""


class Failed(Exception):
    """Raised by a handler that recorded its own failure: what it wrote is kept, the job ends failed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Handler:
    """What a job kind runs, and what to record when the job ends failed outside the handler's control."""

    run: Callable[[Session, Job, Progress], dict[str, Any] | None]
    on_failure: Callable[[Session, Job, str], None] | None = None
    label: str = ""
    periodic: bool = False  # enqueued by the workers' scheduler every 15 minutes
    # periodic kinds only: whether the scheduler enqueues one now (say, only when configured), given the last
    # job of the kind (None if there was none); always when not given
    due: Callable[[Session, Job | None], bool] | None = None


def handlers() -> dict[str, Handler]:
    """Return every domain's job handlers by kind (discovered from ``lims.<domain>.jobs``)."""
    from lims.domains import domain_modules

    found: dict[str, Handler] = {}
    for module in domain_modules("jobs"):
        found.update(getattr(module, "HANDLERS", {}))
    return found


def worker_name() -> str:
    """Name this process in the jobs it runs (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


# ----- asking ------------------------------------------------------------------------------------------
def enqueue(session: Session, kind: str, params: dict[str, Any] | None = None, *, by: Any = None,
            lock_key: str | None = None, max_attempts: int = 2,
            push: Callable[[int], None] | None = None) -> Job:
    """Create a queued job; ``push(job_id)`` hands it to the queue once the caller's unit commits."""
    if kind not in handlers():
        raise DomainError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, params=params or {}, status="queued", lock_key=lock_key, max_attempts=max_attempts,
              created_by_id=getattr(by, "id", None), progress=0.0, attempts=0)
    session.add(job)
    session.flush()
    if push is not None:
        job_id = job.id
        after_commit(session, lambda: push(job_id))
    return job


def get_job(session: Session, job_id: int) -> Job:
    """Return the job or raise NotFound."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job #{job_id}")
    return job


def cancel(session: Session, job: Job) -> Job:
    """Stop a job: a queued one is cancelled now, a running one stops at its next progress report."""
    if job.status in FINISHED:
        raise Conflict(f"job #{job.id} already ended ({job.status})")
    if job.status == "queued":
        _finish(session, job, "cancelled", message="cancelled before it started")
    else:
        job.status = "cancelling"
        session.flush()
    return job


def retry(session: Session, job: Job, *, push: Callable[[int], None] | None = None) -> Job:
    """Queue a failed or cancelled job again (a fresh set of attempts)."""
    if job.status not in ("failed", "cancelled"):
        raise Conflict(f"job #{job.id} is {job.status}; only a failed or cancelled job can be retried")
    job.status, job.error, job.message, job.progress, job.attempts = "queued", None, "queued again", 0.0, 0
    job.finished_at = None
    session.flush()
    if push is not None:
        job_id = job.id
        after_commit(session, lambda: push(job_id))
    return job


# ----- running -----------------------------------------------------------------------------------------
class Progress:
    """What a running handler is given: steps that commit, progress reports, and the cancel signal.

    A handler commits its work in steps (``progress.step(work)``: one unit of work, run again on a write
    collision) and keeps long computations outside them, with no transaction open, so that it never holds
    the database's write lock while it thinks (SQLite has one writer).
    """

    def __init__(self, session: Session, job: Job, side: Callable[[], Session] | None) -> None:
        self.job_id = job.id
        self._session = session
        self._job = job
        self._side = side

    def step(self, work: Callable[[], T]) -> T:
        """Run ``work`` as one unit of work of its own (committed; run again on a write collision).

        Handlers write only in steps: what they leave pending outside one is not kept.
        """
        return run_unit(self._session, work)

    def report(self, fraction: float, message: str | None = None) -> None:
        """Record how far the job got (0..1) and what it is doing; raise Cancelled if it should stop.

        Best effort: when the database is busy the report is skipped, never the job.
        """
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self._side is None:  # inline runs: nobody watches in between
            self._job.progress, self._job.message = fraction, message
            return
        status = None
        try:
            with self._side() as side:
                _short_wait(side)
                status = side.scalar(select(Job.status).where(Job.id == self.job_id))
                side.execute(Job.__table__.update().where(Job.id == self.job_id)
                             .values(progress=fraction, message=message, heartbeat_at=utcnow()))
                side.commit()
        except OperationalError:
            log.info("job %s: progress not recorded (database busy)", self.job_id)
        if status == "cancelling":
            raise Cancelled


def _short_wait(side: Session) -> None:
    """Let a side write give up quickly on SQLite instead of queueing behind the job's own transaction."""
    if side.get_bind().dialect.name == "sqlite":
        side.execute(text("PRAGMA busy_timeout=250"))


def _finish(session: Session, job: Job, status: str, *, message: str | None = None, error: str | None = None,
            result: dict[str, Any] | None = None) -> None:
    job.status, job.message, job.error, job.finished_at = status, message, error, utcnow()
    if result is not None:
        job.result = result
    if status == "done":
        job.progress = 1.0
    session.flush()


def claim(session: Session, job_id: int, *, worker: str) -> str:
    """Move a queued job to running in its own unit of work; return 'claimed', 'busy' (lock taken) or
    'gone'."""
    def work() -> str:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status != "queued":
            return "gone"
        try:
            with session.begin_nested():  # changed inside the savepoint, so a busy lock undoes only this
                now = utcnow()
                job.status, job.attempts, job.worker = "running", job.attempts + 1, worker
                job.started_at, job.heartbeat_at, job.message = now, now, f"running (attempt {job.attempts})"
                session.flush()
        except IntegrityError:  # another job with the same lock key is running
            session.refresh(job)
            return "busy"
        return "claimed"
    return run_unit(session, work)


def execute(session: Session, job_id: int, *, worker: str | None = None,
            side: Callable[[], Session] | None = None) -> str:
    """Claim and run one job; return its status afterwards ('busy' when its lock was taken).

    The handler commits its own steps (see :class:`Progress`); the job's end commits what is left. ``side``
    opens short sessions of their own for progress reports (worker processes); inline runs pass None.
    """
    outcome = claim(session, job_id, worker=worker or worker_name())
    if outcome != "claimed":
        return outcome
    job = get_job(session, job_id)
    handler = handlers().get(job.kind)
    if handler is None:
        run_unit(session, lambda: _finish(session, get_job(session, job_id), "failed",
                                          error=f"no handler for job kind {job.kind!r} in this worker"))
        return "failed"
    progress = Progress(session, job, side)
    session.commit()  # no transaction stays open while the handler works (it commits its own steps)
    try:
        result = handler.run(session, job, progress)
        run_unit(session, lambda: _finish(session, get_job(session, job_id), "done", message="done",
                                          result=result or {}))
        return "done"
    except Cancelled:
        session.rollback()
        return _end(session, job_id, handler, "cancelled", "cancelled while running")
    except Failed as exc:  # the handler recorded its own failure (in a step): keep it, end the job failed
        session.rollback()
        message = exc.message
        run_unit(session, lambda: _finish(session, get_job(session, job_id), "failed", error=message))
        return "failed"
    except DomainError as exc:
        session.rollback()
        return _end(session, job_id, handler, "failed", exc.message)
    except Exception as exc:
        session.rollback()
        log.exception("job %s (%s) failed", job_id, job.kind)
        reason = f"internal error ({type(exc).__name__}: {exc})"
        def requeue() -> bool:
            fresh = get_job(session, job_id)
            if fresh.attempts >= fresh.max_attempts:
                return False
            fresh.status, fresh.message, fresh.heartbeat_at = "queued", f"will retry after: {reason}", None
            return True
        if run_unit(session, requeue):
            return "queued"
        return _end(session, job_id, handler, "failed", reason)


def _end(session: Session, job_id: int, handler: Handler, status: str, reason: str) -> str:
    def work() -> None:
        job = get_job(session, job_id)
        if handler.on_failure is not None:
            handler.on_failure(session, job, reason)
        _finish(session, job, status, message=reason if status == "cancelled" else None,
                error=reason if status == "failed" else None)
    run_unit(session, work)
    return status


def heartbeat(session: Session, job_id: int) -> None:
    """Stamp a running job as alive (the worker does this every few seconds)."""
    session.execute(Job.__table__.update().where(Job.id == job_id, Job.status.in_(("running", "cancelling")))
                    .values(heartbeat_at=utcnow()))


def reap(session: Session, *, now: datetime | None = None,
         alive: set[int] | frozenset[int] = frozenset()) -> list[int]:
    """Handle jobs whose worker died or whose message was lost; return the ids to push to the queue again.

    ``alive``: jobs this process is running right now (never reaped, whatever their heartbeat says).
    """
    now = now or utcnow()
    again: list[int] = []
    known = handlers()
    stale = session.scalars(select(Job).where(Job.status.in_(("running", "cancelling")),
                                              Job.heartbeat_at < now - STALE_AFTER))
    for job in stale:
        if job.id in alive:
            continue
        lost = f"the worker {job.worker or '?'} stopped during attempt {job.attempts} of {job.max_attempts}"
        if job.status == "cancelling":
            _finish(session, job, "cancelled", message=f"cancelled ({lost})")
        elif job.attempts < job.max_attempts:
            job.status, job.message, job.heartbeat_at = "queued", f"{lost}; running it again", None
            again.append(job.id)
        else:
            handler = known.get(job.kind)
            if handler is not None and handler.on_failure is not None:
                handler.on_failure(session, job, lost)
            _finish(session, job, "failed", error=lost)
    waiting = session.scalars(select(Job.id)
                              .where(Job.status == "queued", Job.created_at < now - RESEND_AFTER))
    again.extend(waiting)
    session.flush()
    return sorted(set(again))


def note_busy(session: Session, job_id: int) -> None:
    """Say on a queued job that it waits for another job holding the same lock (inline runs)."""
    with unit_of_work(session):
        job = get_job(session, job_id)
        if job.status == "queued":
            job.message = "waiting: another job of the same kind is running"


def schedule_periodic(session: Session) -> list[int]:
    """Enqueue each periodic job kind that is due unless one is already queued or running."""
    ids = []
    for kind, handler in handlers().items():
        if not handler.periodic:
            continue
        waiting = session.scalar(select(Job.id)
                                 .where(Job.kind == kind, Job.status.in_(("queued", "running"))))
        if waiting is not None:
            continue
        last = session.scalar(select(Job).where(Job.kind == kind).order_by(Job.id.desc()).limit(1))
        if handler.due is None or handler.due(session, last):
            ids.append(enqueue(session, kind, lock_key=f"periodic:{kind}", max_attempts=1).id)
    return ids


def requester(session: Session, job: Job, permission: str) -> Any:
    """Return who asked for ``job`` if they are still active and their role still allows ``permission``.

    Jobs that act for a user decide what that user may do when they run, not when they were asked.
    """
    user = session.get(User, job.created_by_id) if job.created_by_id is not None else None
    if user is None or not getattr(user, "active", True):
        raise DomainError("the user who asked for this job no longer has an active account")
    if not allowed(user.role, permission):
        raise DomainError(f"the role {user.role} of {user.username} no longer allows {permission}")
    return user


def attach_file(session: Session, job_id: int, *, filename: str, mimetype: str, content: bytes,
                permission: str, purpose: str = "output") -> JobFile:
    """Keep a file of a job: the one it produced (``output``, replacing an earlier attempt's) or its
    upload."""
    old = session.scalar(select(JobFile).where(JobFile.job_id == job_id, JobFile.purpose == purpose))
    if old is not None:
        session.delete(old)
        session.flush()
    stored = JobFile(job_id=job_id, purpose=purpose, filename=filename, mimetype=mimetype,
                     permission=permission,
                     content=content, size=len(content), sha256=hashlib.sha256(content).hexdigest())
    session.add(stored)
    session.flush()
    return stored


def file_of(session: Session, job: Job, purpose: str = "output") -> JobFile | None:
    """Return the file a job produced (or, with ``purpose="input"``, the upload it works on); content on
    read."""
    return session.scalar(select(JobFile).where(JobFile.job_id == job.id, JobFile.purpose == purpose))


def recent(session: Session, *, user: Any = None, limit: int = 50) -> list[Job]:
    """Return the newest jobs (a user's own, or all when ``user`` is None)."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if user is not None:
        stmt = stmt.where(Job.created_by_id == user.id)
    return list(session.scalars(stmt))
