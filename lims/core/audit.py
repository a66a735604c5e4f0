"""Record access (logins, token use, exports) and every data change with old and new values.

Data changes are captured by one session listener, so no service can forget them: each inserted,
updated or deleted row of an audited table becomes an ``AuditEvent`` with the user and address of the
request (or the CLI) that caused it. Custody events and audit rows themselves are not re-audited.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from lims.core.db import utcnow
from lims.core.models import AuditEvent
from lims.core.uow import durable

NOT_AUDITED = {"audit_event", "custody_event", "custody_chain", "custody_checkpoint",
               "custody_checkpoint_head",
               "custody_epoch", "accession_counter", "job", "job_file"}
SECRET_COLUMNS = {"password_hash", "token_hash"}
SKIP_KEY = "lims.audit.skip"


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _who() -> tuple[int | None, str | None, str | None]:
    if not has_request_context():
        return None, "cli", None
    # Only the user already loaded for this request: loading one here could re-enter the flush.
    user = g.get("_login_user")
    addr = request.remote_addr
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id, user.username, addr
    return None, None, addr


def record(session: Session, action: str, *, user: Any = None, username: str | None = None,
           object_type: str | None = None, object_id: Any = None, detail: str | None = None,
           changes: dict[str, Any] | None = None) -> AuditEvent:
    """Add one access event (login, failed login, token use, export...)."""
    uid, uname, addr = _who()
    row = AuditEvent(
        at=utcnow(), user_id=getattr(user, "id", None) or uid,
        username=username or getattr(user, "username", None) or uname, remote_addr=addr, action=action,
        object_type=object_type, object_id=None if object_id is None else str(object_id),
        detail=detail, changes=changes or {},
    )
    session.add(row)
    return row


def record_security(session: Session, action: str, **kwargs: Any) -> None:
    """Add an access event that is kept even if the request fails (a refused login, signature or token)."""
    who = _who()  # read now: the request's user may be forgotten before a rollback re-applies this

    def apply(s: Session) -> None:
        row = record(s, action, **kwargs)
        if row.user_id is None and row.username is None:
            row.user_id, row.username = who[0], who[1]
        if row.remote_addr is None:
            row.remote_addr = who[2]

    durable(session, apply)


def skip_data_audit(session: Session, skip: bool = True) -> None:
    """Switch data-change auditing off for bulk loads (demo, benchmarks) in this session."""
    session.info[SKIP_KEY] = skip


@event.listens_for(Session, "before_flush")
def _audit_changes(session: Session, _flush_context: Any, _instances: Any) -> None:
    if session.info.get(SKIP_KEY):
        return
    uid, uname, addr = _who()
    rows: list[AuditEvent] = []
    for obj in list(session.dirty):
        table = getattr(obj, "__tablename__", None)
        if table is None or table in NOT_AUDITED or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        changes = {}
        for attr in state.mapper.column_attrs:
            hist = state.attrs[attr.key].history
            if hist.has_changes():
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                if old == new:
                    continue
                if attr.key in SECRET_COLUMNS:
                    old, new = "(hidden)", "(hidden)"
                changes[attr.key] = {"old": _plain(old), "new": _plain(new)}
        if changes:
            rows.append(AuditEvent(at=utcnow(), user_id=uid, username=uname, remote_addr=addr,
                                   action="update",
                                   object_type=table, object_id=_pk(state), changes=changes))
    for obj in list(session.deleted):
        table = getattr(obj, "__tablename__", None)
        if table is None or table in NOT_AUDITED:
            continue
        state = inspect(obj)
        old = {a.key: _plain(getattr(obj, a.key)) for a in state.mapper.column_attrs
               if a.key not in SECRET_COLUMNS}
        rows.append(AuditEvent(at=utcnow(), user_id=uid, username=uname, remote_addr=addr, action="delete",
                               object_type=table, object_id=_pk(state), changes={"old": old}))
    new_objects = [o for o in session.new if getattr(o, "__tablename__", None) not in NOT_AUDITED | {None}]
    if new_objects:
        session.info.setdefault("lims.audit.pending_new", []).extend(new_objects)
    session.add_all(rows)


@event.listens_for(Session, "after_flush_postexec")
def _audit_inserts(session: Session, _flush_context: Any) -> None:
    pending = session.info.pop("lims.audit.pending_new", [])
    if not pending or session.info.get(SKIP_KEY):
        return
    uid, uname, addr = _who()
    for obj in pending:
        state = inspect(obj)
        new = {a.key: _plain(getattr(obj, a.key)) for a in state.mapper.column_attrs
               if a.key not in SECRET_COLUMNS and getattr(obj, a.key) is not None}
        session.add(AuditEvent(at=utcnow(), user_id=uid, username=uname, remote_addr=addr, action="insert",
                               object_type=obj.__tablename__, object_id=_pk(state), changes={"new": new}))


def _pk(state: Any) -> str | None:
    identity = state.identity
    if identity is None:
        return None
    return ",".join(str(v) for v in identity)
