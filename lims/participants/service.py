"""Enrol participants, record consent, plan visits from the schedule, and find participants."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from lims import access
from lims.core.errors import DomainError, NotFound
from lims.participants.models import CONSENT_SCOPES, Consent, ConsentScope, Participant, Visit
from lims.studies.models import Site, Study


def normalise_code(code: str) -> str:
    """Normalise a typed or scanned participant code (trim, upper-case)."""
    return code.strip().upper()


def enrol(session: Session, study: Study, *, site: Site, code: str, enrolled_on: date,
          **baseline: object) -> Participant:
    """Create a participant at ``site`` with a pseudonymous ``code`` such as ``ZJ-014``."""
    code = normalise_code(code)
    if not code:
        raise DomainError("participant code is empty", field="code")
    if site.id not in {s.site_id for s in study.sites}:
        raise DomainError(f"site {site.code} does not take part in study {study.code}", field="site")
    participant = Participant(study_id=study.id, site_id=site.id, code=code, enrolled_on=enrolled_on,
                              **baseline)
    session.add(participant)
    session.flush()
    return participant


def record_consent(session: Session, participant: Participant, *, version: str, signed_on: date,
                   scopes: dict[str, bool]) -> Consent:
    """Record a signed consent with its coded scopes (granted or refused)."""
    unknown = set(scopes) - set(CONSENT_SCOPES)
    if unknown:
        raise DomainError(f"unknown consent scope(s) {', '.join(sorted(unknown))}; "
                          f"use {', '.join(CONSENT_SCOPES)}", field="scopes")
    if signed_on < participant.enrolled_on - timedelta(days=60):
        raise DomainError("consent is dated more than 60 days before enrolment", field="signed_on")
    consent = Consent(participant=participant, version=version, signed_on=signed_on,
                      scopes=[ConsentScope(scope=s, granted=g) for s, g in sorted(scopes.items())])
    session.add(consent)
    session.flush()
    return consent


def plan_visits(session: Session, participant: Participant) -> list[Visit]:
    """Create or update the participant's planned visits for every time point whose anchor is known."""
    existing = {(v.timepoint_id, v.occurrence): v for v in participant.visits}
    planned = []
    for tp in participant.study.timepoints:
        if tp.anchor == "event":
            continue
        anchor = participant.anchor_date(tp.anchor)
        visit = existing.get((tp.id, 1))
        if not tp.applies_to(participant.stratum):
            if visit is not None and visit.status == "planned":
                visit.status = "not_applicable"
            continue
        if anchor is None:
            continue
        target = anchor + timedelta(days=tp.day)
        if visit is None:
            visit = Visit(participant=participant, timepoint=tp, occurrence=1)
            session.add(visit)
        visit.planned_on = target
        visit.window_start = target - timedelta(days=tp.window_before)
        visit.window_end = target + timedelta(days=tp.window_after)
        planned.append(visit)
    session.flush()
    return planned


def search_query(study: Study | None, q: str | None = None, site: str | None = None,
                 stratum: str | None = None, *, user: object = None) -> Select[Participant]:
    """Build the participant list query: search by code, filter by site and stratum, within ``user``'s
    scope."""
    stmt = (select(Participant).join(Participant.site).options(selectinload(Participant.site))
            .where(access.visible_participants(user)))
    if study is not None:
        stmt = stmt.where(Participant.study_id == study.id)
    if q:
        term = f"%{normalise_code(q)}%"
        stmt = stmt.where(or_(Participant.code.like(term), Site.code.like(term)))
    if site:
        stmt = stmt.where(Site.code == site.strip().upper())
    if stratum:
        stmt = stmt.where(Participant.stratum == stratum)
    return stmt.order_by(Participant.code)


def count(session: Session, stmt: Select[Participant]) -> int:
    """Count the rows a list query would return."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def get_by_code(session: Session, code: str, study: Study | None = None, *,
                user: object = None) -> Participant:
    """Return the participant with ``code`` or raise NotFound (also when ``user`` may not see its site)."""
    stmt = select(Participant).where(Participant.code == normalise_code(code))
    if study is not None:
        stmt = stmt.where(Participant.study_id == study.id)
    participant = session.scalar(stmt)
    if participant is None or (user is not None and not access.may_see(user, participant)):
        raise NotFound(f"no participant {normalise_code(code)!r}")
    return participant
