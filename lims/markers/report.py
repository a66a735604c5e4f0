"""What a results import found: each problem (file, row, column, value, reason) and the refusal carrying
them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lims.core.errors import DomainError

MAX_LISTED = 500
SHOWN_VALUE = 200  # characters of a refused value echoed in the report


@dataclass
class Problem:
    """One reason a row (or the file) was refused."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str
    rule: str | None = None  # the row rule that refused the row (lims.markers.rules); None for the file


@dataclass
class ImportReport:
    """What an import did or why it was refused."""

    filename: str
    layout: str
    rows: int = 0
    results: int = 0
    remeasurements: int = 0
    converted: int = 0
    qualified: int = 0
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    import_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if problem.value is not None and len(problem.value) > SHOWN_VALUE:
            problem.value = f"{problem.value[:SHOWN_VALUE]}… ({len(problem.value):,} characters)"
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


class ImportFailed(DomainError):
    """The file was refused; ``report`` says which rows and why. Nothing was written."""

    status = 422

    def __init__(self, report: ImportReport) -> None:
        first = report.problems[0] if report.problems else None
        where = f" (row {first.row}, {first.column}: {first.reason})" if first else ""
        super().__init__(f"{report.filename}: {report.problem_count} problem(s), nothing imported{where}")
        self.report = report
