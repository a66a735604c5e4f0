"""Import marker results from long CSV or wide CSV/XLSX: stream, validate everything vectorised, then bulk
insert.

Nothing is written unless every row passes. A refused file raises :class:`ImportFailed` whose report lists
each problem as file / row / column / value / reason and the row rule that refused it (lims.markers.rules;
row numbers are the file's line numbers, header = 1).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import consent
from lims.core.audit import record as audit_record
from lims.markers.bulk import columns, insert_results
from lims.markers.cells import Lookups, validate_chunk, wide_to_long
from lims.markers.models import Marker, MarkerImportRun, MarkerResult
from lims.markers.reading import LONG_REQUIRED, SAMPLE_ALIASES, Unreadable, chunks
from lims.markers.report import ImportFailed, ImportReport, Problem
from lims.markers.rules import (
    CONSENT_NO_GENETIC,
    CONSENT_NO_SCOPE,
    CONSENT_OK,
    CONSENT_WITHDRAWN,
    FILE_RULES,
    Rows,
    apply,
)
from lims.samples.models import Sample
from lims.studies.models import SampleType, Study

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


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
    """Number replicates; refuse unflagged duplicates and flagged re-measurements of nothing (FILE_RULES)."""
    import numpy as np
    import pandas as pd

    marker_ids = np.array([m.id for m in lookups.markers], dtype=np.int64)[data["marker_pos"]] \
        if lookups.markers else np.zeros(len(data["row"]), dtype=np.int64)
    width = int(marker_ids.max()) + 1 if len(marker_ids) else 1
    key = pd.Series(data["sample_id"] * width + marker_ids)
    rank = key.groupby(key, sort=False).cumcount().to_numpy()
    prior = _stored_replicates(session, key, marker_ids, width)
    replicate = prior + rank + 1
    rows = Rows(lambda: _report_frame(data), {"ok": ~data["bad"], "flagged": data["flagged"], "rank": rank,
                                              "prior": prior, "replicate": replicate, "key": key.to_numpy(),
                                              "row": data["row"]}, len(rank))
    apply(FILE_RULES, rows, report)
    data["marker_id"] = marker_ids
    return replicate


def _stored_replicates(session: Session, key: pd.Series, marker_ids: np.ndarray, width: int) -> np.ndarray:
    """The highest stored replicate of each row's sample and marker (0 when none is stored)."""
    import numpy as np
    import pandas as pd

    used = sorted(set(marker_ids.tolist()))
    if not used:
        return np.zeros(len(key), dtype=np.int64)
    stored = pd.DataFrame(session.execute(
        select(MarkerResult.sample_id, MarkerResult.marker_id, func.max(MarkerResult.replicate))
        .where(MarkerResult.marker_id.in_(used))
        .group_by(MarkerResult.sample_id, MarkerResult.marker_id)).all(),
        columns=["sample_id", "marker_id", "prior"])
    stored = stored[stored["marker_id"] < width]
    if not len(stored):
        return np.zeros(len(key), dtype=np.int64)
    before = pd.Series(stored["prior"].to_numpy(), index=stored["sample_id"] * width + stored["marker_id"])
    return key.map(before).fillna(0).to_numpy(dtype=np.int64)


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
    insert_results(session, columns(merged, replicate, run.id), len(replicate))
    audit_record(session, "marker_import", user=by, object_type="marker_import", object_id=run.id,
                 detail=f"{filename}: {run.results} results ({run.remeasurements} re-measurements), sha256 "
                        f"{run.sha256}")
    report.results = run.results
    report.remeasurements = run.remeasurements
    report.converted = run.converted
    report.qualified = int((merged["qualifier"] != None).sum())  # noqa: E711 - element-wise
    report.import_id = run.id
    return report
