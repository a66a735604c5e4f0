"""Query and export the audit trail."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, time

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from lims.core.models import AuditEvent


def query(*, username: str | None = None, action: str | None = None, object_type: str | None = None,
          since: date | None = None, until: date | None = None) -> Select[tuple[AuditEvent]]:
    """Build the filtered audit query, newest first."""
    stmt = select(AuditEvent)
    if username:
        stmt = stmt.where(AuditEvent.username == username)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if since:
        stmt = stmt.where(AuditEvent.at >= datetime.combine(since, time.min, tzinfo=UTC))
    if until:
        stmt = stmt.where(AuditEvent.at <= datetime.combine(until, time.max, tzinfo=UTC))
    return stmt.order_by(AuditEvent.id.desc())


def to_csv(session: Session, stmt: Select[tuple[AuditEvent]]) -> str:
    """Export the filtered trail as CSV (UTC times, changes as JSON)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at_utc", "user", "remote_addr", "action", "object_type", "object_id", "changes", "detail"])
    for e in session.scalars(stmt):
        writer.writerow([e.id, e.at.isoformat(), e.username or "", e.remote_addr or "", e.action, e.object_type or "",
                         e.object_id or "", json.dumps(e.changes, sort_keys=True), e.detail or ""])
    return out.getvalue()
