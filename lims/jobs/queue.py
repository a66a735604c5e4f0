"""The queue engine: Huey, with its embedded SQLite storage by default and Redis for several machines.

``QUEUE_URL`` (``LIMS_QUEUE_URL``) chooses it:

- ``sqlite:///path/queue.db`` (default: ``queue.db`` in the instance folder): no extra server; the web
  server and ``lims worker`` on the same machine share the file.
- ``redis://host:6379/0``: Redis, shared by web servers and workers on several machines.
- ``immediate``: no queue; a job runs in the request's process right after the request commits (tests, demos).

Only job ids travel through the queue; the job rows are the truth (:mod:`lims.jobs.service`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from lims.jobs import service

if TYPE_CHECKING:
    from huey import Huey

log = logging.getLogger(__name__)
EXTENSION = "lims_jobs"
_WORKER_APP: dict[str, Flask] = {}
_RUNNING: set[int] = set()  # jobs this worker process is running now


def queue_url(app: Flask) -> str:
    """Return the configured queue URL (default: a SQLite file in the instance folder)."""
    return str(app.config.get("QUEUE_URL") or f"sqlite:///{Path(app.instance_path) / 'queue.db'}")


def make_huey(url: str) -> Huey | None:
    """Build the Huey instance a queue URL names (None for ``immediate``)."""
    from huey import RedisHuey, SqliteHuey

    if url == "immediate":
        return None
    if url.startswith("sqlite:///"):
        return SqliteHuey(name="trialbank", filename=url[len("sqlite:///"):], utc=True, results=False)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name="trialbank", url=url, utc=True, results=False)
    raise ValueError(f"QUEUE_URL {url!r}: use sqlite:///path, redis://host:port/db or immediate")


def init_app(app: Flask) -> None:
    """Attach the queue to the app (the Huey instance is made lazily, on first use)."""
    app.extensions[EXTENSION] = {"huey": None, "tasks": None, "lock": threading.Lock()}


def _tasks(app: Flask) -> dict[str, Any] | None:
    """Return the app's Huey task objects, registering them on first use (None when immediate)."""
    from huey import crontab

    ext = app.extensions[EXTENSION]
    with ext["lock"]:
        if ext["tasks"] is None:
            huey = make_huey(queue_url(app))
            if huey is None:
                ext["tasks"] = {}
            else:
                ext["huey"] = huey
                ext["tasks"] = {
                    "run": huey.task(name="trialbank.run_job")(_run_job),
                    "reap": huey.periodic_task(crontab(minute="*"), name="trialbank.reap")(_reap),
                    "schedule": huey.periodic_task(crontab(minute="*/15"),
                                                   name="trialbank.schedule")(_schedule),
                }
        return ext["tasks"] or None


def huey_of(app: Flask) -> Huey | None:
    """Return the app's Huey instance (None when jobs run immediately)."""
    _tasks(app)
    return app.extensions[EXTENSION]["huey"]


def push(job_id: int, *, delay: float | None = None, app: Flask | None = None) -> None:
    """Hand a committed job to the queue (or run it now when the queue is ``immediate``)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    tasks = _tasks(app)
    if tasks is None:
        from lims.extensions import db

        status = service.execute(db.session, job_id)
        if status == "busy":  # inline there is nobody to run it later: say so on the job
            service.note_busy(db.session, job_id)
        return
    if delay:
        tasks["run"].schedule(args=(job_id,), delay=delay)
    else:
        tasks["run"](job_id)


def pusher() -> Any:
    """Return a function that pushes a job id to this app's queue (to run after the caller commits)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return lambda job_id: push(job_id, app=app)


def enqueue(session: Session, kind: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Create a job in the caller's unit of work and push it to the queue once that unit commits."""
    return service.enqueue(session, kind, params, push=pusher(), **kwargs)


def runs_as_job(rows: int) -> bool:
    """Tell whether work reading ``rows`` rows leaves the request for a job (above ``JOB_ABOVE_ROWS``)."""
    return rows > int(current_app.config.get("JOB_ABOVE_ROWS", 50_000))


def imports_as_job(size: int) -> bool:
    """Tell whether an upload of ``size`` bytes is imported by a job (above ``IMPORT_JOB_ABOVE_BYTES``)."""
    return size > int(current_app.config.get("IMPORT_JOB_ABOVE_BYTES", 5_000_000))


# ----- what the worker runs -------------------------------------------------------------------------------
def set_worker_app(app: Flask) -> None:
    """Tell the worker's tasks which app (configuration, database) they run in."""
    _WORKER_APP["app"] = app


def _worker_app() -> Flask:
    app = _WORKER_APP.get("app")
    if app is None:
        raise RuntimeError("this process is not a Trialbank worker: start it with 'lims worker'")
    return app


def _side_session(app: Flask) -> Any:
    engine = app.extensions["lims_db"]["engine"]
    return lambda: Session(bind=engine, expire_on_commit=False)


def _run_job(job_id: int) -> None:
    app = _worker_app()
    from lims.extensions import db

    with app.app_context():
        side = _side_session(app)
        stop = threading.Event()
        beat = threading.Thread(target=_heartbeat, args=(side, job_id, stop), daemon=True)
        beat.start()
        _RUNNING.add(job_id)
        try:
            status = service.execute(db.session, job_id, side=side)
        finally:
            _RUNNING.discard(job_id)
            stop.set()
            beat.join(5)
        if status == "busy" or status == "queued":
            push(job_id, delay=service.RETRY_DELAY, app=app)


def _heartbeat(side: Any, job_id: int, stop: threading.Event) -> None:
    while not stop.wait(service.STALE_AFTER.total_seconds() / 6):
        try:
            with side() as session:
                service.heartbeat(session, job_id)
                session.commit()
        except Exception:
            log.info("job %s: heartbeat not recorded", job_id, exc_info=True)


def _reap() -> None:
    app = _worker_app()
    from lims.core.uow import run
    from lims.extensions import db

    with app.app_context():
        again = run(db.session, lambda: service.reap(db.session, alive=set(_RUNNING)))
    for job_id in again:
        push(job_id, app=app)


def _schedule() -> None:
    """Enqueue the periodic work of every domain (custody anchors, reminders...) unless already waiting."""
    app = _worker_app()
    from lims.core.uow import run
    from lims.extensions import db

    with app.app_context():
        ids = run(db.session, lambda: service.schedule_periodic(db.session))
    for job_id in ids:
        push(job_id, app=app)


def run_worker(app: Flask, *, threads: int = 1, periodic: bool = True) -> None:
    """Run a queue consumer in this process until it is stopped (``lims worker``)."""
    huey = huey_of(app)
    if huey is None:
        raise RuntimeError("QUEUE_URL is 'immediate': jobs run in the web process and no worker is needed")
    set_worker_app(app)
    huey.create_consumer(workers=threads, worker_type="thread", periodic=periodic,
                         check_worker_health=True).run()
