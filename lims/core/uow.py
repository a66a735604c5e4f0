"""The one transaction boundary: each request, CLI command, import run or job commits once.

Handlers and services never commit. The boundary runs the unit of work, then commits when it succeeded and
rolls back when it failed (an exception, an error status, or a refusal shown to the user). A write collision
is run again from the start, a bounded number of times with jitter:

- SQLite allows one writer; a transaction that has read and then writes after another writer committed cannot
  upgrade its snapshot and answers "database is locked" at once (SQLITE_BUSY_SNAPSHOT). Write requests begin
  with ``BEGIN IMMEDIATE`` (see :mod:`lims.core.database`) so they queue on ``busy_timeout`` instead; a read
  request that happens to write (authentication bookkeeping) is run again, and its new attempts take the
  write lock at once too (:func:`takes_write_lock`): retrying optimistically under a steady stream of writers
  would collide again and again.
- PostgreSQL reports serialization failures (40001) and deadlocks (40P01); the unit is run again.

What must survive a failed unit (a refused password, an unknown token) is registered with :func:`durable`:
it is applied in the unit and applied again in a short transaction of its own if the unit rolls back.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, flash, g, has_request_context, request
from flask import session as cookie_session
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from lims.core.errors import Conflict, integrity_message

T = TypeVar("T")
ATTEMPTS = 8
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DURABLE = "lims.uow.durable"
_AFTER_COMMIT = "lims.uow.after_commit"
_FAILED = "_uow_failed"
# Set while a unit of work is run again after a write collision (or writes its durable bookkeeping): its
# transactions take the write lock when they begin.
_WRITE_LOCK: ContextVar[bool] = ContextVar("lims_uow_write_lock", default=False)


def is_retryable(exc: BaseException) -> bool:
    """Tell whether running the unit of work again may succeed (write collision, serialization, deadlock)."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01"):
        return True
    text = str(orig).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


def durable(session: Session, apply: Callable[[Session], Any]) -> None:
    """Apply ``apply(session)`` in this unit, and again on its own if the unit rolls back."""
    apply(session)
    session.info.setdefault(_DURABLE, []).append(apply)


def after_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run ``callback`` once this unit of work has committed (never if it rolls back)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def refuse(message: str) -> None:
    """Tell the user on the next page that the action was refused, and roll the unit of work back."""
    flash(message, "error")
    setattr(g, _FAILED, True)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError as exc:  # a constraint the services did not foresee: a clear conflict, not a 500
        raise Conflict(integrity_message(exc)) from exc
    session.info.pop(_DURABLE, None)
    for callback in session.info.pop(_AFTER_COMMIT, []):
        callback()


def _forget_attempt(session: Session) -> None:
    """Roll back an attempt that will be run again: nothing of it, durable or not, is kept."""
    session.rollback()
    session.info.pop(_AFTER_COMMIT, None)
    session.info.pop(_DURABLE, None)


def _rollback(session: Session) -> None:
    """Roll the unit back for good, then keep what was registered as durable in a transaction of its own."""
    session.rollback()
    session.info.pop(_AFTER_COMMIT, None)
    pending = session.info.pop(_DURABLE, [])
    if pending:
        with _locking_first():  # it writes: take SQLite's write lock when it begins
            run(session, lambda: [apply(session) for apply in pending])


@contextmanager
def _locking_first() -> Iterator[None]:
    """Make the transactions begun in this block take the write lock at once (SQLite: BEGIN IMMEDIATE)."""
    token = _WRITE_LOCK.set(True)
    try:
        yield
    finally:
        _WRITE_LOCK.reset(token)


def _pause(attempt: int) -> None:
    # Back off a little, with jitter, so that colliding writers do not meet again at once.
    time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - jitter, not a secret


def run(session: Session, work: Callable[[], T], *, attempts: int = ATTEMPTS,
        failed: Callable[[T], bool] | None = None, before_retry: Callable[[], None] | None = None) -> T:
    """Run ``work`` as one unit of work: commit on success, run again on a collision, roll back on error.

    ``failed(result)`` may declare a returned result a failure (rolled back, not raised); ``before_retry``
    undoes what an attempt left outside the database before the next one. Attempts after a collision take
    the write lock when they begin (SQLite), so they wait for it instead of colliding again.
    """
    for attempt in range(1, attempts + 1):
        try:
            # A unit run again after a write collision is one that writes: it queues for the write lock from
            # its first statement instead of reading a snapshot it may not be able to upgrade again.
            with _locking_first() if attempt > 1 else nullcontext():
                result = work()
                if failed is not None and failed(result):
                    _rollback(session)
                else:
                    _commit(session)
            return result
        except BaseException as exc:
            if is_retryable(exc) and attempt < attempts:
                _forget_attempt(session)
                if before_retry is not None:
                    before_retry()
                _pause(attempt)
                continue
            _rollback(session)
            raise
    raise AssertionError("unreachable")


@contextmanager
def unit_of_work(session: Session) -> Iterator[Session]:
    """Commit once at the end of the block, roll back if it raises (CLI commands, scripts, tests)."""
    try:
        yield session
    except BaseException:
        _rollback(session)
        raise
    _commit(session)


def _failed(response: Any) -> bool:
    return response.status_code >= 400 or bool(g.get(_FAILED))


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a view so that its request is one unit of work (the app wraps every view at start-up)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        from lims.extensions import db

        g.pop(_FAILED, None)
        flashes = cookie_session.get("_flashes")
        flashes = list(flashes) if flashes is not None else None

        def forget_attempt() -> None:
            """Forget what a failed attempt left behind so the next one starts clean."""
            g.pop(_FAILED, None)
            g.pop("_login_user", None)  # authenticate again inside the new transaction
            if flashes is None:
                cookie_session.pop("_flashes", None)
            else:
                cookie_session["_flashes"] = list(flashes)
            for upload in request.files.values():
                upload.stream.seek(0)

        return run(db.session, lambda: current_app.make_response(view(*args, **kwargs)),
                   failed=_failed, before_retry=forget_attempt)

    return wrapped


def is_write_request() -> bool:
    """Tell whether the current request (if any) is one that writes (POST, PUT, PATCH, DELETE)."""
    return has_request_context() and request.method in WRITE_METHODS


def takes_write_lock() -> bool:
    """Tell whether a new transaction should take SQLite's write lock at once (``BEGIN IMMEDIATE``).

    Requests that write do, and so does every attempt of a unit of work run again after a write collision.
    """
    return _WRITE_LOCK.get() or is_write_request()
