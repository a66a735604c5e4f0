"""Validate and apply clinical imports all-or-nothing, with a report and an audit trail of changed values.

Readers (``lims.clinical.csvfiles.read_tables`` for Trialbank's per-table CSVs, ``lims.clinical.redcap`` for
EDC exports) turn files into ``Incoming`` records: a contract table, a participant code, parsed values, and
the file and row they came from. ``import_records`` then checks every record (``lims.clinical.import_checks``:
unknown participant, duplicate key, rules of the table, and the consistency of the data as it would be after
the import); if any problem is found nothing is written. Otherwise records are matched on their natural key
(``MODELS``): new ones are inserted, changed values updated, identical ones left alone, and every insert or
change is written to ``clinical_change`` under one ``clinical_import_run``. Records absent from a file are
left alone (an import never deletes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.accounts.service import sign
from lims.clinical import service
from lims.clinical.constraints import locate
from lims.clinical.csvfiles import TABLE_FIELDS, TABLE_ORDER, Incoming, Issue, read_tables
from lims.clinical.import_checks import check_records, natural_key, norm
from lims.clinical.models import MODELS, ClinicalChange, ImportRun
from lims.participants.models import Participant
from lims.studies.models import Study

_PARTICIPANT_ATTR = {"enrol_date": "enrolled_on"}


@dataclass
class ImportReport:
    """What an import found and did; ``applied`` is False when any problem blocked it."""

    format: str
    files: list[str]
    problems: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: int = 0
    run_id: int | None = None
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"format": self.format, "files": self.files, "applied": self.applied, "run_id": self.run_id,
                "records": self.records, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "changes": self.changes,
                "problems": [i.as_dict() for i in self.problems],
                "warnings": [i.as_dict() for i in self.warnings]}


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass
class _Plan:
    """What applying the records will write: rows to insert and values to update, per table, and the audit."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    insert_sources: dict[str, list[Incoming]] = field(default_factory=dict)  # the record of each insert
    update_sources: dict[str, list[Incoming]] = field(default_factory=dict)  # the record of each update
    changes: list[dict[str, Any]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)


def _plan(session: Session, records: list[Incoming], people: dict[str, Participant],
          report: ImportReport) -> _Plan:
    """Match records with stored rows on their natural key and work out every insert and changed value."""
    plan = _Plan()
    by_table: dict[str, list[Incoming]] = {}
    for rec in records:
        by_table.setdefault(rec.table, []).append(rec)
    for table in TABLE_ORDER:
        recs = by_table.get(table, [])
        if not recs:
            continue
        key = MODELS[table][1] if table in MODELS else ()
        existing = _stored(session, table, key, {people[r.participant].id for r in recs})
        for rec in recs:
            _plan_record(plan, report, table, key, rec, people[rec.participant], existing)
    report.changes = len(plan.changes)
    return plan


def _stored(session: Session, table: str, key: tuple[str, ...],
            ids: set[int]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Return the stored rows of ``table`` for these participants, by (participant id, *natural key)."""
    if table == "participants":
        columns = [_PARTICIPANT_ATTR.get(c, c) for c in TABLE_FIELDS[table] if c != "site"]
        stmt = select(Participant.id, Participant.id, *(getattr(Participant, c) for c in columns))
        stmt = stmt.where(Participant.id.in_(ids))
    else:
        model = MODELS[table][0]
        columns = list(TABLE_FIELDS[table])
        stmt = select(model.id, model.participant_id, *(getattr(model, c) for c in columns))  # type: ignore[attr-defined]
        stmt = stmt.where(model.participant_id.in_(ids))  # type: ignore[attr-defined]
    existing: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(stmt):
        in_db = dict(zip(columns, row[2:], strict=True))
        existing[(row[1], *(in_db[k] for k in key))] = {"id": row[0], **in_db}
    return existing


def _plan_record(plan: _Plan, report: ImportReport, table: str, key: tuple[str, ...], rec: Incoming,
                 p: Participant, existing: dict[tuple[Any, ...], dict[str, Any]]) -> None:
    """Plan one record: an insert when its key is new, else the values that changed (or nothing)."""
    ident = (p.id, *natural_key(table, rec.values))
    record_key = ", ".join(f"{k}={_text(v)}" for k, v in zip(key, ident[1:], strict=True)) or "-"
    stored = existing.get(ident)
    if stored is None:
        plan.inserts.setdefault(table, []).append({"participant_id": p.id, **rec.values})
        plan.insert_sources.setdefault(table, []).append(rec)
        existing[ident] = {"id": None, **rec.values}
        report.inserted += 1
        plan.touched.add(p.id)
        plan.changes.append({"participant_id": p.id, "table": table, "record_key": record_key, "field": "*",
                             "old_value": None,
                             "new_value": json.dumps({k: _text(v) for k, v in rec.values.items()})})
        return
    update: dict[str, Any] = {}
    for column, value in rec.values.items():
        if table == "participants" and column in ("site", "enrol_date"):
            continue
        attr = _PARTICIPANT_ATTR.get(column, column)
        old = stored.get(attr)
        if norm(old) == norm(value):
            continue
        update[attr] = value
        plan.changes.append({"participant_id": p.id, "table": table, "record_key": record_key,
                             "field": column, "old_value": _text(old), "new_value": _text(value)})
    if update:
        plan.updates.setdefault(table, []).append({"id": stored["id"], **update})
        plan.update_sources.setdefault(table, []).append(rec)
        stored.update(update)
        report.updated += 1
        plan.touched.add(p.id)
    else:
        report.unchanged += 1


def _model(table: str) -> Any:
    return Participant if table == "participants" else MODELS[table][0]


def _write(session: Session, plan: _Plan, run: ImportRun) -> None:
    """Write the plan in bulk: updates by primary key, inserts, then the audit rows under the run."""
    session.add(run)
    session.flush()
    for table in TABLE_ORDER:
        if plan.updates.get(table):
            session.execute(update(_model(table)), plan.updates[table])
        if plan.inserts.get(table):
            session.execute(insert(_model(table)), plan.inserts[table])
    session.execute(insert(ClinicalChange), [{"import_run_id": run.id, **c} for c in plan.changes])


def _apply(session: Session, study: Study, plan: _Plan, report: ImportReport, *, digest: str, by: User | None,
           signature: tuple[str, str] | None) -> bool:
    """Write the plan and sign the run in a savepoint; on a database refusal name the rows and write
    nothing."""
    run = ImportRun(study_id=study.id, format=report.format, filenames=report.files, sha256=digest,
                    by_id=by.id if by is not None else None,
                    inserted=report.inserted, updated=report.updated, unchanged=report.unchanged)
    try:
        with session.begin_nested():
            _write(session, plan, run)
            if signature is not None and by is not None:
                password, meaning = signature
                sign(session, by, password=password, meaning=meaning, record_type="clinical_import",
                     record_id=run.id,
                     content={"sha256": digest, "files": report.files, "changes": report.changes},
                     statement=f"I import {', '.join(report.files)} into {study.code}: {report.inserted} "
                               f"records added, {report.updated} updated")
            session.flush()
    except (IntegrityError, DataError):
        tables = {t: _model(t) for t in TABLE_ORDER if plan.inserts.get(t) or plan.updates.get(t)}
        report.problems = locate(session, plan, tables) or [
            Issue(", ".join(report.files), None, "", None,
                  "the database refused the import (no single row did)")]
        return False
    report.run_id = run.id
    return True


def import_records(session: Session, study: Study, records: list[Incoming], issues: list[Issue], *,
                   fmt: str, files: list[str], hashes: Iterable[str], by: User | None,
                   signature: tuple[str, str] | None = None) -> ImportReport:
    """Check the records and, if there is no problem, apply them in one unit of work; return the report.

    ``signature`` = (password, meaning) signs the import run electronically (``lims.core.permissions`` makes
    ``clinical.import`` a signed action; pages, API and CLI ask for it) before anything is written.
    ``by`` = None: scheduled work on nobody's behalf (the REDCap sync), recorded unsigned with no user.
    """
    if by is None and signature is not None:
        raise ValueError("an import on nobody's behalf cannot be signed")
    report = ImportReport(format=fmt, files=files, records=len(records))
    people, warnings = check_records(session, study, records, issues)
    report.problems = issues
    report.warnings = warnings
    if issues:
        return report
    plan = _plan(session, records, people, report)
    if plan.changes:
        digest = hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()
        if not _apply(session, study, plan, report, digest=digest, by=by, signature=signature):
            return report
        # Bulk statements bypass the identity map: reload what the session already holds.
        session.expire_all()
        for pid in sorted(plan.touched):
            service.sync_anchors(session, session.get(Participant, pid))  # type: ignore[arg-type]
    report.applied = True
    return report


def import_tables(session: Session, study: Study, files: dict[str, bytes], *, by: User,
                  signature: tuple[str, str] | None = None) -> ImportReport:
    """Import Trialbank per-table CSV files (``lims.clinical.csvfiles`` describes the format)."""
    records, issues, hashes = read_tables(files)
    return import_records(session, study, records, issues, fmt="tables", files=sorted(files), hashes=hashes,
                          by=by,
                          signature=signature)
