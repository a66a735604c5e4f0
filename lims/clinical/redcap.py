"""REDCap-style flat exports: read them through a mapping file into import records, and write them back out.

A flat export has one row per ``record_id`` x ``redcap_event_name`` (x ``redcap_repeat_instrument`` /
``redcap_repeat_instance`` for repeating forms), raw codes, and checkbox fields as ``field___code`` columns.
The mapping file (YAML, see ``redcap_mapping.yaml`` shipped for the ESCC-WW project) says which EDC field
feeds which Trialbank attribute, which event is which time point, and how raw codes translate.
"""

from __future__ import annotations

import fnmatch
import hashlib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lims.accounts.models import User
from lims.clinical import service
from lims.clinical.csvfiles import TABLE_FIELDS, CsvFile, FieldSpec, Incoming, Issue, parse_value, read_csv
from lims.clinical.importer import ImportReport, import_records
from lims.clinical.mapping import Form, Mapping, load_mapping
from lims.core.errors import DomainError
from lims.core.spreadsheet import csv_text
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MAPPING = Path(__file__).with_name("redcap_mapping.yaml")
_META = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")


def _cre_number(timepoint: str | None) -> int | None:
    if timepoint and timepoint.upper().startswith("CRE") and timepoint[3:].isdigit():
        return int(timepoint[3:])
    return None


def read_redcap(name: str, data: bytes, mapping: Mapping, issues: list[Issue]) -> tuple[list[Incoming], str]:
    """Turn a REDCap flat export into import records; return them and the file's SHA-256."""
    csv_file = read_csv(name, data, issues)
    header = csv_file.header
    if header and mapping.record_id not in header:
        issues.append(Issue(name, 1, mapping.record_id, None,
                            "no record_id column (see the mapping's record_id)"))
        return [], csv_file.sha256
    known = {mapping.record_id, *_META}
    checkbox_groups = set()
    for form in mapping.forms:
        known.update(form.columns())
        checkbox_groups.update(form.checkboxes())
    for column in header:
        if column in known or any(fnmatch.fnmatch(column, p) for p in mapping.ignore):
            continue
        if "___" in column and column.split("___", 1)[0] in checkbox_groups:
            continue
        issues.append(Issue(name, 1, column, column,
                            "column not in the mapping (add it to the mapping or to ignore)"))
    repeats = {form.repeat for form in mapping.forms if form.repeat}
    records: list[Incoming] = []
    for line, cells in csv_file.rows:
        row = dict(zip(header, cells, strict=True))
        pid = row.get(mapping.record_id, "").strip().upper()
        event = row.get("redcap_event_name", "")
        if not pid:
            issues.append(Issue(name, line, mapping.record_id, "", "no record_id"))
            continue
        if event not in mapping.events:
            issues.append(Issue(name, line, "redcap_event_name", event, "event not in the mapping"))
            continue
        timepoint = mapping.events[event]
        repeat = row.get("redcap_repeat_instrument", "")
        if repeat and repeat not in repeats:
            issues.append(Issue(name, line, "redcap_repeat_instrument", repeat,
                                "repeating form not in the mapping"))
            continue
        for form in mapping.forms:
            if (form.repeat or "") != repeat:
                continue
            if form.event is not None and form.event != event:
                continue
            if form.timepoint_events and timepoint is None:
                continue
            records += _read_form(form, row, csv_file, line, pid, timepoint, mapping, issues)
    return records, csv_file.sha256


def _cell(form: Form, attr: str, src: Any, row: dict[str, str], name: str, line: int,
          issues: list[Issue]) -> tuple[str, str]:
    """Return (column, raw text) of an attribute, resolving checkbox groups to the one ticked code."""
    if isinstance(src, dict):
        group = src["checkbox"]
        ticked = [c.split("___", 1)[1] for c, v in row.items() if c.startswith(f"{group}___") and v.strip()
                  == "1"]
        if len(ticked) > 1:
            issues.append(Issue(name, line, group, ",".join(ticked),
                                f"more than one option ticked for {attr}"))
            return group, ""
        return group, ticked[0] if ticked else ""
    return src, row.get(src, "")


def _convert(form: Form, attr: str, raw: str, spec: FieldSpec, column: str, csv_file: CsvFile, line: int,
             mapping: Mapping, issues: list[Issue]) -> tuple[bool, Any]:
    if raw != "" and attr in form.codes:
        if raw not in form.codes[attr]:
            issues.append(Issue(csv_file.name, line, column, raw,
                                f"code not in the dictionary of {column} ({', '.join(form.codes[attr])})"))
            return False, None
        raw = form.codes[attr][raw]
    try:
        return True, parse_value(raw, spec, decimal_comma=csv_file.delimiter == ";",
                                 day_first=mapping.day_first)
    except ValueError as exc:
        issues.append(Issue(csv_file.name, line, column, raw, str(exc)))
        return False, None


def _read_form(form: Form, row: dict[str, str], csv_file: CsvFile, line: int, pid: str, timepoint: str | None,
               mapping: Mapping, issues: list[Issue]) -> list[Incoming]:
    specs = TABLE_FIELDS[form.table]
    cells = {attr: _cell(form, attr, src, row, csv_file.name, line, issues)
             for attr, src in form.fields.items() if not (isinstance(src, str) and src.startswith("@"))}
    item_cells = {item: row.get(f"{form.prefix}{item.lower()}", "") for item in form.items}
    if not any(raw for _, raw in cells.values()) and not any(item_cells.values()):
        return []  # the form was not filled on this row
    values: dict[str, Any] = {}
    columns: dict[str, str] = {"participant_id": mapping.record_id}
    for attr, src in form.fields.items():
        if src == "@cre":
            number = _cre_number(timepoint)
            if number is None:
                issues.append(Issue(csv_file.name, line, "redcap_event_name", row.get("redcap_event_name"),
                                    "this event is no CRE time point"))
                return []
            values[attr] = number
            columns[attr] = "redcap_event_name"
            continue
        if src == "@timepoint":
            values[attr] = timepoint
            columns[attr] = "redcap_event_name"
            continue
        column, raw = cells[attr]
        ok, value = _convert(form, attr, raw, specs[attr], column, csv_file, line, mapping, issues)
        if ok:
            values[attr] = value
        columns[attr] = column
    if not form.items:
        return [Incoming(form.table, pid, values, csv_file.name, line, columns)]
    out = []
    value_spec = FieldSpec("float")
    for item, raw in item_cells.items():
        column = f"{form.prefix}{item.lower()}"
        ok, value = _convert(form, "value", raw, value_spec, column, csv_file, line, mapping, issues)
        out.append(Incoming(form.table, pid, {**values, "instrument": form.instrument, "timepoint": timepoint,
                                              "item": item, "value": value if ok else None},
                            csv_file.name, line, {**columns, "value": column, "item": column}))
    return out


# ----- writing ----------------------------------------------------------------------------------------------
def _raw(value: Any, codes: dict[str, str] | None) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    if codes:
        inverse = {v: c for c, v in codes.items()}
        return inverse.get(text, text)
    return text


def write_redcap(tables: dict[str, pd.DataFrame], mapping: Mapping) -> bytes:
    """Write clinical tables as a REDCap-style flat export that ``read_redcap`` reads back through
    ``mapping``."""
    export = _Export()
    columns: list[str] = [mapping.record_id, *_META]
    for form in mapping.forms:
        _add_columns(columns, form)
        frame = tables.get(form.table)
        if frame is None or frame.empty:
            continue
        if form.items:
            _put_answers(export, form, frame, mapping)
        else:
            _put_records(export, form, frame, mapping)
    order = {e: i for i, e in enumerate(mapping.events)}
    ordered = sorted(export.rows.items(),
                     key=lambda kv: (kv[0][0], order.get(kv[0][1], 0), kv[0][2], int(kv[0][3] or 0)))
    return csv_text(columns, ([pid, event, repeat, instance, *(values.get(c, "") for c in columns[4:])]
                              for (pid, event, repeat, instance), values in ordered),
                    lineterminator="\n").encode("utf-8")


class _Export:
    """The rows of a flat export by (record, event, repeat instrument, instance), numbering repeats."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str, str], dict[str, str]] = {}
        self.instances: dict[tuple[str, str], int] = {}

    def put(self, pid: str, event: str, repeat: str, values: dict[str, str]) -> None:
        """Add values to the record's row of ``event``; a repeating instrument starts a new instance."""
        instance = ""
        if repeat:
            self.instances[(pid, repeat)] = self.instances.get((pid, repeat), 0) + 1
            instance = str(self.instances[(pid, repeat)])
        self.rows.setdefault((pid, event, repeat, instance), {}).update(values)


def _add_columns(columns: list[str], form: Form) -> None:
    """Add a form's export columns: its fields (once), then a ``group___code`` column per checkbox choice."""
    for column in form.columns():
        if column not in columns:
            columns.append(column)
    for group in form.checkboxes():
        attr = next(a for a, s in form.fields.items() if isinstance(s, dict) and s["checkbox"] == group)
        columns += [f"{group}___{code}" for code in form.codes.get(attr, {})]


def _put_answers(export: _Export, form: Form, frame: pd.DataFrame, mapping: Mapping) -> None:
    """Put a questionnaire's answers: one row per participant and time point, one column per item."""
    frame = frame[frame["instrument"] == form.instrument]
    for (pid, tp), group in frame.groupby(["participant_id", "timepoint"], sort=True):
        event = mapping.event_of(str(tp))
        if event is None:
            raise ValueError(f"time point {tp} has no event in the mapping")
        answers = dict(zip(group["item"].astype(str), group["value"], strict=True))
        values = {f"{form.prefix}{item.lower()}": _raw(answers.get(item), None) for item in form.items}
        first = group.iloc[0]
        values.update({src: _raw(first[attr], None) for attr, src in form.fields.items()
                       if isinstance(src, str) and not src.startswith("@")})
        export.put(str(pid), event, "", values)


def _put_records(export: _Export, form: Form, frame: pd.DataFrame, mapping: Mapping) -> None:
    """Put a form's records, coded as the mapping says, each on its event (a CRE's own, the form's, or the
    study event)."""
    study_event = next((e for e, tp in mapping.events.items() if tp is None), next(iter(mapping.events)))
    for record in frame.to_dict("records"):
        values = {}
        for attr, src in form.fields.items():
            if isinstance(src, dict):
                ticked = _raw(record.get(attr), form.codes.get(attr))
                values.update({f"{src['checkbox']}___{code}": "1" if code == ticked else "0"
                               for code in form.codes.get(attr, {})})
            elif not src.startswith("@"):
                values[src] = _raw(record.get(attr), form.codes.get(attr))
        if form.timepoint_events:
            event = mapping.event_of(f"CRE{int(record['seq'])}")
            if event is None:
                raise ValueError(f"CRE{record['seq']} has no event in the mapping")
        else:
            event = form.event or study_event
        export.put(str(record["participant_id"]), event, form.repeat or "", values)


def default_mapping_text() -> str:
    """Return the shipped mapping of the ESCC-WW REDCap project."""
    return DEFAULT_MAPPING.read_text(encoding="utf-8")


def import_redcap(session: Session, study: Study, name: str, data: bytes, *, by: User | None,
                  mapping_name: str = "redcap_mapping.yaml", mapping_text: str | None = None,
                  signature: tuple[str, str] | None = None) -> ImportReport:
    """Import a REDCap flat export through a mapping file (the shipped one by default); return the report."""
    issues: list[Issue] = []
    text = default_mapping_text() if mapping_text is None else mapping_text
    mapping = load_mapping(text, mapping_name, issues)
    records: list[Incoming] = []
    digest = hashlib.sha256(data).hexdigest()
    if mapping is not None:
        records, digest = read_redcap(name, data, mapping, issues)
    return import_records(session, study, records, issues, fmt="redcap", files=[name, mapping_name],
                          hashes=[digest, hashlib.sha256(text.encode()).hexdigest()], by=by,
                          signature=signature)


def export_redcap(session: Session, study: Study, mapping_text: str | None = None) -> bytes:
    """Export the study's clinical data as a REDCap flat CSV readable through the mapping."""
    issues: list[Issue] = []
    mapping = load_mapping(mapping_text or default_mapping_text(), "mapping", issues)
    if mapping is None or issues:
        raise DomainError("; ".join(f"{i.field}: {i.reason}" for i in issues) or "mapping unreadable")
    return write_redcap(service.clinical_tables(session, study), mapping)
