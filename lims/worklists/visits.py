"""Visits due this week and overdue, per site: expected vs collected per kit, out-of-window visits flagged.

Weeks are the study's local calendar weeks (Monday to Sunday in the study time zone); windows are the planned
visit windows from the protocol. Only participants the user may see are listed (site-bound roles: their
sites).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from lims import access
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import Site, Study, TimePoint

MAX_ROWS = 500


@dataclass
class DueVisit:
    """One visit on the worklist, with its kit's expected and collected tubes."""

    visit: Visit
    participant: Participant
    state: str  # "due", "overdue" or "done"
    expected: int
    collected: int
    missed: int
    # (kit label, collected|missed|expected|optional)
    lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def out_of_window(self) -> bool:
        """A visit done outside its window, or one still open after its window closed."""
        v = self.visit
        if v.window_start is None or v.window_end is None:
            return False
        if v.status == "done" and v.actual_on is not None:
            return not v.window_start <= v.actual_on <= v.window_end
        return self.state == "overdue"


@dataclass
class WorkList:
    """The visits of one local week for the user's sites."""

    week_start: date
    week_end: date
    today: date
    due: list[DueVisit]
    overdue: list[DueVisit]
    done: list[DueVisit]
    truncated: bool = False


def week_of(day: date) -> tuple[date, date]:
    """Return the Monday and Sunday of ``day``'s week."""
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def worklist(session: Session, study: Study, user: Any, *, day: date | None = None,
             site: str | None = None) -> WorkList:
    """List visits due in the week of ``day`` (default: today, local), overdue ones, and those done that
    week."""
    today = access.local_today(access.study_zone(study))
    start, end = week_of(day or today)
    stmt = (select(Visit).join(Participant, Visit.participant_id == Participant.id)
            .join(TimePoint, Visit.timepoint_id == TimePoint.id)
            .where(Participant.study_id == study.id, access.visible_participants(user),
                   Visit.status.in_(("planned", "done")))
            .options(selectinload(Visit.timepoint).selectinload(TimePoint.kit),
                     selectinload(Visit.participant).selectinload(Participant.site)))
    if site:
        stmt = stmt.join(Site, Participant.site_id == Site.id).where(Site.code == site.strip().upper())
    first = func.coalesce(Visit.window_start, Visit.planned_on)
    last = func.coalesce(Visit.window_end, Visit.planned_on)
    due = stmt.where(Visit.status == "planned", first <= end, last >= start, last >= today)
    overdue = stmt.where(Visit.status == "planned", last < today)
    done = stmt.where(Visit.status == "done", and_(Visit.actual_on >= start, Visit.actual_on <= end))
    lists = {}
    truncated = False
    for name, query in (("due", due), ("overdue", overdue), ("done", done)):
        order = (last.desc(), Participant.code) if name == "overdue" else (first.asc(), Participant.code)
        visits = list(session.scalars(query.order_by(*order).limit(MAX_ROWS + 1)))
        truncated = truncated or len(visits) > MAX_ROWS
        lists[name] = visits[:MAX_ROWS]
    counts = _kit_counts(session, [v.id for vs in lists.values() for v in vs])
    rows = {name: [_row(v, name, counts.get(v.id, {})) for v in vs] for name, vs in lists.items()}
    return WorkList(start, end, today, rows["due"], rows["overdue"], rows["done"], truncated=truncated)


def _kit_counts(session: Session, visit_ids: list[int]) -> dict[int, dict[int | None, set[str]]]:
    """Return, per visit and kit item, the statuses of its primary samples (one query)."""
    out: dict[int, dict[int | None, set[str]]] = defaultdict(lambda: defaultdict(set))
    if not visit_ids:
        return out
    rows = session.execute(select(Sample.visit_id, Sample.kit_item_id, Sample.status)
                           .where(Sample.visit_id.in_(visit_ids), Sample.derivation == "primary")).all()
    for visit_id, kit_id, status in rows:
        assert visit_id is not None  # filtered by visit_id IN (...)
        out[visit_id][kit_id].add(status)
    return out


def _row(visit: Visit, state: str, found: dict[int | None, set[str]]) -> DueVisit:
    lines = []
    expected = collected = missed = 0
    for item in visit.timepoint.kit:
        statuses = found.get(item.id, set())
        if statuses - {"missed"}:
            line = "collected"
        elif "missed" in statuses:
            line = "missed"
        else:
            line = "optional" if item.optional else "expected"
        expected += 0 if item.optional else 1
        collected += line == "collected"
        missed += line == "missed"
        lines.append((item.label, line))
    return DueVisit(visit, visit.participant, state, expected, collected, missed, lines)
