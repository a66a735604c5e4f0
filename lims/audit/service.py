"""Query and export the audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, false, or_, select, true
from sqlalchemy.orm import Session

from lims import access
from lims.core.models import AuditEvent
from lims.core.spreadsheet import csv_text
from lims.participants.models import Consent, Participant, Visit
from lims.samples.models import DisposalRequest, Sample
from lims.shipments.models import Shipment, ShipmentItem
from lims.storage.models import Placement, StorageUnit


def _about(table: str, ids: Select[Any]) -> ColumnElement[bool]:
    return and_(AuditEvent.object_type == table, AuditEvent.object_id.in_(ids))


def visible_to(user: Any) -> ColumnElement[bool]:
    """A WHERE clause on AuditEvent: the events ``user`` may read.

    Study-wide roles read the whole trail. A site-bound reader reads its own actions and the changes to what
    its sites may see (samples, participants and their consent and visits, storage, shipments, disposal
    requests); events about anything else (other sites, other users' logins and tokens) are not shown.
    """
    sites = access.site_ids(user)
    if sites is None:
        return true()
    if not sites:
        return false()
    samples = select(Sample.id).where(access.visible_samples(user))
    participants = select(Participant.id).where(access.visible_participants(user))
    shipments = select(Shipment.id).where(access.visible_shipments(user))
    return or_(
        AuditEvent.user_id == user.id,
        _about("sample", select(cast(Sample.id, String)).where(Sample.id.in_(samples))),
        _about("placement",
               select(cast(Placement.sample_id, String)).where(Placement.sample_id.in_(samples))),
        _about("disposal_request", select(cast(DisposalRequest.id, String))
               .where(DisposalRequest.sample_id.in_(samples))),
        _about("participant", select(cast(Participant.id, String)).where(Participant.id.in_(participants))),
        _about("consent", select(cast(Consent.id, String)).where(Consent.participant_id.in_(participants))),
        _about("visit", select(cast(Visit.id, String)).where(Visit.participant_id.in_(participants))),
        _about("storage_unit", select(cast(StorageUnit.id, String)).where(access.visible_units(user))),
        _about("shipment", select(cast(Shipment.id, String)).where(Shipment.id.in_(shipments))),
        _about("shipment_item", select(cast(ShipmentItem.id, String))
               .where(ShipmentItem.shipment_id.in_(shipments))),
    )


def query(*, username: str | None = None, action: str | None = None, object_type: str | None = None,
          since: date | None = None, until: date | None = None,
          where: ColumnElement[bool] | None = None) -> Select[AuditEvent]:
    """Build the filtered audit query, newest first (``where``: e.g. :func:`visible_to` the reader)."""
    stmt = select(AuditEvent)
    if where is not None:
        stmt = stmt.where(where)
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


def to_csv(session: Session, stmt: Select[AuditEvent]) -> str:
    """Export the filtered trail as CSV (UTC times, changes as JSON)."""
    header = ["id", "at_utc", "user", "remote_addr", "action", "object_type", "object_id", "changes",
              "detail"]
    return csv_text(header, ([e.id, e.at.isoformat(), e.username or "", e.remote_addr or "", e.action,
                              e.object_type or "", e.object_id or "", json.dumps(e.changes, sort_keys=True),
                              e.detail or ""] for e in session.scalars(stmt)))
