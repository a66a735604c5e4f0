"""Data queries for data managers: inconsistencies in the clinical data and against the visit schedule.

Sources: ``analysis.clinical_checks.check_consistency`` on the study's tables; CREs the schedule expects
(a CRE visit whose window has closed, before any disease event or death) but nobody recorded; CREs and visits
done outside their window; visits and samples dated after death; serious adverse events not reported to the
ethics committee within the study's ``sae_report_days`` (default 7), or reported late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims.access.dates import local_today, study_zone
from lims.clinical import service
from lims.clinical.models import CRE, AdverseEvent, Death, DiseaseEvent
from lims.participants.models import Participant, Visit
from lims.samples.models import Sample
from lims.studies.models import Site, Study


@dataclass(frozen=True)
class Query:
    """One thing a data manager should chase."""

    site: str
    participant: str
    kind: str
    table: str
    field: str
    value: Any
    reason: str


def _participants(session: Session, study: Study, site_code: str | None) -> list[Participant]:
    stmt = (select(Participant).join(Participant.site).where(Participant.study_id == study.id)
            .options(selectinload(Participant.site), selectinload(Participant.consents),
                     selectinload(Participant.visits).selectinload(Visit.timepoint))
            .order_by(Participant.code))
    if site_code:
        stmt = stmt.where(Site.code == site_code)
    return list(session.scalars(stmt))


def data_queries(session: Session, study: Study, site_code: str | None = None,
                 as_of: date | None = None) -> list[Query]:
    """Return the open data queries of a site (or of all sites), ordered by participant."""
    from analysis.clinical_checks import check_consistency

    as_of = as_of or local_today(study_zone(study))  # the study's calendar day, not the server's
    people = _participants(session, study, site_code)
    site_of = {p.code: p.site.code for p in people}
    ids = {p.id: p for p in people}
    tables = service.clinical_tables(session, study, people)
    out = [Query(site_of.get(str(pr.participant_id), "?"), str(pr.participant_id), "inconsistency", pr.table,
                 pr.field, pr.value, pr.reason)
           for pr in check_consistency(tables) if pr.participant_id in site_of]
    deaths = dict(session.execute(select(Death.participant_id, Death.date)
                                  .where(Death.participant_id.in_(ids))).all())
    # Latest first, so the dict keeps each participant's earliest event.
    first_event = dict(session.execute(select(DiseaseEvent.participant_id, DiseaseEvent.date)
                                       .where(DiseaseEvent.participant_id.in_(ids))
                                       .order_by(DiseaseEvent.date.desc())).all())
    cre_dates = {(pid, seq): day for pid, seq, day in session.execute(
        select(CRE.participant_id, CRE.seq, CRE.date).where(CRE.participant_id.in_(ids)))}
    cres = set(cre_dates)
    for p in people:
        death = deaths.get(p.id)
        stop = min(d for d in (death, first_event.get(p.id), as_of) if d is not None)
        for visit in p.visits:
            tp = visit.timepoint
            if (tp.cre_number and visit.status in ("planned", "done") and visit.window_end is not None
                    and visit.window_end < stop and (p.id, tp.cre_number) not in cres):
                out.append(Query(p.site.code, p.code, "missing", "cre", "seq", tp.cre_number,
                                 f"{tp.code} expected by {visit.window_end.isoformat()} but not recorded"))
            recorded = cre_dates.get((p.id, tp.cre_number)) if tp.cre_number else None
            if (recorded is not None and visit.window_start is not None and visit.window_end is not None
                    and not visit.window_start <= recorded <= visit.window_end):
                out.append(Query(p.site.code, p.code, "window", "cre", "date", recorded,
                                 f"CRE{tp.cre_number} on {recorded.isoformat()} outside its window "
                                 f"{visit.window_start} to {visit.window_end}"))
            if visit.status == "done" and visit.in_window is False:
                out.append(Query(p.site.code, p.code, "window", "visit", tp.code, visit.actual_on,
                                 f"{tp.code} done outside its window {visit.window_start} to "
                                 f"{visit.window_end}"))
            if death is not None and visit.status == "done" and visit.actual_on and visit.actual_on > death:
                out.append(Query(p.site.code, p.code, "after death", "visit", tp.code, visit.actual_on,
                                 f"{tp.code} done after death on {death.isoformat()}"))
    out += _samples_after_death(session, deaths, ids)
    out += _sae_reporting(session, study, ids, as_of)
    return sorted(out, key=lambda q: (q.participant, q.kind, q.table, str(q.value)))


def _samples_after_death(session: Session, deaths: dict[int, date],
                         people: dict[int, Participant]) -> list[Query]:
    out: list[Query] = []
    if not deaths:
        return out
    rows = session.execute(select(Sample.participant_id, Sample.accession, Sample.collected_at)
                           .where(Sample.participant_id.in_(list(deaths)), Sample.derivation == "primary",
                                  Sample.collected_at.is_not(None)))
    for pid, accession, collected in rows:
        assert collected is not None  # filtered IS NOT NULL
        if collected.date() > deaths[pid]:
            p = people[pid]
            out.append(Query(p.site.code, p.code, "after death", "sample", "collected_at", collected.date(),
                             f"sample {accession} collected after death on {deaths[pid].isoformat()}"))
    return out


def _sae_reporting(session: Session, study: Study, people: dict[int, Participant],
                   as_of: date) -> list[Query]:
    allowed = int((study.settings or {}).get("sae_report_days", 7))
    out = []
    rows = session.scalars(select(AdverseEvent).where(AdverseEvent.participant_id.in_(list(people)),
                                                      AdverseEvent.serious.is_(True)))
    for ae in rows:
        p = people[ae.participant_id]
        due = ae.onset_date + timedelta(days=allowed)
        if ae.ethics_reported_on is None and due < as_of:
            out.append(Query(p.site.code, p.code, "SAE", "adverse_events", "ethics_reported_on", None,
                             f"serious {ae.term} (onset {ae.onset_date.isoformat()}) not reported to the "
                             f"ethics committee; due {due.isoformat()}"))
        elif ae.ethics_reported_on is not None and ae.ethics_reported_on > due:
            late = (ae.ethics_reported_on - ae.onset_date).days
            out.append(Query(p.site.code, p.code, "SAE", "adverse_events", "ethics_reported_on",
                             ae.ethics_reported_on,
                             f"serious {ae.term} reported {late} days after onset (allowed {allowed})"))
    return out
