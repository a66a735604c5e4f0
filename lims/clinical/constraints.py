"""Name the row and field of a clinical import that the database refused.

Parsing already enforces every single-value rule (ranges come from the CHECK constraints, see
``lims.clinical.csvfiles``), so what the database can still refuse is a rule joining a new value with a stored
one (an RT end before the stored RT start, more positive nodes than the stored count). When the bulk write
fails, each planned row is written again on its own, inside savepoints that are always rolled back, and every
row the database refuses is reported with its file, row, field and the rule it breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import CheckConstraint, insert, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from lims.clinical.csvfiles import Incoming, Issue
from lims.core.errors import integrity_message


def _constraint(table: Any, message: str) -> CheckConstraint | None:
    """Return the CHECK constraint of ``table`` that an error message names, if any."""
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint) and constraint.name and str(constraint.name) in message:
            return constraint
    return None


def _columns(table: Any, constraint: CheckConstraint) -> list[str]:
    text = str(constraint.sqltext)
    return [c.name for c in table.columns if re.search(rf"\b{re.escape(c.name)}\b", text)]


def _issue(model: Any, rec: Incoming, values: dict[str, Any], exc: DBAPIError) -> Issue:
    table = model.__table__
    message = str(getattr(exc, "orig", exc))
    constraint = _constraint(table, message)
    if constraint is None:
        return Issue(rec.file, rec.row, "", None,
                     f"the database refuses this record: {integrity_message(exc)}")
    columns = _columns(table, constraint)
    field = next((c for c in columns if c in rec.values), columns[0] if columns else "")
    column = rec.fields.get(field, field)
    return Issue(rec.file, rec.row, column, values.get(field, rec.values.get(field)),
                 f"together with the values already stored, this breaks the rule {constraint.sqltext}")


def _attempts(plan: Any, models: dict[str, Any]) -> Iterator[tuple[Any, Any, Incoming, dict[str, Any]]]:
    for table, model in models.items():
        for row, rec in zip(plan.updates.get(table, []), plan.update_sources.get(table, []), strict=True):
            yield model, update(model), rec, row
        for row, rec in zip(plan.inserts.get(table, []), plan.insert_sources.get(table, []), strict=True):
            yield model, insert(model), rec, row


def locate(session: Session, plan: Any, models: dict[str, Any], limit: int = 200) -> list[Issue]:
    """Write the plan's rows one by one (rolled back) and return an issue for each the database refuses."""
    issues: list[Issue] = []
    with session.begin_nested() as outer:
        for model, statement, rec, row in _attempts(plan, models):
            try:
                with session.begin_nested():
                    session.execute(statement, [row])
            except (IntegrityError, DBAPIError) as exc:
                issues.append(_issue(model, rec, row, exc))
                if len(issues) >= limit:
                    break
        outer.rollback()
    return issues
