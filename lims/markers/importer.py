"""Import marker results from long CSV or wide CSV/XLSX: stream, validate everything vectorised, then bulk insert.

Nothing is written unless every row passes. A refused file raises :class:`ImportFailed` whose report lists
each problem as file / row / column / value / reason (row numbers are the file's line numbers, header = 1).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from lims import consent
from lims.core.audit import record as audit_record
from lims.core.errors import DomainError
from lims.markers import units
from lims.markers.models import Marker, MarkerImportRun, MarkerResult
from lims.samples.accession import AccessionError, validate
from lims.samples.models import Sample
from lims.studies.models import SampleType, Study

BLOCK_BYTES = 16 << 20  # CSV read in blocks of this size (streamed, never the whole file as text)
MAX_LISTED = 500
QUALIFIER_SPELLINGS = {"<lod": "<LOD", "< lod": "<LOD", "bld": "<LOD", ">uloq": ">ULOQ", "> uloq": ">ULOQ",
                       "na": "NA", "n/a": "NA"}
SAMPLE_ALIASES = ("sample", "accession", "accession_id", "sample_accession", "sample_id")
META_COLUMNS = ("run_id", "batch_id", "plate_id", "assay_date", "operator", "remeasurement")
LONG_REQUIRED = ("sample", "marker", "value", "unit")
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}
CONSENT_OK, CONSENT_WITHDRAWN, CONSENT_NO_SCOPE, CONSENT_NO_GENETIC = 0, 1, 2, 3
_UNIT_IN_HEADER = re.compile(r"^(?P<marker>.+?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


@dataclass
class Problem:
    """One reason a row (or the file) was refused."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str


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


@dataclass
class _Lookups:
    """Everything validation needs, loaded once: samples, consent, markers, allowed specimen types."""

    accession_index: dict[str, int]
    sample_ids: np.ndarray
    sample_type_idx: np.ndarray
    consent_state: np.ndarray
    type_codes: list[str]
    marker_index: dict[str, int]
    markers: list[Marker]
    allowed: np.ndarray  # [marker, sample type] -> bool


def _load_lookups(session: Session) -> _Lookups:
    types = list(session.execute(select(SampleType.id, SampleType.code)))
    type_pos = {tid: i for i, (tid, _code) in enumerate(types)}
    type_codes = [code for _tid, code in types]
    # Consent is decided per participant by lims.consent (marker research; genetic research for genetic types).
    states = consent.states(session)
    genetic_by_study = {study.id: set(consent.genetic_types(study.settings)) for study in session.scalars(select(Study))}

    def verdict(participant_id: int, genetic: bool, quarantined: bool) -> int:
        state = states.get(participant_id)
        if state is None:
            return CONSENT_NO_SCOPE
        if state.withdrawn or quarantined:
            return CONSENT_WITHDRAWN
        if consent.decide(state, "marker_research") is not None:
            return CONSENT_NO_SCOPE
        if genetic and consent.decide(state, "marker_research", genetic=True) is not None:
            return CONSENT_NO_GENETIC
        return CONSENT_OK

    rows = session.execute(select(Sample.accession, Sample.id, Sample.sample_type_id, Sample.participant_id,
                                  Sample.study_id, Sample.status).where(Sample.accession.is_not(None))).all()
    accession_index = {r[0]: i for i, r in enumerate(rows)}
    sample_ids = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    sample_type_idx = np.fromiter((type_pos[r[2]] for r in rows), dtype=np.int64, count=len(rows))
    consent_state = np.fromiter(
        (verdict(r[3], type_codes[type_pos[r[2]]] in genetic_by_study.get(r[4], ()), r[5] == "quarantined")
         for r in rows), dtype=np.int8, count=len(rows))
    markers = list(session.scalars(select(Marker).order_by(Marker.id)))
    marker_index = {m.code.lower(): i for i, m in enumerate(markers)}
    allowed = np.zeros((max(len(markers), 1), max(len(type_codes), 1)), dtype=bool)
    code_pos = {code: i for i, code in enumerate(type_codes)}
    for i, m in enumerate(markers):
        for code in m.specimen_types or []:
            if code in code_pos:
                allowed[i, code_pos[code]] = True
    return _Lookups(accession_index, sample_ids, sample_type_idx, consent_state, type_codes, marker_index,
                    markers, allowed)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _detect_layout(header: list[str]) -> str:
    return "long" if "marker" in header else "wide"


def _normalise_header(columns: list[str]) -> list[str]:
    out = []
    for c in columns:
        key = str(c).strip()
        low = key.lower().replace(" ", "_")
        if low in SAMPLE_ALIASES:
            out.append("sample")
        elif low in (*LONG_REQUIRED, "qualifier", *META_COLUMNS):
            out.append(low)
        else:
            out.append(key)
    return out


_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _csv_batches(data: bytes) -> Iterator[pd.DataFrame]:
    """Stream a CSV with Arrow: text columns arrive dictionary-encoded (one Python string per distinct value),
    and the value column is parsed to numbers in C++; only cells that are not plain numbers stay as text."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    end = data.find(b"\n")
    header = next(csv.reader(io.StringIO(data[:end if end >= 0 else len(data)].decode("utf-8"))), [])
    if not header or len(set(header)) != len(header):
        raise ValueError("the header row is empty or repeats a column name")
    names = _normalise_header([h.strip() for h in header])
    types = {h: (pa.string() if n == "value" else pa.dictionary(pa.int32(), pa.string()))
             for h, n in zip(header, names)}
    reader = pacsv.open_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False))
    for batch in reader:
        columns: dict[str, Any] = {}
        for name, array in zip(names, batch.columns):
            if name == "value":
                plain = pc.match_substring_regex(array, _NUMBER)
                numbers = pc.cast(pc.utf8_trim_whitespace(pc.if_else(plain, array, "0")), pa.float64())
                numbers = pc.if_else(plain, numbers, float("nan")).to_numpy(zero_copy_only=False)
                raw = np.full(len(array), None, dtype=object)
                odd = np.flatnonzero(np.isnan(numbers))
                if odd.size:
                    raw[odd] = np.array(array.take(pa.array(odd)).to_pylist(), dtype=object)
                columns["value"] = raw
                columns["_value_num"] = numbers
            else:
                columns[name] = array.to_pandas()
        yield pd.DataFrame(columns)


def _chunks(data: bytes, filename: str) -> Iterator[pd.DataFrame]:
    """Yield the file as text-valued DataFrame chunks with a ``_row`` column (record number + 1)."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        frame = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl").fillna("")
        frame.columns = _normalise_header([str(c) for c in frame.columns])
        frames: Iterator[pd.DataFrame] = iter([frame])
    else:
        frames = _csv_batches(data)
    start = 2
    for frame in frames:
        frame["_row"] = np.arange(start, start + len(frame), dtype=np.int64)
        start += len(frame)
        yield frame


def _wide_to_long(frame: pd.DataFrame, lookups: _Lookups, report: ImportReport) -> pd.DataFrame:
    """Melt a wide panel (one row per sample, one column per marker) into long rows."""
    marker_columns = [c for c in frame.columns if c not in ("sample", "_row", "qualifier", *META_COLUMNS)]
    if not marker_columns:
        report.add(Problem(report.filename, 1, None, None, "no marker columns: a wide file has one column per marker"))
        return frame.iloc[0:0]
    parts = []
    for column in marker_columns:
        match = _UNIT_IN_HEADER.match(column)
        marker, unit = (match["marker"].strip(), match["unit"].strip()) if match else (column.strip(), "")
        cells = frame[column].astype(str).str.strip()
        keep = cells != ""
        part = frame.loc[keep, ["sample", "_row", *[c for c in META_COLUMNS if c in frame.columns]]].copy()
        part["marker"] = marker
        part["unit"] = unit
        part["value"] = cells[keep]
        part["qualifier"] = ""
        part["_column"] = column
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0]


def _flag(report: ImportReport, frame: pd.DataFrame, mask: np.ndarray, column: str, reasons: Any) -> None:
    """Record a problem for every row where ``mask`` is set (reason may be a string or an array)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return
    rows = frame["_row"].to_numpy()[idx]
    cols = frame["_column"].to_numpy()[idx] if "_column" in frame.columns else None
    values = frame[column].to_numpy()[idx] if column in frame.columns else None
    texts = reasons[idx] if isinstance(reasons, np.ndarray) else None
    for k in range(idx.size):
        if len(report.problems) >= MAX_LISTED:
            report.problem_count += idx.size - k
            return
        shown = column if cols is None or column not in ("value", "unit", "marker") else str(cols[k])
        report.add(Problem(report.filename, int(rows[k]), shown,
                           None if values is None else str(values[k]),
                           str(texts[k]) if texts is not None else str(reasons)))


def _factor(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (codes, stripped distinct values) of a text column; work is then done once per distinct value."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64), np.array([""], dtype=object)
    series = frame[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        uniques = [str(c).strip() for c in series.cat.categories] + [""]
        return np.where(codes < 0, len(uniques) - 1, codes), np.array(uniques, dtype=object)
    codes, found = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=False)
    return codes, np.array([str(u).strip() for u in found], dtype=object)


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return a text column stripped, with None for empty cells."""
    codes, uniques = _factor(frame, column)
    return np.array([u or None for u in uniques], dtype=object)[codes]


def _validate_chunk(frame: pd.DataFrame, lookups: _Lookups, report: ImportReport) -> dict[str, np.ndarray]:
    """Validate one long-form chunk; return the prepared columns (rows with problems are recorded)."""
    n = len(frame)
    bad = np.zeros(n, dtype=bool)

    # Samples: exact lookup first, the full accession check only for IDs that miss (once per distinct value).
    s_codes, s_uniques = _factor(frame, "sample")
    u_pos = np.empty(len(s_uniques), dtype=np.int64)
    u_why = np.empty(len(s_uniques), dtype=object)
    for i, value in enumerate(s_uniques.tolist()):
        pos = lookups.accession_index.get(value)
        if pos is None:
            try:
                printed = validate(value)
            except AccessionError as exc:
                u_pos[i], u_why[i] = -1, f"malformed accession ID: {exc}"
                continue
            pos = lookups.accession_index.get(printed)
            if pos is None:
                u_pos[i], u_why[i] = -1, f"no sample {printed} exists"
                continue
        u_pos[i], u_why[i] = pos, ""
    sample_pos = u_pos[s_codes]
    unknown = sample_pos < 0
    _flag(report, frame, unknown, "sample", u_why[s_codes])
    bad |= unknown
    known_sample = ~unknown
    if len(lookups.sample_ids):
        safe_pos = np.where(unknown, 0, sample_pos)
        sample_ids = lookups.sample_ids[safe_pos]
        verdicts = lookups.consent_state[safe_pos]
        type_idx = lookups.sample_type_idx[safe_pos]
    else:
        sample_ids = np.zeros(n, dtype=np.int64)
        verdicts = np.zeros(n, dtype=np.int8)
        type_idx = np.zeros(n, dtype=np.int64)
    withdrawn = known_sample & (verdicts == CONSENT_WITHDRAWN)
    _flag(report, frame, withdrawn, "sample", "the participant has withdrawn consent: no results may be added")
    no_scope = known_sample & (verdicts == CONSENT_NO_SCOPE)
    _flag(report, frame, no_scope, "sample", "the participant's consent does not cover marker research")
    no_genetic = known_sample & (verdicts == CONSENT_NO_GENETIC)
    _flag(report, frame, no_genetic, "sample",
          "the participant's consent does not cover genetic research, and this sample type is genetic material")
    bad |= withdrawn | no_scope | no_genetic

    # Markers.
    m_codes, m_uniques = _factor(frame, "marker")
    u_marker = np.array([lookups.marker_index.get(m.lower(), -1) for m in m_uniques.tolist()], dtype=np.int64)
    marker_pos = u_marker[m_codes]
    unknown_marker = marker_pos < 0
    _flag(report, frame, unknown_marker, "marker", "no such marker in the catalogue")
    bad |= unknown_marker
    known_marker = ~unknown_marker
    marker_pos = np.where(unknown_marker, 0, marker_pos)
    if lookups.markers:
        wrong_type = known_sample & known_marker & ~lookups.allowed[marker_pos, type_idx]
        if wrong_type.any():
            why = np.array([
                f"{lookups.markers[m].code} is measured on {', '.join(lookups.markers[m].specimen_types) or 'no specimen type'}"
                f", not {lookups.type_codes[t]}" for m, t in zip(marker_pos, type_idx)], dtype=object)
            _flag(report, frame, wrong_type, "sample", why)
            bad |= wrong_type

    # Units: one decision per distinct (marker, unit) pair.
    unit_codes, unit_uniques = _factor(frame, "unit")
    pair_codes, pairs = pd.factorize(marker_pos * (len(unit_uniques) + 1) + unit_codes)
    p_factor = np.ones(len(pairs), dtype=np.float64)
    p_converted = np.zeros(len(pairs), dtype=bool)
    p_why = np.full(len(pairs), "", dtype=object)
    for i, key in enumerate(pairs.tolist()):
        m_i, u_i = divmod(int(key), len(unit_uniques) + 1)
        unit = str(unit_uniques[u_i])
        if not lookups.markers or unit == "":
            continue
        marker = lookups.markers[m_i]
        f = units.factor(unit, marker.unit)
        if f is None:
            p_why[i] = f"unit {unit!r} does not convert to the catalogue unit {marker.unit!r} of {marker.code}"
        elif units.unit_key(unit) != units.unit_key(marker.unit):
            p_factor[i], p_converted[i] = f, True
    factors = p_factor[pair_codes]
    converted = p_converted[pair_codes]
    unit_why = p_why[pair_codes]
    unit_bad = known_marker & (unit_why != "")
    _flag(report, frame, unit_bad, "unit", unit_why)
    bad |= unit_bad
    unit_text = unit_uniques[unit_codes]

    # Values and qualifiers: numbers parse in C; only cells that do not parse are looked at one by one.
    numbers = (frame["_value_num"].to_numpy(dtype=np.float64) if "_value_num" in frame.columns
               else pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64))
    qualifier = np.full(n, None, dtype=object)
    not_number = np.zeros(n, dtype=bool)
    empty = np.zeros(n, dtype=bool)
    odd = np.flatnonzero(np.isnan(numbers))
    if odd.size:
        o_codes, o_uniques = pd.factorize(frame["value"].to_numpy(dtype=object)[odd], use_na_sentinel=False)
        kinds = []
        for u in o_uniques.tolist():
            text = str(u).strip()
            if text == "":
                kinds.append(("empty", None))
            elif text.lower() in QUALIFIER_SPELLINGS:
                kinds.append(("qualifier", QUALIFIER_SPELLINGS[text.lower()]))
            elif text.lower() == "nan":
                kinds.append(("bad", None))
            else:
                kinds.append(("bad", None))
        kind = np.array([k for k, _q in kinds], dtype=object)[o_codes]
        qualifier[odd] = np.array([q for _k, q in kinds], dtype=object)[o_codes]
        empty[odd] = kind == "empty"
        not_number[odd] = kind == "bad"
    _flag(report, frame, not_number, "value", "not a number")
    q_codes, q_uniques = _factor(frame, "qualifier")
    q_mapped = np.array([QUALIFIER_SPELLINGS.get(q.lower(), "?" if q else None) for q in q_uniques.tolist()],
                        dtype=object)[q_codes]
    bad_qualifier = q_mapped == "?"
    _flag(report, frame, bad_qualifier, "qualifier", "qualifier must be <LOD, >ULOQ or NA")
    bad |= bad_qualifier
    from_column = (q_mapped != None) & ~bad_qualifier
    qualifier = np.where(from_column, q_mapped, qualifier)
    infinite = np.isinf(numbers)
    _flag(report, frame, infinite, "value", "not a finite number")
    has_q = qualifier != None
    no_value = empty & ~has_q
    _flag(report, frame, no_value, "value", "no value and no qualifier (<LOD, >ULOQ or NA)")
    na_with_value = (qualifier == "NA") & ~np.isnan(numbers)
    _flag(report, frame, na_with_value, "value", "qualifier NA means no value, but a value was given")
    bad |= not_number | infinite | no_value | na_with_value

    # Assay date and re-measurement flag.
    d_codes, d_uniques = _factor(frame, "assay_date")
    parsed = pd.to_datetime(pd.Series(d_uniques), format="%Y-%m-%d", errors="coerce")
    d_bad = (pd.Series(d_uniques) != "").to_numpy() & parsed.isna().to_numpy()
    d_text = np.where(parsed.isna().to_numpy(), None, parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=object))
    bad_date = d_bad[d_codes]
    _flag(report, frame, bad_date, "assay_date", "not a date (use YYYY-MM-DD)")
    bad |= bad_date
    assay_date = d_text[d_codes]
    f_codes, f_uniques = _factor(frame, "remeasurement")
    f_low = [f.lower() for f in f_uniques.tolist()]
    flagged = np.array([f in TRUE for f in f_low], dtype=bool)[f_codes]
    bad_flag = np.array([f not in TRUE and f not in FALSE for f in f_low], dtype=bool)[f_codes]
    _flag(report, frame, bad_flag, "remeasurement", "use yes or no")
    bad |= bad_flag

    return {
        "bad": bad, "row": frame["_row"].to_numpy(), "sample_id": sample_ids, "sample_raw": s_uniques[s_codes],
        "marker_pos": marker_pos, "value": numbers * factors, "qualifier": qualifier, "converted": converted,
        "original_value": np.where(converted, numbers, np.nan),
        "original_unit": np.where(converted, unit_text, None),
        "assay_date": assay_date, "flagged": flagged,
        "column": frame["_column"].to_numpy(dtype=object) if "_column" in frame.columns else None,
        **{c: _text(frame, c) for c in ("run_id", "batch_id", "plate_id", "operator")},
    }


def _check_duplicates(session: Session, lookups: _Lookups, data: dict[str, np.ndarray],
                      report: ImportReport) -> np.ndarray:
    """Number replicates; refuse unflagged duplicates and flagged re-measurements of nothing."""
    marker_ids = np.array([m.id for m in lookups.markers], dtype=np.int64)[data["marker_pos"]] \
        if lookups.markers else np.zeros(len(data["row"]), dtype=np.int64)
    width = int(marker_ids.max()) + 1 if len(marker_ids) else 1
    key = pd.Series(data["sample_id"] * width + marker_ids)
    rank = key.groupby(key, sort=False).cumcount().to_numpy()
    used = sorted(set(marker_ids.tolist()))
    prior = np.zeros(len(key), dtype=np.int64)
    if used:
        stored = pd.DataFrame(session.execute(
            select(MarkerResult.sample_id, MarkerResult.marker_id, func.max(MarkerResult.replicate))
            .where(MarkerResult.marker_id.in_(used))
            .group_by(MarkerResult.sample_id, MarkerResult.marker_id)).all(),
            columns=["sample_id", "marker_id", "prior"])
        stored = stored[stored["marker_id"] < width]
        if len(stored):
            before = pd.Series(stored["prior"].to_numpy(), index=stored["sample_id"] * width + stored["marker_id"])
            prior = key.map(before).fillna(0).to_numpy(dtype=np.int64)
    replicate = prior + rank + 1
    ok = ~data["bad"]
    flagged = data["flagged"]
    dup_file = ok & (rank > 0) & ~flagged
    dup_stored = ok & (rank == 0) & (prior > 0) & ~flagged
    orphan = ok & flagged & (replicate == 1)
    if dup_file.any() or dup_stored.any() or orphan.any():
        first_row = pd.Series(data["row"]).groupby(key.to_numpy(), sort=False).transform("first").to_numpy()
        frame = _report_frame(data)
        why = np.array([f"duplicate of row {r} in this file (same sample and marker); mark it remeasurement=yes"
                        for r in first_row], dtype=object) if dup_file.any() else ""
        _flag(report, frame, dup_file, "sample", why)
        _flag(report, frame, dup_stored, "sample", "this sample already has a stored result for the marker; "
              "mark it remeasurement=yes to add a re-measurement")
        _flag(report, frame, orphan, "remeasurement",
              "marked as a re-measurement, but there is no earlier result for this sample and marker")
    data["marker_id"] = marker_ids
    return replicate


def _report_frame(data: dict[str, np.ndarray]) -> pd.DataFrame:
    frame = pd.DataFrame({"_row": data["row"], "sample": data["sample_raw"],
                          "remeasurement": np.where(data["flagged"], "yes", "no")})
    if data.get("column") is not None:
        frame["_column"] = data["column"]
    return frame


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    keys = [k for k in parts[0] if parts[0][k] is not None]
    out = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    if parts[0].get("column") is None:
        out["column"] = None  # type: ignore[assignment]
    return out


def _nullable(values: np.ndarray) -> list[Any]:
    """Turn a float array into a list with None for NaN."""
    out = values.tolist()
    nan_at = np.flatnonzero(np.isnan(values))
    for i in nan_at.tolist():
        out[i] = None
    return out


def _insert(session: Session, data: dict[str, np.ndarray], replicate: np.ndarray, import_id: int) -> None:
    """Bulk insert the validated rows: COPY on PostgreSQL, one executemany elsewhere."""
    columns = ["sample_id", "marker_id", "import_id", "value", "qualifier", "original_value", "original_unit",
               "replicate", "run_id", "batch_id", "plate_id", "assay_date", "operator"]
    n = len(replicate)
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        rows = zip(data["sample_id"].tolist(), data["marker_id"].tolist(), [import_id] * n,
                   _nullable(data["value"]), data["qualifier"].tolist(), _nullable(data["original_value"]),
                   data["original_unit"].tolist(), replicate.tolist(), data["run_id"].tolist(),
                   data["batch_id"].tolist(), data["plate_id"].tolist(), data["assay_date"].tolist(),
                   data["operator"].tolist())
        sql = f"INSERT INTO marker_result ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        # The DB-API cursor of the session's connection (same transaction) takes the rows as an iterator.
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()
        return
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        rows = zip(data["sample_id"].tolist(), data["marker_id"].tolist(), [import_id] * n,
                   _nullable(data["value"]), data["qualifier"].tolist(), _nullable(data["original_value"]),
                   data["original_unit"].tolist(), replicate.tolist(), data["run_id"].tolist(),
                   data["batch_id"].tolist(), data["plate_id"].tolist(), data["assay_date"].tolist(),
                   data["operator"].tolist())
        with raw.cursor() as cur, cur.copy(f"COPY marker_result ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    from datetime import date as _date

    dates = [None if d is None else _date.fromisoformat(d) for d in data["assay_date"].tolist()]
    conn.execute(insert(MarkerResult.__table__), [
        dict(zip(columns, row)) for row in zip(
            data["sample_id"].tolist(), data["marker_id"].tolist(), [import_id] * n, _nullable(data["value"]),
            data["qualifier"].tolist(), _nullable(data["original_value"]), data["original_unit"].tolist(),
            replicate.tolist(), data["run_id"].tolist(), data["batch_id"].tolist(), data["plate_id"].tolist(),
            dates, data["operator"].tolist())])


def import_results(session: Session, source: bytes | str | Path | IO[bytes], *, filename: str | None = None,
                   layout: str | None = None, by: Any = None) -> ImportReport:
    """Validate a results file completely and, only if every row passes, insert all its results in bulk.

    ``layout`` is ``long``, ``wide`` or None (detect: a ``marker`` column means long). Raises ImportFailed
    with the full report when anything is wrong; the caller commits on success.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        data, filename = path.read_bytes(), filename or path.name
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    filename = filename or "upload.csv"
    report = ImportReport(filename=filename, layout=layout or "")
    if not data.strip():
        report.add(Problem(filename, None, None, None, "the file is empty"))
        raise ImportFailed(report)
    lookups = _load_lookups(session)
    parts: list[dict[str, np.ndarray]] = []
    try:
        for frame in _chunks(data, filename):
            if not report.layout:
                report.layout = _detect_layout(list(frame.columns))
            if "sample" not in frame.columns:
                report.add(Problem(filename, 1, "sample", None,
                                   f"no sample column (name it one of: {', '.join(SAMPLE_ALIASES)})"))
                raise ImportFailed(report)
            report.rows += len(frame)
            if report.layout == "wide":
                frame = _wide_to_long(frame, lookups, report)
            else:
                absent = [c for c in LONG_REQUIRED if c not in frame.columns]
                if absent:
                    report.add(Problem(filename, 1, ", ".join(absent), None,
                                       f"missing column(s) {', '.join(absent)} in a long file"))
                    raise ImportFailed(report)
            if len(frame):
                parts.append(_validate_chunk(frame, lookups, report))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, pa.ArrowInvalid) as exc:
        if isinstance(exc, ImportFailed):
            raise
        report.add(Problem(filename, None, None, None, f"cannot read the file: {exc}"))
        raise ImportFailed(report) from None
    merged = _concat(parts)
    if not merged or len(merged["row"]) == 0:
        if report.ok:
            report.add(Problem(filename, None, None, None, "the file holds no results"))
        raise ImportFailed(report)
    replicate = _check_duplicates(session, lookups, merged, report)
    if not report.ok:
        raise ImportFailed(report)
    run = MarkerImportRun(filename=filename[:255], layout=report.layout, sha256=_sha256(data),
                    results=len(replicate), remeasurements=int((replicate > 1).sum()),
                    converted=int(merged["converted"].sum()), by_id=getattr(by, "id", None))
    session.add(run)
    session.flush()
    _insert(session, merged, replicate, run.id)
    audit_record(session, "marker_import", user=by, object_type="marker_import", object_id=run.id,
                 detail=f"{filename}: {run.results} results ({run.remeasurements} re-measurements), sha256 {run.sha256}")
    report.results = run.results
    report.remeasurements = run.remeasurements
    report.converted = run.converted
    report.qualified = int(sum(q is not None for q in merged["qualifier"].tolist()))
    report.import_id = run.id
    return report
