"""Import marker results from long CSV or wide CSV/XLSX: stream, validate everything vectorised, then bulk
insert.

Nothing is written unless every row passes. A refused file raises :class:`ImportFailed` whose report lists
each problem as file / row / column / value / reason (row numbers are the file's line numbers, header = 1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from lims import consent
from lims.core import versions
from lims.core.audit import record as audit_record
from lims.markers.cells import (
    CONSENT_NO_GENETIC,
    CONSENT_NO_SCOPE,
    CONSENT_OK,
    CONSENT_WITHDRAWN,
    Lookups,
    flag,
    validate_chunk,
    wide_to_long,
)
from lims.markers.models import Marker, MarkerImportRun, MarkerResult
from lims.markers.reading import LONG_REQUIRED, SAMPLE_ALIASES, Unreadable, chunks
from lims.markers.report import ImportFailed, ImportReport, Problem
from lims.samples.models import Sample
from lims.studies.models import SampleType, Study

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


def _load_lookups(session: Session) -> Lookups:
    import numpy as np

    types = list(session.execute(select(SampleType.id, SampleType.code)))
    type_pos = {tid: i for i, (tid, _code) in enumerate(types)}
    type_codes = [code for _tid, code in types]
    # Consent is decided per participant by lims.consent (marker research; genetic research for genetic
    # types).
    states = consent.states(session)
    genetic_by_study = {study.id: set(consent.genetic_types(study.settings))
                        for study in session.scalars(select(Study))}

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
    accession_index = {r[0]: i for i, r in enumerate(rows) if r[0] is not None}  # the query keeps only these
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
    return Lookups(accession_index, sample_ids, sample_type_idx, consent_state, type_codes, marker_index,
                    markers, allowed)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _detect_layout(header: list[str]) -> str:
    return "long" if "marker" in header else "wide"


def _check_duplicates(session: Session, lookups: Lookups, data: dict[str, np.ndarray],
                      report: ImportReport) -> np.ndarray:
    """Number replicates; refuse unflagged duplicates and flagged re-measurements of nothing."""
    import numpy as np
    import pandas as pd

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
            before = pd.Series(stored["prior"].to_numpy(),
                               index=stored["sample_id"] * width + stored["marker_id"])
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
        why = np.array([f"duplicate of row {r} in this file (same sample and marker); mark it "
                        "remeasurement=yes"
                        for r in first_row], dtype=object) if dup_file.any() else ""
        flag(report, frame, dup_file, "sample", why)
        flag(report, frame, dup_stored, "sample", "this sample already has a stored result for the marker; "
              "mark it remeasurement=yes to add a re-measurement")
        flag(report, frame, orphan, "remeasurement",
              "marked as a re-measurement, but there is no earlier result for this sample and marker")
    data["marker_id"] = marker_ids
    return replicate


def _report_frame(data: dict[str, np.ndarray]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"_row": data["row"], "sample": data["sample_raw"],
                          "remeasurement": np.where(data["flagged"], "yes", "no")})
    if data.get("column") is not None:
        frame["_column"] = data["column"]
    return frame


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    import numpy as np

    if not parts:
        return {}
    keys = [k for k in parts[0] if parts[0][k] is not None]
    out = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    if parts[0].get("column") is None:
        out["column"] = None  # type: ignore[assignment]
    return out


INSERT_COLUMNS = ("sample_id", "marker_id", "import_id", "value", "qualifier", "original_value",
                  "original_unit",
                  "replicate", "run_id", "batch_id", "plate_id", "assay_date", "operator")
INSERT_BLOCK = 65_536  # rows turned into Python values at a time (memory stays bounded on a long file)


def _columns(data: dict[str, np.ndarray], replicate: np.ndarray, import_id: int) -> dict[str, np.ndarray]:
    """The validated rows as one array per marker_result column (NaN marks a missing number)."""
    import numpy as np

    return {"sample_id": data["sample_id"], "marker_id": data["marker_id"],
            "import_id": np.full(len(replicate), import_id, dtype=np.int64), "value": data["value"],
            "qualifier": data["qualifier"], "original_value": data["original_value"],
            "original_unit": data["original_unit"], "replicate": replicate,
            **{c: data[c] for c in ("run_id", "batch_id", "plate_id", "assay_date", "operator")}}


def _block_values(column: np.ndarray) -> list[Any]:
    """One block of a column as Python values (None for NaN and for missing text)."""
    import numpy as np

    out = column.tolist()
    if column.dtype.kind == "f":
        for i in np.flatnonzero(np.isnan(column)).tolist():
            out[i] = None
    return out


def _row_tuples(columns: dict[str, np.ndarray], n: int) -> Iterator[tuple[Any, ...]]:
    """Yield the rows as tuples, block by block: only one block's Python objects exist at a time."""
    for start in range(0, n, INSERT_BLOCK):
        yield from zip(*(_block_values(columns[c][start:start + INSERT_BLOCK]) for c in INSERT_COLUMNS),
                       strict=True)


def _arrow_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """The rows as an Arrow table (NaN and None become nulls), for the PostgreSQL COPY."""
    import pyarrow as pa

    return pa.table({c: pa.array(columns[c], from_pandas=True) if columns[c].dtype.kind != "O"
                     else pa.array(columns[c], type=pa.string(), from_pandas=True) for c in INSERT_COLUMNS})


def _insert(session: Session, data: dict[str, np.ndarray], replicate: np.ndarray, import_id: int) -> None:
    """Bulk insert the validated rows on the unit of work's own connection (inside its transaction).

    PostgreSQL: COPY FROM STDIN of CSV that Arrow writes in C++. SQLite: one prepared INSERT run by the
    sqlite3 cursor of the session's connection over the rows, fed block by block from the arrays. An ADBC
    connection would be a second connection with a transaction of its own: its rows could not be rolled back
    with the unit of work, so it is used only by the benchmark, as the limit.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    versions.bump(session, "markers")  # the rows go round the session, which would otherwise see no write
    columns = _columns(data, replicate, import_id)
    conn = session.connection()
    names = ", ".join(INSERT_COLUMNS)
    raw = conn.connection.driver_connection
    assert raw is not None  # an open connection has its DB-API connection
    if conn.dialect.name == "sqlite":
        cursor = raw.cursor()
        try:
            cursor.executemany(f"INSERT INTO marker_result ({names}) VALUES "
                               f"({', '.join('?' * len(INSERT_COLUMNS))})",
                               _row_tuples(columns, len(replicate)))
        finally:
            cursor.close()
        return
    if conn.dialect.name == "postgresql":
        table = _arrow_table(columns)
        with raw.cursor() as cur, \
                cur.copy(f"COPY marker_result ({names}) FROM STDIN (FORMAT csv)") as copy:
            for batch in table.to_batches(max_chunksize=INSERT_BLOCK):
                sink = pa.BufferOutputStream()
                pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False))
                copy.write(sink.getvalue().to_pybytes())
        return
    from datetime import date as _date

    rows = [dict(zip(INSERT_COLUMNS, row, strict=True)) for row in _row_tuples(columns, len(replicate))]
    for row in rows:
        row["assay_date"] = None if row["assay_date"] is None else _date.fromisoformat(row["assay_date"])
    conn.execute(insert(MarkerResult.__table__), rows)


def _read_chunk(frame: pd.DataFrame, lookups: Lookups, report: ImportReport) -> list[dict[str, np.ndarray]]:
    """Check one chunk's columns, turn a wide chunk into long rows, and validate them."""
    if not report.layout:
        report.layout = _detect_layout(list(frame.columns))
    if "sample" not in frame.columns:
        raise Unreadable(f"no sample column (name it one of: {', '.join(SAMPLE_ALIASES)})", row=1,
                         column="sample")
    report.rows += len(frame)
    if report.layout == "wide":
        frame = wide_to_long(frame, lookups, report)
    else:
        absent = [c for c in LONG_REQUIRED if c not in frame.columns]
        if absent:
            raise Unreadable(f"missing column(s) {', '.join(absent)} in a long file", row=1,
                             column=", ".join(absent))
    return [validate_chunk(frame, lookups, report)] if len(frame) else []


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
    if layout not in (None, "long", "wide"):
        report.add(Problem(filename, None, None, layout, "layout must be long or wide"))
        raise ImportFailed(report)
    lookups = _load_lookups(session)
    parts: list[dict[str, np.ndarray]] = []
    try:
        for frame in chunks(data, filename):
            parts += _read_chunk(frame, lookups, report)
    except Unreadable as exc:
        report.add(Problem(filename, exc.row, exc.column, exc.value, exc.reason))
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
                 detail=f"{filename}: {run.results} results ({run.remeasurements} re-measurements), sha256 "
                        f"{run.sha256}")
    report.results = run.results
    report.remeasurements = run.remeasurements
    report.converted = run.converted
    report.qualified = int((merged["qualifier"] != None).sum())  # noqa: E711 - element-wise
    report.import_id = run.id
    return report
