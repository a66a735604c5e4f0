"""Find samples: the one query behind the samples API, the sample grid and its CSV download.

Filters are optional and combined with AND; the user's site scope (:func:`lims.access.visible_samples`) is
always applied in SQL, and the caller pages the statement in the database (LIMIT/OFFSET), never in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from lims import access
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import SampleType, Site, TimePoint

FILTERS = ("participant", "timepoint", "sample_type", "status", "derivation", "site")


def sample_query(user: Any, *, where: ColumnElement[bool] | None = None, **filters: Any) -> Select[Sample]:
    """Return the samples ``user`` may see that match ``filters`` (participant, timepoint, sample_type,
    status, derivation, site: the code of the site holding them), ordered by id; ``where`` adds a clause on
    Sample."""
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise TypeError(f"unknown sample filter(s): {', '.join(sorted(unknown))}")
    stmt = (select(Sample).join(Participant, Sample.participant_id == Participant.id)
            .where(access.visible_samples(user))
            .options(selectinload(Sample.sample_type), selectinload(Sample.container_type),
                     selectinload(Sample.site),
                     selectinload(Sample.participant).selectinload(Participant.study),
                     selectinload(Sample.visit).selectinload(Visit.timepoint)))
    text = {k: str(v).strip() for k, v in filters.items() if v is not None and str(v).strip()}
    if "participant" in text:
        stmt = stmt.where(Participant.code == text["participant"].upper())
    if "sample_type" in text:
        stmt = stmt.join(SampleType, Sample.sample_type_id == SampleType.id).where(
            SampleType.code == text["sample_type"].upper())
    if "timepoint" in text:
        stmt = (stmt.join(Visit, Sample.visit_id == Visit.id)
                .join(TimePoint, Visit.timepoint_id == TimePoint.id)
                .where(TimePoint.code == text["timepoint"].upper()))
    if "status" in text:
        stmt = stmt.where(Sample.status == text["status"])
    if "derivation" in text:
        stmt = stmt.where(Sample.derivation == text["derivation"])
    if "site" in text:
        stmt = stmt.join(Site, Sample.site_id == Site.id).where(Site.code == text["site"].upper())
    if where is not None:
        stmt = stmt.where(where)
    return stmt.order_by(Sample.id)


def count(session: Session, stmt: Select[Any]) -> int:
    """Count the rows of a sample query in the database."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
