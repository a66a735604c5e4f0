"""Reading clinical data files: encodings, delimiters, dates, typed values, and Trialbank's per-table CSVs.

Trialbank's own format: one CSV per table named ``<table>.csv`` (``participants``, ``treatment``,
``drug_doses``, ``allocation``, ``cre``, ``surgery``, ``pathology``, ``disease_events``, ``deaths``,
``last_contact``, ``adverse_events``, ``qol_responses``, ``subsequent_treatments``), a header row with
``participant_id`` (the code, e.g. ``ZJ-014``) and any of the table's columns (``TABLE_FIELDS``). Dates are
ISO (``2025-01-31``); ``31/01/2025``, ``31.01.2025``, ``20250131`` and ``31-Jan-2025`` are accepted too.
Booleans are 1/0, yes/no or true/false. Comma or semicolon delimiters (with a semicolon, decimal commas),
UTF-8 (with or without BOM) or Latin-1. An empty cell clears the value; a column absent from the file leaves
the stored value alone. Empty rows are skipped; unknown columns are reported, never silently dropped.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Float, Integer

from lims.clinical.models import MODELS
from lims.core.fields import MAX_INT, date_problem, number_problem
from lims.core.spreadsheet import TextError, decode_text, restore
from lims.participants.models import Participant

MAX_CELL = 32_768  # characters in one cell (Excel's own limit); a longer cell is refused, never truncated
SHOWN_VALUE = 200  # characters of a refused value echoed in a report
_VOCAB: dict[tuple[str, str], tuple[str, ...]] = {
    ("participants", "sex"): ("M", "F"),
    ("participants", "tumour_location"): ("upper", "middle", "lower"),
    ("drug_doses", "agent"): ("carboplatin", "paclitaxel", "camrelizumab"),
    ("drug_doses", "phase"): ("neoadjuvant", "maintenance"),
    ("allocation", "stratum"): ("NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW"),
    ("allocation", "actual_strategy"): ("surgery", "watch_and_wait", "none"),
    ("cre", "overall"): ("cCR", "local", "regional", "distant", "not_evaluable"),
    ("cre", "endoscopy_histology"): ("tumour", "none", "non_diagnostic"),
    ("cre", "fna_result"): ("malignant", "benign", "non_diagnostic", "not_done"),
    ("surgery", "intent"): ("planned", "salvage"),
    ("surgery", "r_status"): ("R0", "R1", "R2", "unresectable"),
    ("surgery", "clavien_dindo"): ("0", "I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"),
    ("pathology", "trg_system"): ("Mandard", "Becker", "CAP", "Chirieac"),
    ("disease_events", "type"): ("LOCAL_REGROWTH", "LOCAL_RECURRENCE", "REGIONAL", "DISTANT",
                                 "PROGRESSION_PRECLUDING_SURGERY", "SECOND_PRIMARY"),
    ("disease_events", "proof"): ("histology", "cytology", "imaging"),
    ("disease_events", "site"): ("local", "regional", "distant"),
    ("disease_events", "salvage_r_status"): ("R0", "R1", "R2", "unresectable"),
    ("deaths", "cause"): ("disease", "treatment", "other", "unknown"),
    ("qol_responses", "instrument"): ("QLQ-C30", "FACT-E"),
    ("subsequent_treatments",
     "kind"): ("salvage_surgery", "systemic_therapy", "supportive_care", "radiotherapy"),
    **{("adverse_events", f"attribution_{t}"): ("unrelated", "unlikely", "possible", "probable", "definite")
       for t in ("rt", "chemo", "camrelizumab", "surgery")},
}


@dataclass(frozen=True)
class FieldSpec:
    """How to read one column: kind (date|int|float|bool|str), whether a value is required, allowed codes,
    the range of a number (from the table's CHECK constraints) and the length of a text (its column's)."""

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    max_length: int = MAX_CELL


_BOUND = re.compile(r"\b(\w+)\s*(>=|<=)\s*(-?\d+(?:\.\d+)?)(?![\w.])")


def _bounds(table: Any) -> dict[str, tuple[float | None, float | None]]:
    """Read each column's numeric range from the table's CHECK constraints (the database owns the rule)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    for constraint in table.constraints:
        if isinstance(constraint, CheckConstraint):
            for column, op, number in _BOUND.findall(str(constraint.sqltext)):
                low, high = out.get(column, (None, None))
                out[column] = (float(number), high) if op == ">=" else (low, float(number))
    return out


def _spec_of(column: Any, table: str, bounds: dict[str, tuple[float | None, float | None]]) -> FieldSpec:
    kind = ("date" if isinstance(column.type, Date) else "int" if isinstance(column.type, Integer)
            else "float" if isinstance(column.type, Float) else "bool" if isinstance(column.type, Boolean)
            else "str")
    low, high = bounds.get(column.name, (None, None))
    if kind == "int":
        low, high = max(low if low is not None else -MAX_INT,
                        -MAX_INT), min(high if high is not None else MAX_INT,
                                                                             MAX_INT)
    length = getattr(column.type, "length", None) if kind == "str" else None
    return FieldSpec(kind, not column.nullable, _VOCAB.get((table, column.name), ()), low, high,
                     min(length or MAX_CELL, MAX_CELL))


def _table_specs(table_name: str, table: Any, columns: dict[str, str]) -> dict[str, FieldSpec]:
    """Return the specs of a table's contract columns (contract name -> model column name)."""
    bounds = _bounds(table)
    return {name: _spec_of(table.c[column], table_name, bounds) for name, column in columns.items()}


TABLE_FIELDS: dict[str, dict[str, FieldSpec]] = {
    table: _table_specs(table, model.__table__, {c.name: c.name for c in model.__table__.columns
                                                 if c.name not in ("id", "participant_id")})
    for table, (model, _key) in MODELS.items()
}
TABLE_FIELDS["participants"] = {
    "site": FieldSpec("str", max_length=20),
    **_table_specs("participants", Participant.__table__, {
        "enrol_date": "enrolled_on", "sex": "sex", "age": "age", "ecog": "ecog",
        "tumour_location": "tumour_location",
        "ct": "ct", "cn": "cn", "cm": "cm", "stage": "stage"}),
}
TABLE_ORDER = ("participants", "treatment", "drug_doses", "allocation", "cre", "surgery", "pathology",
               "disease_events", "deaths", "last_contact", "adverse_events", "qol_responses",
               "subsequent_treatments")


@dataclass(frozen=True)
class Issue:
    """One problem of an import: where (file, row, field), what value, and why."""

    file: str
    row: int | None
    field: str
    value: Any
    reason: str

    def __post_init__(self) -> None:
        if isinstance(self.value, str) and len(self.value) > SHOWN_VALUE:  # never echo a huge cell back
            object.__setattr__(self, "value", f"{self.value[:SHOWN_VALUE]}… ({len(self.value):,} characters)")

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "field": self.field,
                "value": None if self.value is None else str(self.value), "reason": self.reason}


@dataclass
class Incoming:
    """One record read from a file, with its parsed values (only the columns the file provides)."""

    table: str
    participant: str
    values: dict[str, Any]
    file: str
    row: int
    fields: dict[str, str] = field(default_factory=dict)  # contract column -> the file's column name


@dataclass
class CsvFile:
    """A decoded CSV: header, data rows with their line numbers, and the delimiter found."""

    name: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str
    sha256: str


# ----- reading ----------------------------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """Decode a text file (:func:`lims.core.spreadsheet.decode_text`); raise TextError naming the line."""
    return decode_text(data)


def read_csv(name: str, data: bytes, issues: list[Issue]) -> CsvFile:
    """Parse CSV bytes: sniff ',' or ';', drop empty rows, report rows with the wrong number of cells.

    Any line end (LF, CR LF, CR) is read; a file that cannot be decoded, holds NUL characters, is not valid
    CSV or has a cell longer than ``MAX_CELL`` is reported with its line, and none of its rows are used.
    """
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = decode(data)
    except TextError as exc:
        issues.append(Issue(name, exc.line, "", exc.value, exc.reason))
        return CsvFile(name, [], [], ",", digest)
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        issues.append(Issue(name, line, "", None,
                            "the file holds NUL characters: it is not a text (CSV) file"))
        return CsvFile(name, [], [], ",", digest)
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    line = 0
    try:
        with _any_cell_size():
            for line, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter),
                                         start=1):
                if not any(c.strip() for c in cells):
                    continue
                cells = [restore(c.strip()) for c in cells]
                if not header:
                    header = cells
                elif len(cells) != len(header):
                    issues.append(Issue(name, line, "", f"{len(cells)} cells",
                                        f"row has {len(cells)} cells, the header {len(header)}"))
                elif not _cells_fit(name, line, header, cells, issues):
                    continue
                else:
                    rows.append((line, cells))
    except csv.Error as exc:
        issues.append(Issue(name, line + 1, "", None, f"not valid CSV: {exc}"))
        return CsvFile(name, [], [], delimiter, digest)
    if not header:
        issues.append(Issue(name, None, "", None, "the file is empty"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    for h in dupes:
        issues.append(Issue(name, 1, h, h, "column appears more than once"))
    return CsvFile(name, header, rows, delimiter, digest)


@contextmanager
def _any_cell_size() -> Iterator[None]:
    """Let the csv module read a cell of any size, so that its length is judged here, with its column.

    The module's limit is process-wide (and other libraries raise it); it is put back afterwards.
    """
    before = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _cells_fit(name: str, line: int, header: list[str], cells: list[str], issues: list[Issue]) -> bool:
    """Report the cells of a row longer than ``MAX_CELL``; tell whether the row can be used."""
    long = [(column, cell) for column, cell in zip(header, cells, strict=False) if len(cell) > MAX_CELL]
    for column, cell in long:
        issues.append(Issue(name, line, column, cell,
                            f"a cell of {len(cell):,} characters (at most {MAX_CELL:,})"))
    return not long


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d", "%d-%b-%Y", "%d %b %Y", "%d-%m-%Y")
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_date(text: str, day_first: bool = True) -> date:
    """Parse a date in ISO or a common day-first (or, with ``day_first=False``, month-first) form.

    An ISO date with a time (``2025-03-04T10:30``) is read as its date once the time is checked to be one.
    """
    text = text.strip()
    stamped = _DATE_TIME.fullmatch(text)
    if stamped:
        try:
            time.fromisoformat(stamped[2].zfill(5) if len(stamped[2]) == 4 else stamped[2])
        except ValueError:
            raise ValueError(f"not a time of day: {stamped[2]}") from None
        text = stamped[1]
    formats = _DATE_FORMATS + (("%d/%m/%Y",) if day_first else ("%m/%d/%Y",))
    for fmt in formats:
        try:
            parsed = datetime.strptime(text, fmt).date()  # noqa: DTZ007 - only the calendar date is kept
        except ValueError:
            continue
        problem = date_problem(parsed)
        if problem:
            raise ValueError(problem)
        return parsed
    raise ValueError("not a date (use YYYY-MM-DD)")


_TRUE = {"1", "yes", "y", "true", "t", "checked"}
_FALSE = {"0", "no", "n", "false", "f", "unchecked"}


def _number(text: str, spec: FieldSpec, decimal_comma: bool) -> int | float:
    number = text.replace(",", ".") if decimal_comma else text
    if not _NUMBER.fullmatch(number):
        if number.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise ValueError("not a finite number: NaN and infinity are not values (leave the cell empty)")
        raise ValueError("not a number")
    value = float(number)
    problem = number_problem(value, spec.low, spec.high)
    if problem:
        raise ValueError(problem)
    if spec.kind == "int":
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    return value


def parse_value(text: str, spec: FieldSpec, *, decimal_comma: bool = False, day_first: bool = True) -> Any:
    """Turn a cell into a typed value (None for an empty cell); raise ValueError with the reason."""
    if text == "":
        if spec.required:
            raise ValueError("a value is required")
        return None
    if spec.kind == "date":
        return parse_date(text, day_first)
    if spec.kind in ("int", "float"):
        return _number(text, spec, decimal_comma)
    if spec.kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("not yes/no (1/0)")
    if spec.choices and text not in spec.choices:
        match = [c for c in spec.choices if c.lower() == text.lower()]
        if len(match) == 1:
            return match[0]
        raise ValueError(f"not one of {', '.join(spec.choices)}")
    if len(text) > spec.max_length:
        raise ValueError(f"longer than {spec.max_length} characters")
    return text


def read_tables(files: dict[str, bytes]) -> tuple[list[Incoming], list[Issue], list[str]]:
    """Read Trialbank per-table CSVs named ``<table>.csv``; return records, problems and file hashes."""
    records: list[Incoming] = []
    issues: list[Issue] = []
    hashes: list[str] = []
    for name, data in sorted(files.items()):
        table = re.sub(r"\.(csv|txt)$", "", name.rsplit("/", 1)[-1], flags=re.IGNORECASE).lower()
        if table not in TABLE_FIELDS:
            issues.append(Issue(name, None, "", name, f"unknown table; name the file one of "
                                f"{', '.join(t + '.csv' for t in TABLE_ORDER)}"))
            continue
        csv_file = read_csv(name, data, issues)
        hashes.append(csv_file.sha256)
        spec = TABLE_FIELDS[table]
        if not csv_file.header:
            continue
        if "participant_id" not in csv_file.header:
            issues.append(Issue(name, 1, "participant_id", None, "no participant_id column"))
            continue
        for column in csv_file.header:
            if column != "participant_id" and column not in spec:
                issues.append(Issue(name, 1, column, column, f"unknown column for table {table}"))
        missing = [c for c, s in spec.items() if s.required and c not in csv_file.header]
        for column in missing:
            issues.append(Issue(name, 1, column, None, f"required column missing from table {table}"))
        if missing:
            continue
        columns = [c for c in csv_file.header if c in spec]
        for line, cells in csv_file.rows:
            row = dict(zip(csv_file.header, cells, strict=True))
            values: dict[str, Any] = {}
            for column in columns:
                try:
                    values[column] = parse_value(row[column], spec[column],
                                                 decimal_comma=csv_file.delimiter == ";")
                except ValueError as exc:
                    issues.append(Issue(name, line, column, row[column], str(exc)))
            records.append(Incoming(table, row["participant_id"].strip().upper(), values, name, line,
                                    {c: c for c in columns}))
    return records, issues, hashes
