"""Run signature runs outside the request: one background thread per run, one run computing at a time.

The request queues the run and commits; ``start`` hands its id to a daemon thread that opens its own app context
(and so its own session), marks the run running, computes it and commits the outcome. With
``SIGNATURE_RUNNER = "inline"`` (tests) the run is executed in the caller's session before ``start`` returns.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask, current_app
from sqlalchemy.orm import Session

from lims.core.errors import DomainError
from lims.core.uow import after_commit
from lims.extensions import db
from lims.signatures import service
from lims.signatures.models import SignatureRun

log = logging.getLogger(__name__)
# Two cores are shared with the web server: computing two runs at once would only slow both down.
_COMPUTE = threading.Lock()
_ACTIVE: set[int] = set()
_ACTIVE_LOCK = threading.Lock()


def is_active(run_id: int) -> bool:
    """Tell whether this process holds ``run_id`` queued or computing."""
    with _ACTIVE_LOCK:
        return run_id in _ACTIVE


def execute(session: Session, run_id: int) -> SignatureRun:
    """Run a queued run to the end in ``session``, committing its start and its outcome."""
    run = session.get(SignatureRun, run_id)
    if run is None:
        raise DomainError(f"no signature run {run_id}")
    service.mark_running(session, run)
    session.commit()
    try:
        service.execute_run(session, run)
    except DomainError as exc:
        session.rollback()
        service.fail_run(session, session.get(SignatureRun, run_id), exc.message)
    except Exception as exc:  # the thread has no one else to tell: the run must not stay "running"
        log.exception("signature run %s failed", run_id)
        session.rollback()
        service.fail_run(session, session.get(SignatureRun, run_id),
                         f"internal error ({type(exc).__name__}: {exc}); the run was not stored")
    session.commit()
    return run


def _work(app: Flask, run_id: int) -> None:
    try:
        with _COMPUTE, app.app_context():
            execute(db.session, run_id)
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(run_id)


def start(app: Flask, run_id: int) -> None:
    """Execute the committed queued run ``run_id`` in the background (or inline, see module doc)."""
    if app.config.get("SIGNATURE_RUNNER", "thread") == "inline":
        execute(db.session, run_id)
        return
    with _ACTIVE_LOCK:
        _ACTIVE.add(run_id)
    threading.Thread(target=_work, args=(app, run_id), name=f"signature-run-{run_id}", daemon=True).start()


def start_after_commit(run: SignatureRun) -> None:
    """Start ``run`` once the request that queued it has committed (see lims.core.uow)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    run_id = run.id
    after_commit(db.session, lambda: start(app, run_id))
