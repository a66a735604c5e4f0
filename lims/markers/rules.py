"""The row rules of a results import: each a small named rule (the field it checks, what it checks, a
vectorised test over all rows, and the reason given for a refused row), applied in order by :func:`apply`.

Every problem a rule finds names the rule (``Problem.rule``), so a user can tell which rule refused the row.
The cells are first read into :class:`Rows` (samples resolved, units paired, numbers parsed: see
:mod:`lims.markers.cells`); the rules only decide. Duplicates are decided across the whole file
(:data:`FILE_RULES`), once every chunk has been read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lims.core.fields import DATE_REASON
from lims.markers.report import MAX_LISTED, ImportReport, Problem

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

CONSENT_OK, CONSENT_WITHDRAWN, CONSENT_NO_SCOPE, CONSENT_NO_GENETIC = 0, 1, 2, 3
META_LENGTHS = {"run_id": 60, "batch_id": 60, "plate_id": 60, "operator": 80}


@dataclass
class Rows:
    """The rows of one chunk (or, for the file rules, of the whole file) as arrays the rules test.

    ``frame`` holds what the report shows (``_row``, the cells, ``_column`` of a wide file); ``a`` holds the
    derived arrays by name (``known_sample``, ``numbers``, ``qualifier``, ...), one value per row.
    """

    source: pd.DataFrame | Callable[[], pd.DataFrame]  # the frame, or how to build it if a rule refuses rows
    a: dict[str, Any]
    n: int
    markers: list[Any] = field(default_factory=list)
    type_codes: list[str] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        if callable(self.source):
            self.source = self.source()
        return self.source


Mask = Callable[[Rows], "np.ndarray"]
Reasons = Callable[[Rows, "np.ndarray"], "np.ndarray"]


@dataclass(frozen=True)
class Rule:
    """One row rule: ``test`` marks the rows it refuses; ``why`` is the reason, fixed or per refused row."""

    name: str
    column: str
    checks: str
    test: Mask
    why: str | Reasons


def flag(report: ImportReport, frame: pd.DataFrame, idx: np.ndarray, column: str, reasons: Any,
         rule: str | None = None) -> None:
    """Record a problem for each refused row ``idx`` (``reasons``: a string, or one per refused row)."""
    import numpy as np

    rows = frame["_row"].to_numpy()[idx]
    cols = frame["_column"].to_numpy()[idx] if "_column" in frame.columns else None
    values = frame[column].to_numpy()[idx] if column in frame.columns else None
    if values is not None and column == "value" and "_value_num" in frame.columns:  # plain numbers: no text
        numbers = frame["_value_num"].to_numpy()[idx]
        values = np.array([f"{numbers[k]:g}" if values[k] is None else values[k] for k in range(idx.size)],
                          dtype=object)
    for k in range(idx.size):
        if len(report.problems) >= MAX_LISTED:
            report.problem_count += idx.size - k
            return
        shown = column if cols is None or column not in ("value", "unit", "marker") else str(cols[k])
        report.add(Problem(report.filename, int(rows[k]), shown, None if values is None else str(values[k]),
                           str(reasons if isinstance(reasons, str) else reasons[k]), rule))


def apply(rules: list[Rule], rows: Rows, report: ImportReport) -> np.ndarray:
    """Apply the rules in order, recording every refused row; return the mask of refused rows."""
    import numpy as np

    bad = np.zeros(rows.n, dtype=bool)
    for rule in rules:
        mask = rule.test(rows)
        idx = np.flatnonzero(mask)
        if idx.size:
            flag(report, rows.frame, idx, rule.column, rule.why if isinstance(rule.why, str)
                 else rule.why(rows, idx), rule.name)
            bad |= mask
    return bad


def _per_row(column: str) -> Reasons:
    """Reasons already worked out per row (once per distinct value) while reading: ``a[column]``."""
    return lambda rows, idx: rows.a[column][idx]


def _wrong_type(rows: Rows, idx: np.ndarray) -> np.ndarray:
    import numpy as np

    out = []
    for m, t in zip(rows.a["marker_pos"][idx].tolist(), rows.a["type_idx"][idx].tolist(), strict=True):
        marker = rows.markers[m]
        out.append(f"{marker.code} is measured on {', '.join(marker.specimen_types) or 'no specimen type'}, "
                   f"not {rows.type_codes[t]}")
    return np.array(out, dtype=object)


def _duplicate(rows: Rows, idx: np.ndarray) -> np.ndarray:
    import numpy as np
    import pandas as pd

    first = pd.Series(rows.a["row"]).groupby(rows.a["key"], sort=False).transform("first").to_numpy()
    return np.array([f"duplicate of row {r} in this file (same sample and marker); mark it remeasurement=yes"
                     for r in first[idx].tolist()], dtype=object)


def _consent(verdict: int) -> Mask:
    return lambda r: r.a["known_sample"] & (r.a["verdicts"] == verdict)


def _too_long(column: str, limit: int) -> Rule:
    return Rule(f"{column}-length", column, f"{column} has at most {limit} characters",
                lambda r: r.a["lengths"][column] > limit, f"longer than {limit} characters")


ROW_RULES: list[Rule] = [
    Rule("sample-exists", "sample", "the sample ID is a well-formed accession of a sample that exists",
         lambda r: ~r.a["known_sample"], _per_row("sample_why")),
    Rule("consent-withdrawn", "sample", "the participant has not withdrawn consent",
         _consent(CONSENT_WITHDRAWN), "the participant has withdrawn consent: no results may be added"),
    Rule("consent-marker-research", "sample", "the participant's consent covers marker research",
         _consent(CONSENT_NO_SCOPE), "the participant's consent does not cover marker research"),
    Rule("consent-genetic", "sample", "consent covers genetic research when the sample type is genetic",
         _consent(CONSENT_NO_GENETIC), "the participant's consent does not cover genetic research, and this "
         "sample type is genetic material"),
    Rule("marker-in-catalogue", "marker", "the marker is in the catalogue",
         lambda r: ~r.a["known_marker"], "no such marker in the catalogue"),
    Rule("marker-specimen-type", "sample", "the marker is measured on the sample's type",
         lambda r: r.a["known_sample"] & r.a["known_marker"] & ~r.a["type_allowed"], _wrong_type),
    Rule("unit-converts", "unit", "the unit converts to the marker's catalogue unit",
         lambda r: r.a["known_marker"] & (r.a["unit_why"] != ""), _per_row("unit_why")),
    Rule("value-number", "value", "the value is a number, empty, or a qualifier",
         lambda r: r.a["kind"] == "bad", "not a number"),
    Rule("qualifier-spelling", "qualifier", "the qualifier is <LOD, >ULOQ or NA",
         lambda r: r.a["bad_qualifier"], "qualifier must be <LOD, >ULOQ or NA"),
    Rule("value-finite", "value", "the value is finite (not NaN or infinity)",
         lambda r: r.a["infinite"], "not a finite number: NaN and infinity are not results (leave the value "
         "empty with qualifier NA)"),
    Rule("value-or-qualifier", "value", "a row has a value or a qualifier",
         lambda r: r.a["no_value"], "no value and no qualifier (<LOD, >ULOQ or NA)"),
    Rule("qualifier-na-empty", "value", "qualifier NA comes without a value",
         lambda r: r.a["na_with_value"], "qualifier NA means no value, but a value was given"),
    Rule("value-converts", "value", "the value stays finite once converted to the catalogue unit",
         lambda r: r.a["overflow"], "too large once converted to the catalogue unit"),
    Rule("assay-date", "assay_date", f"the assay date is {DATE_REASON}",
         lambda r: r.a["bad_date"], f"not {DATE_REASON} (use YYYY-MM-DD)"),
    Rule("remeasurement-yes-no", "remeasurement", "the re-measurement flag is yes or no",
         lambda r: r.a["bad_flag"], "use yes or no"),
    *[_too_long(column, limit) for column, limit in META_LENGTHS.items()],
]

FILE_RULES: list[Rule] = [
    Rule("duplicate-in-file", "sample", "a sample and marker appear once in the file, unless re-measured",
         lambda r: r.a["ok"] & (r.a["rank"] > 0) & ~r.a["flagged"],
         _duplicate),
    Rule("duplicate-stored", "sample", "a sample and marker without a stored result, unless re-measured",
         lambda r: r.a["ok"] & (r.a["rank"] == 0) & (r.a["prior"] > 0) & ~r.a["flagged"],
         "this sample already has a stored result for the marker; mark it remeasurement=yes to add a "
         "re-measurement"),
    Rule("remeasurement-of-something", "remeasurement", "a re-measurement follows an earlier result",
         lambda r: r.a["ok"] & r.a["flagged"] & (r.a["replicate"] == 1),
         "marked as a re-measurement, but there is no earlier result for this sample and marker"),
]
