"""Check clinical records before an import writes anything: rules inside a record, unknown or locked
participants, duplicate keys, and the consistency of the data as it would be after the import
(``analysis.clinical_checks``); findings that are data queries to chase come back as warnings.

``lims.clinical.importer`` calls :func:`check_records` first and applies the records only when it finds no
problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.clinical import service
from lims.clinical.csvfiles import Incoming, Issue
from lims.clinical.models import MODELS, ClinicalLock
from lims.participants.models import Participant
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

# CTCAE v5.0 terms whose grading stops below 5 (laboratory values).
CTCAE_MAX_GRADE = {
    "lymphocyte count decreased": 4, "neutrophil count decreased": 4, "white blood cell decreased": 4,
    "platelet count decreased": 4, "lymphocyte count increased": 3,
}
# Consistency findings that are data queries to chase, not reasons to refuse an import.
_QUERY_REASONS = ("missing censoring date", "CRE1 missing", "without a disease event",
                  "disease event after the last disease assessment",
                  "last alive before last disease assessment")


def _record_rules(rec: Incoming) -> list[tuple[str, Any, str]]:
    """Return (field, value, reason) for rules inside one record."""
    v = rec.values
    out: list[tuple[str, Any, str]] = []

    def both(a: str, b: str) -> bool:
        return v.get(a) is not None and v.get(b) is not None

    if rec.table == "treatment" and both("rt_start", "rt_end") and v["rt_end"] < v["rt_start"]:
        out.append(("rt_end", v["rt_end"], "RT end before RT start"))
    # Ranges of single values (CRE 1-14, grades 1-5, 0-100 %) are read from the CHECK constraints while
    # parsing.
    if rec.table == "pathology" and both("ln_positive",
                                         "ln_examined") and v["ln_positive"] > v["ln_examined"]:
        out.append(("ln_positive", v["ln_positive"], "more positive nodes than examined"))
    if rec.table == "adverse_events":
        grade, term = v.get("grade"), str(v.get("term") or "")
        if grade is not None and grade > CTCAE_MAX_GRADE.get(term.strip().lower(), 5):
            out.append(("grade", grade,
                        f"CTCAE v5.0 grades {term} only up to {CTCAE_MAX_GRADE[term.strip().lower()]}"))
        if both("onset_date", "end_date") and v["end_date"] < v["onset_date"]:
            out.append(("end_date", v["end_date"], "adverse event ends before its onset"))
        if v.get("ethics_reported_on") is not None and v.get("serious") is False:
            out.append(("ethics_reported_on", v["ethics_reported_on"],
                        "reporting date on a non-serious event"))
    if rec.table == "qol_responses":
        out += _qol_rules(v)
    return out


def _qol_rules(v: dict[str, Any]) -> list[tuple[str, Any, str]]:
    from analysis.qol import FACT_E_SUBSCALES

    item, value, instrument = str(v.get("item") or ""), v.get("value"), v.get("instrument")
    if instrument == "QLQ-C30":
        number = item.upper().lstrip("Q")
        if not number.isdigit() or not 1 <= int(number) <= 30:
            return [("item", item, "not a QLQ-C30 item (1-30)")]
        high = 7 if int(number) >= 29 else 4
        if value is not None and (value not in range(1, high + 1)):
            return [("value", value, f"QLQ-C30 item {number} is answered 1-{high}")]
    elif instrument == "FACT-E":
        if not any(item.upper() in items for items in FACT_E_SUBSCALES.values()):
            return [("item", item, "not a FACT-E v4 item")]
        if value is not None and value not in range(5):
            return [("value", value, "FACT-E items are answered 0-4")]
    return []


def natural_key(table: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """Return a record's natural key in ``table`` (``MODELS``), without the participant."""
    return tuple(values.get(k) for k in MODELS[table][1]) if table in MODELS else ()


def _merged_tables(current: dict[str, pd.DataFrame], records: list[Incoming]) -> dict[str, pd.DataFrame]:
    """Return the study's tables as they would be after applying the records."""
    import pandas as pd

    merged = dict(current)
    by_table: dict[str, list[Incoming]] = {}
    for rec in records:
        by_table.setdefault(rec.table, []).append(rec)
    for table, recs in by_table.items():
        frame = current[table]
        keys = ["participant_id", *MODELS[table][1]] if table in MODELS else ["participant_id"]
        rows = frame.to_dict("records")
        index = {tuple(norm(r.get(k)) for k in keys): i for i, r in enumerate(rows)}
        for rec in recs:
            values = {"participant_id": rec.participant, **rec.values}
            ident = tuple(norm(values.get(k)) for k in keys)
            if ident in index:
                rows[index[ident]].update(rec.values)
            elif table != "participants":
                index[ident] = len(rows)
                rows.append(values)
        merged[table] = pd.DataFrame(rows, columns=frame.columns)
    return merged


def norm(value: Any) -> Any:
    """Return a value as it compares across files and the database (NaN: None, Timestamp: date, 2.0: 2)."""
    import pandas as pd

    if value is None or (not isinstance(value, (str, bool)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def check_records(session: Session, study: Study, records: list[Incoming],
                  issues: list[Issue]) -> tuple[dict[str, Participant], list[Issue]]:
    """Add record-level and consistency problems to ``issues``; return participants by code and warnings."""
    from analysis.clinical_checks import check_consistency

    people = {p.code: p for p in session.scalars(select(Participant).where(Participant.study_id == study.id))}
    locks = {lock.participant_id: lock for lock in session.scalars(
        select(ClinicalLock).join(Participant).where(Participant.study_id == study.id))}
    seen: dict[tuple[Any, ...], Incoming] = {}
    known: list[Incoming] = []
    for rec in records:
        if rec.participant not in people:
            issues.append(Issue(rec.file, rec.row, rec.fields.get("participant_id", "participant_id"),
                                rec.participant, "unknown participant in this study"))
            continue
        if people[rec.participant].id in locks:
            lock = locks[people[rec.participant].id]
            issues.append(Issue(rec.file, rec.row, rec.fields.get("participant_id", "participant_id"),
                                rec.participant,
                                f"clinical data locked on {lock.locked_at:%Y-%m-%d} ({lock.reason})"))
            continue
        for name, value, reason in _record_rules(rec):
            issues.append(Issue(rec.file, rec.row, rec.fields.get(name, name), value, reason))
        if rec.table == "participants":
            issues += _participant_rules(rec, people[rec.participant])
        ident = (rec.table, rec.participant, *natural_key(rec.table, rec.values))
        if ident in seen:
            first = seen[ident]
            issues.append(Issue(rec.file, rec.row, ", ".join(MODELS[rec.table][1]) or "participant_id",
                                rec.participant, f"same {rec.table} record as {first.file} row {first.row}"))
            continue
        seen[ident] = rec
        known.append(rec)
    if issues:
        return people, []
    current = service.clinical_tables(session, study)
    merged = _merged_tables(current, known)
    imported = {r.participant for r in known}
    # Problems that were there before this import are not its fault.
    before = {(p.table, p.participant_id, p.field, str(p.value), p.reason)
              for p in check_consistency(current)}
    warnings: list[Issue] = []
    for problem in check_consistency(merged):
        if (problem.table, problem.participant_id, problem.field, str(problem.value),
            problem.reason) in before:
            continue
        if problem.participant_id not in imported:
            continue
        found = _find(known, problem.table, str(problem.participant_id), problem.field, problem.value)
        issue = Issue(found.file if found else problem.table, found.row if found else None,
                      found.fields.get(problem.field, problem.field) if found else problem.field,
                      problem.value, f"{problem.table}: {problem.reason}" + (
                          "" if found else f" (participant {problem.participant_id})"))
        if any(q in problem.reason for q in _QUERY_REASONS):
            warnings.append(issue)
        else:
            issues.append(issue)
    return people, warnings


def _find(records: list[Incoming], table: str, pid: str, column: str, value: Any) -> Incoming | None:
    """Return the incoming record a consistency problem points at (same table, participant and value)."""
    candidates = [r for r in records if r.table == table and r.participant == pid]
    for rec in candidates:
        if norm(rec.values.get(column)) == norm(value):
            return rec
    return candidates[0] if candidates else None


def _participant_rules(rec: Incoming, p: Participant) -> list[Issue]:
    out = []
    site = rec.values.get("site")
    if site is not None and site != p.site.code:
        out.append(Issue(rec.file, rec.row, rec.fields.get("site", "site"), site,
                         f"participant {p.code} is enrolled at site {p.site.code}"))
    enrolled = rec.values.get("enrol_date")
    if enrolled is not None and enrolled != p.enrolled_on:
        out.append(Issue(rec.file, rec.row, rec.fields.get("enrol_date", "enrol_date"), enrolled,
                         f"Trialbank has enrolment on {p.enrolled_on.isoformat()}"))
    return out
