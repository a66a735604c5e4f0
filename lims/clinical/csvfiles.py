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
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Float, Integer

from lims.clinical.models import MODELS

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
    ("subsequent_treatments", "kind"): ("salvage_surgery", "systemic_therapy", "supportive_care", "radiotherapy"),
    **{("adverse_events", f"attribution_{t}"): ("unrelated", "unlikely", "possible", "probable", "definite")
       for t in ("rt", "chemo", "camrelizumab", "surgery")},
}


@dataclass(frozen=True)
class FieldSpec:
    """How to read one column: kind (date|int|float|bool|str), whether a value is required, allowed codes."""

    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()


def _spec_of(column: Any, table: str) -> FieldSpec:
    kind = ("date" if isinstance(column.type, Date) else "int" if isinstance(column.type, Integer)
            else "float" if isinstance(column.type, Float) else "bool" if isinstance(column.type, Boolean) else "str")
    return FieldSpec(kind, not column.nullable, _VOCAB.get((table, column.name), ()))


TABLE_FIELDS: dict[str, dict[str, FieldSpec]] = {
    table: {c.name: _spec_of(c, table) for c in model.__table__.columns if c.name not in ("id", "participant_id")}
    for table, (model, _key) in MODELS.items()
}
TABLE_FIELDS["participants"] = {
    "site": FieldSpec("str"), "enrol_date": FieldSpec("date"), "sex": FieldSpec("str", choices=("M", "F")),
    "age": FieldSpec("int"), "ecog": FieldSpec("int"),
    "tumour_location": FieldSpec("str", choices=("upper", "middle", "lower")),
    "ct": FieldSpec("str"), "cn": FieldSpec("str"), "cm": FieldSpec("str"), "stage": FieldSpec("str"),
}
TABLE_ORDER = ("participants", "treatment", "drug_doses", "allocation", "cre", "surgery", "pathology",
               "disease_events", "deaths", "last_contact", "adverse_events", "qol_responses", "subsequent_treatments")


@dataclass(frozen=True)
class Issue:
    """One problem of an import: where (file, row, field), what value, and why."""

    file: str
    row: int | None
    field: str
    value: Any
    reason: str

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


# ----- reading --------------------------------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Latin-1 (Windows-1252)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_csv(name: str, data: bytes, issues: list[Issue]) -> CsvFile:
    """Parse CSV bytes: sniff ',' or ';', drop empty rows, report rows with the wrong number of cells."""
    text = decode(data)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for line, cells in enumerate(reader, start=1):
        if not any(c.strip() for c in cells):
            continue
        if not header:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            issues.append(Issue(name, line, "", f"{len(cells)} cells", f"row has {len(cells)} cells, the header "
                                f"{len(header)}"))
            continue
        rows.append((line, [c.strip() for c in cells]))
    if not header:
        issues.append(Issue(name, None, "", None, "the file is empty"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    for h in dupes:
        issues.append(Issue(name, 1, h, h, "column appears more than once"))
    return CsvFile(name, header, rows, delimiter, hashlib.sha256(data).hexdigest())


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d", "%d-%b-%Y", "%d %b %Y", "%d-%m-%Y")


def parse_date(text: str, day_first: bool = True) -> date:
    """Parse a date in ISO or a common day-first (or, with ``day_first=False``, month-first) form."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?", text):
        text = text[:10]
    formats = _DATE_FORMATS + (("%d/%m/%Y",) if day_first else ("%m/%d/%Y",))
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date (use YYYY-MM-DD)")


_TRUE = {"1", "yes", "y", "true", "t", "checked"}
_FALSE = {"0", "no", "n", "false", "f", "unchecked"}


def parse_value(text: str, spec: FieldSpec, *, decimal_comma: bool = False, day_first: bool = True) -> Any:
    """Turn a cell into a typed value (None for an empty cell); raise ValueError with the reason."""
    if text == "":
        if spec.required:
            raise ValueError("a value is required")
        return None
    if spec.kind == "date":
        return parse_date(text, day_first)
    if spec.kind in ("int", "float"):
        number = text.replace(",", ".") if decimal_comma else text
        try:
            value = float(number)
        except ValueError:
            raise ValueError("not a number") from None
        if spec.kind == "int":
            if not value.is_integer():
                raise ValueError("not a whole number")
            return int(value)
        return value
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
        if csv_file.header and "participant_id" not in csv_file.header:
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
                    values[column] = parse_value(row[column], spec[column], decimal_comma=csv_file.delimiter == ";")
                except ValueError as exc:
                    issues.append(Issue(name, line, column, row[column], str(exc)))
            records.append(Incoming(table, row["participant_id"].strip().upper(), values, name, line,
                                    {c: c for c in columns}))
    return records, issues, hashes
