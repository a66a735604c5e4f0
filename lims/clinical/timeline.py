"""A participant's clinical course on one time axis, laid out for an inline SVG drawn on the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clinical import service
from lims.participants.models import Participant
from lims.samples.models import Sample

LANES = ("Treatment", "Response", "Allocation", "Surgery", "Disease", "Toxicity", "Samples")
WIDTH, LEFT, LANE_H, TOP = 960, 110, 34, 28
_CRE_CLASS = {"cCR": "good", "local": "bad", "regional": "bad", "distant": "bad", "not_evaluable": "muted"}


@dataclass
class Mark:
    """One thing on the axis: a point (``end`` None) or a span, in a lane, with a label and a CSS class."""

    lane: str
    start: date
    label: str
    kind: str = "info"
    end: date | None = None
    x: float = 0.0
    x2: float = 0.0
    y: float = 0.0


@dataclass
class Timeline:
    marks: list[Mark]
    first: date
    last: date
    ticks: list[tuple[float, str]] = field(default_factory=list)
    height: int = 0
    width: int = WIDTH
    left: int = LEFT
    lanes: list[tuple[str, float]] = field(default_factory=list)


def _marks(session: Session, participant: Participant) -> list[Mark]:
    recs = service.records(session, participant)
    marks = [Mark("Allocation", participant.enrolled_on, "Enrolment", "info")]
    for t in recs["treatment"]:
        marks.append(Mark("Treatment", t.rt_start,
                          f"RT {t.rt_dose_gy or '?'} Gy / {t.rt_fractions or '?'} fx",
                          "treat", t.rt_end or t.rt_start))
    for d in recs["drug_doses"]:
        marks.append(Mark("Treatment", d.date, f"{d.agent} {'omitted' if d.omitted else d.dose or ''}",
                          "muted" if d.omitted else "treat"))
    for c in recs["cre"]:
        marks.append(Mark("Response", c.date, f"CRE{c.seq}: {c.overall}", _CRE_CLASS.get(c.overall, "info")))
    for a in recs["allocation"]:
        if a.rand_date:
            marks.append(Mark("Allocation", a.rand_date, f"Randomised: {a.stratum}", "info"))
    for s in recs["surgery"]:
        marks.append(Mark("Surgery", s.date, f"{s.intent} surgery {s.r_status}", "bad" if s.r_status != "R0"
                          else "treat"))
    for ph in recs["pathology"]:
        if ph.surgery_date:
            marks.append(Mark("Surgery", ph.surgery_date, f"pathology {ph.ypt} {ph.ypn}"
                              + (f", {ph.viable_pct:g} % viable" if ph.viable_pct is not None else ""),
                              "pathology"))
    for e in recs["disease_events"]:
        marks.append(Mark("Disease", e.date, e.type.replace("_", " ").lower(), "bad"))
    for st in recs["subsequent_treatments"]:
        marks.append(Mark("Disease", st.date, st.kind.replace("_", " "), "treat"))
    for death in recs["deaths"]:
        marks.append(Mark("Disease", death.date, f"Death ({death.cause or 'cause unknown'})", "death"))
    for lc in recs["last_contact"]:
        marks.append(Mark("Disease", lc.last_alive_date, "Last known alive", "muted"))
        marks.append(Mark("Response", lc.last_disease_assessment_date, "Last disease assessment", "muted"))
    for ae in recs["adverse_events"]:
        marks.append(Mark("Toxicity", ae.onset_date,
                          f"{ae.term} G{ae.grade}" + (" (serious)" if ae.serious else ""),
                          "bad" if ae.grade >= 3 else "warn", ae.end_date))
    samples = session.execute(
        select(Sample.collected_at, Sample.accession, Sample.status, Sample.sample_type_id)
        .where(Sample.participant_id == participant.id, Sample.derivation == "primary",
               Sample.collected_at.is_not(None)).order_by(Sample.collected_at))
    names = {t.id: t.name for t in participant.study.sample_types}
    for collected, accession, status, type_id in samples:
        assert collected is not None  # filtered IS NOT NULL
        marks.append(Mark("Samples", collected.date(),
                          f"{names.get(type_id, 'sample')} {accession or ''}".strip(),
                          "muted" if status == "missed" else "sample"))
    return marks


def build(session: Session, participant: Participant, today: date | None = None, *,
          exact_dates: bool = True) -> Timeline:
    """Return the participant's timeline with x/y positions for each mark.

    Without ``exact_dates`` the axis is labelled in months since enrolment instead of calendar months.
    """
    marks = _marks(session, participant)
    dates = [m.start for m in marks] + [m.end for m in marks if m.end]
    first = min(dates) - timedelta(days=7)
    last = max(dates) + timedelta(days=14)
    span = max((last - first).days, 1)
    plot = WIDTH - LEFT - 20

    def x_of(day: date) -> float:
        return round(LEFT + plot * (day - first).days / span, 1)

    lanes: list[tuple[str, float]] = [(name, TOP + i * LANE_H) for i, name in enumerate(LANES)]
    y_of = dict(lanes)
    for m in marks:
        m.x = x_of(m.start)
        m.x2 = x_of(m.end) if m.end else m.x
        m.y = y_of[m.lane] + LANE_H / 2
    ticks = [] if exact_dates else _study_ticks(participant.enrolled_on, first, last, x_of)
    month = date(first.year, first.month, 1) if exact_dates else last + timedelta(days=1)
    step = 1 if span <= 400 else 3 if span <= 1200 else 6
    year = None
    while month <= last:
        if month >= first:
            ticks.append((x_of(month),
                          month.strftime("%b") if month.year == year else month.strftime("%b %Y")))
            year = month.year
        month = date(month.year + (month.month + step - 1) // 12, (month.month + step - 1) % 12 + 1, 1)
    marks.sort(key=lambda m: (m.start, LANES.index(m.lane)))
    return Timeline(marks=marks, first=first, last=last, ticks=ticks, height=TOP + len(LANES) * LANE_H + 24,
                    lanes=lanes)


def _study_ticks(enrolled: date, first: date, last: date, x_of: Any) -> list[tuple[float, str]]:
    """Ticks every few months since enrolment ('M0', 'M3', ...), for viewers who see study days only."""
    span = (last - first).days
    step = 1 if span <= 400 else 3 if span <= 1200 else 6
    ticks, n = [], 0
    while (tick := enrolled + timedelta(days=round(n * 30.4375))) <= last:
        if tick >= first:
            ticks.append((x_of(tick), f"M{n}"))
        n += step
    return ticks


def as_dict(timeline: Timeline, participant: Participant) -> list[dict[str, Any]]:
    """Return the marks as plain data for the JSON API, each date with its study day (day 1 = enrolment)."""
    def day(value: date | None) -> int | None:
        return None if value is None else (value - participant.enrolled_on).days + 1
    return [{"lane": m.lane, "date": m.start, "day": day(m.start), "end": m.end, "end_day": day(m.end),
             "label": m.label, "kind": m.kind} for m in timeline.marks]
