"""Linked, pseudonymised, consent-aware dataset export: markers x covariates x pre-analytics x endpoints.

One code path for the web form, the JSON API and ``lims export``: :func:`export_dataset` builds the frame,
writes data + data dictionary + manifest into a zip, and records an :class:`ExportRun`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims import __version__, consent
from lims.core.audit import record as audit_record
from lims.core.database import has_written
from lims.core.db import utcnow
from lims.core.errors import DomainError, Forbidden
from lims.core.permissions import allowed
from lims.core.spreadsheet import frame_csv, frame_xlsx
from lims.markers.models import ExportRun, Marker
from lims.participants.models import Consent, Participant, Visit
from lims.samples import sprec
from lims.samples.models import Sample
from lims.samples.presenters import preanalytics
from lims.studies.models import ContainerType, SampleType, Study, TimePoint

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

FORMS = ("long", "wide")
FORMATS = ("csv", "xlsx", "parquet")
DEFAULT_OUTCOMES = ("ccr_cre1", "pcr", "mpr", "os_time", "os_event", "dfs_time", "dfs_event", "efs_time",
                    "efs_event")
UNSCHEDULED = "UNSCHEDULED"
PREANALYTIC = ("sprec", "freeze_thaw_count", "storage_days", "processing_delay_h")
# Endpoint columns the export supplies itself (covariates) or never passes on.
_ENDPOINT_SKIP = {"participant_id", "site", "stratum", "enrol_date", "variant"}

_LABELS: dict[str, tuple[str, str, str, str]] = {
    # name: (label, unit, allowed values, derivation)
    "participant_id": ("Pseudonymous study ID", "", "",
                       "participant.code (site code + number); no other identifier"),
    "site": ("Enrolling site", "", "", "participant.site.code"),
    "stratum": ("Stratum / arm", "", "NON_CCR_SURGERY; CCR_SURGERY; CCR_WW",
                "participant.stratum (cCR at CRE1 + randomisation)"),
    "stage": ("AJCC 8 clinical stage", "", "", "participant.stage at enrolment"),
    "timepoint": ("Schedule time point", "", "",
                  "the visit the sample was collected at (UNSCHEDULED if none)"),
    "sample_type": ("Sample type", "", "", "sample.sample_type.code"),
    "sample_key": ("Pseudonymous sample key", "", "", "numbered within this export; not the accession ID"),
    "marker": ("Marker code", "", "", "marker catalogue code"),
    "value": ("Result value", "catalogue unit of the marker", "",
              ("value in the catalogue unit (converted on import; the lab's original is kept in the "
               "database)")),
    "unit": ("Unit of value", "", "", "catalogue unit of the marker"),
    "qualifier": ("Result qualifier", "", "<LOD; >ULOQ; NA",
                  "as reported by the lab; empty for a plain number"),
    "replicate": ("Replicate number", "", "",
                  "1 = first measurement; >1 = re-measurement of the same marker on the same sample"),
    "remeasurement": ("Is a re-measurement", "", "True; False", "replicate > 1"),
    "latest": ("Latest measurement", "", "True; False",
               "the highest replicate of this marker on this sample (what the wide form uses)"),
    "transform": ("Default analysis transform", "", "none; log2; log10; clr", "marker catalogue"),
    "collection_day": ("Collection study day", "days", "",
                       "collection date - enrolment date + 1 (T0 = enrolment)"),
    "assay_day": ("Assay study day", "days", "", "assay date - enrolment date + 1 (T0 = enrolment)"),
    "collection_date": ("Collection date", "", "",
                        "sample.collected_at (UTC date); only for roles allowed to see dates"),
    "assay_date": ("Assay date", "", "", "as reported by the lab; only for roles allowed to see dates"),
    "enrol_date": ("Enrolment date (T0)", "", "",
                   "participant.enrolled_on; only for roles allowed to see dates"),
    "sprec": ("SPREC code", "", "", "derived from the raw pre-analytical values (lims.samples.sprec)"),
    "freeze_thaw_count": ("Freeze-thaw cycles", "cycles", "", "sample.freeze_thaw_count"),
    "storage_days": ("Storage time", "days", "",
                     ("earliest assay date of the sample's exported results (or the export date) - date "
                      "frozen")),
    "processing_delay_h": ("Processing delay", "hours", "", "processing start - collection time"),
    "ccr_cre1": ("Clinical complete response at CRE1", "", "True; False",
                 "derived endpoint (analysis.endpoints)"),
    "pcr": ("Pathological complete response", "", "True; False", "ypT0N0, derived endpoint"),
    "mpr": ("Major pathological response", "", "True; False", "<= 10 % viable tumour, derived endpoint"),
    "os_time": ("Overall survival time from enrolment", "days", "", "death/censor date - T0 + 1"),
    "os_event": ("Overall survival event", "", "0; 1", "death of any cause"),
    "dfs_time": ("Disease-free survival time", "days", "", "per the DFS variant in the manifest"),
    "dfs_event": ("Disease-free survival event", "", "0; 1", "per the DFS variant in the manifest"),
    "efs_time": ("Event-free survival time from enrolment", "days", "",
                 "per the DFS variant in the manifest"),
    "efs_event": ("Event-free survival event", "", "0; 1", "per the DFS variant in the manifest"),
}


@dataclass
class ExportQuery:
    """What a researcher asked for; empty lists mean 'all'."""

    markers: list[str] = field(default_factory=list)
    timepoints: list[str] = field(default_factory=list)
    sample_types: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    strata: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=lambda: list(DEFAULT_OUTCOMES))
    form: str = "long"
    format: str = "csv"
    dates: bool = False
    dfs_variant: str | None = None


@dataclass
class Dataset:
    """The built dataset before it is written."""

    frame: pd.DataFrame
    dictionary: pd.DataFrame
    excluded: dict[str, int]
    dfs_variant: str
    endpoints_included: bool


@dataclass
class ExportResult:
    """The zip and its audit record."""

    filename: str
    content: bytes
    run: ExportRun
    manifest: dict[str, Any]


def check_query(query: ExportQuery, role: str) -> None:
    """Refuse a query that names an unknown form, format or DFS variant, or dates the role may not see."""
    if query.form not in FORMS:
        raise DomainError(f"form must be one of {', '.join(FORMS)}", field="form")
    if query.format not in FORMATS:
        raise DomainError(f"format must be one of {', '.join(FORMATS)}", field="format")
    if query.dfs_variant not in (None, "A", "B"):
        raise DomainError("DFS variant must be A or B", field="dfs_variant")
    if query.dates and not allowed(role, "dates.exact"):
        raise Forbidden("your role sees study days, not calendar dates; untick 'include dates'", )


def _consent_filter(session: Session, study: Study, query: ExportQuery,
                    purpose: str) -> tuple[list[Participant], dict[str, int], set[int]]:
    """Return the participants to include, how many matching ones were excluded by reason, and the ids of
    included participants whose consent does not cover genetic material (their genetic samples are left
    out)."""
    stmt = (select(Participant).where(Participant.study_id == study.id).order_by(Participant.code)
            .options(selectinload(Participant.consents).selectinload(Consent.scopes),
                     selectinload(Participant.site)))
    if query.participants:
        stmt = stmt.where(Participant.code.in_([c.strip().upper() for c in query.participants]))
    if query.strata:
        stmt = stmt.where(Participant.stratum.in_(query.strata))
    included, no_genetic = [], set()
    excluded = {"withdrawn consent": 0, "consent does not cover marker research": 0}
    for p in session.scalars(stmt):
        state = consent.state_of(p)
        if consent.decide(state, purpose) is not None:
            excluded["withdrawn consent" if state.withdrawn
                     else "consent does not cover marker research"] += 1
            continue
        included.append(p)
        if consent.decide(state, purpose, genetic=True) is not None:
            no_genetic.add(p.id)
    return included, excluded, no_genetic


def _markers(session: Session, codes: list[str]) -> tuple[list[Marker], int]:
    """Return the selected markers (all when ``codes`` is empty) and the size of the catalogue."""
    stmt = select(Marker).order_by(Marker.category, Marker.code)
    markers = list(session.scalars(stmt))
    catalogue = len(markers)
    if codes:
        wanted = {c.strip().lower() for c in codes}
        unknown = wanted - {m.code.lower() for m in markers}
        if unknown:
            raise DomainError(f"unknown marker(s): {', '.join(sorted(unknown))}", field="markers")
        markers = [m for m in markers if m.code.lower() in wanted]
    return markers, catalogue


_SAMPLE_COLUMNS = ("id", "participant_id", "visit_id", "sample_type_id", "container_type_id", "status",
                   "freeze_thaw_count", "initial_quantity", "unit")


READ_BLOCK = 65_536  # result rows converted at a time when they are read through the session's cursor
# SQLite reads this literal as +infinity: stands for a NULL value (results are always finite)
_NO_VALUE = "9e999"


def _results_sql(dialect: str, marker_ids: list[int], *, scan: bool) -> str:
    """The results query: every column typed the same on every row (NULLs as sentinels, dates as ordinals).

    ``scan``: most markers are wanted, so SQLite reads the table in order instead of through the marker index
    (``+marker_id`` keeps the index out; a lookup per row would be slower than the scan).
    """
    placeholders = ", ".join(str(int(i)) for i in marker_ids) or "NULL"
    if dialect == "postgresql":
        return ("SELECT sample_id, marker_id, value, qualifier, replicate, "
                "coalesce(assay_date - date '0001-01-01' + 1, -1) AS assay_ord "
                f"FROM marker_result WHERE marker_id IN ({placeholders})")
    column = "+marker_id" if scan else "marker_id"
    return (f"SELECT sample_id, marker_id, ifnull(value, {_NO_VALUE}) AS value, ifnull(qualifier, '') AS "
            "qualifier, replicate, ifnull(CAST(julianday(assay_date) - 1721424.5 AS INTEGER), -1) AS "
            f"assay_ord FROM marker_result WHERE {column} IN ({placeholders})")


def _arrow_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {"sample_id": pa.int64(), "marker_id": pa.int64(), "value": pa.float64(), "qualifier": pa.string(),
            "replicate": pa.int64(), "assay_ord": pa.int64()}


def _arrays_from_arrow(table: pa.Table) -> dict[str, np.ndarray]:
    """Turn the Arrow result table into the arrays the export works on (NULL value = NaN, no qualifier =
    None)."""
    import numpy as np
    import pyarrow.compute as pc

    value = table["value"].to_numpy().astype(np.float64, copy=True)
    value[np.isinf(value)] = np.nan
    # Qualifiers: one Python string per distinct value, not per row ('' and NULL both mean none).
    encoded = pc.dictionary_encode(table["qualifier"]).combine_chunks()
    words = [w or None for w in encoded.dictionary.to_pylist()]
    codes = pc.fill_null(encoded.indices, len(words)).to_numpy()
    return {"sample_id": table["sample_id"].to_numpy(), "marker_id": table["marker_id"].to_numpy(),
            "value": value, "qualifier": np.array([*words, None], dtype=object)[codes],
            "replicate": table["replicate"].to_numpy(), "assay_ord": table["assay_ord"].to_numpy()}


def _read_adbc_sqlite(path: str, sql: str) -> pa.Table:
    """Read the results with ADBC (a read-only connection of its own), batch by batch into Arrow."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    with adbc.connect(path) as con, con.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(READ_BLOCK)})
        cur.execute(sql)
        batches = [batch.cast(pa.schema(_arrow_types())) for batch in cur.fetch_record_batch()]
    return pa.Table.from_batches(batches, schema=pa.schema(_arrow_types()))


def _read_copy_postgresql(conn: Any, sql: str) -> pa.Table:
    """Read the results on the session's own PostgreSQL connection with COPY, parsed by Arrow's CSV reader."""
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    with conn.connection.driver_connection.cursor() as cur, \
            cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(column_names=list(_arrow_types())),
                          convert_options=pacsv.ConvertOptions(column_types=_arrow_types(),
                                                               strings_can_be_null=True,
                                                               quoted_strings_can_be_null=False))


def _read_cursor(conn: Any, sql: str) -> pa.Table:
    """Read the results through the session's DB-API cursor, block by block (sees the transaction's
    writes)."""
    import pyarrow as pa

    cursor = conn.connection.driver_connection.cursor()
    batches = []
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(READ_BLOCK):
            columns = list(zip(*rows, strict=True))
            batches.append(pa.record_batch([pa.array(c, type=t)
                                            for c, t in zip(columns, _arrow_types().values(), strict=True)],
                                           schema=pa.schema(_arrow_types())))
    finally:
        cursor.close()
    return pa.Table.from_batches(batches, schema=pa.schema(_arrow_types()))


def _results_arrays(session: Session, marker_ids: list[int], catalogue: int) -> dict[str, np.ndarray]:
    """Read the selected markers' results column-wise into Arrow, in blocks (the heavy part of an export).

    PostgreSQL: COPY on the session's connection. SQLite: an ADBC read of the database file when this
    transaction has written nothing (so a second connection sees exactly what the session sees), else the
    session's own cursor, block by block.
    """
    conn = session.connection()
    sql = _results_sql(conn.dialect.name, marker_ids, scan=2 * len(marker_ids) >= catalogue)
    if conn.dialect.name == "postgresql":
        return _arrays_from_arrow(_read_copy_postgresql(conn, sql))
    path = conn.engine.url.database if conn.dialect.name == "sqlite" else None
    if path and path != ":memory:" and not path.startswith("file:") and Path(path).exists() \
            and not session.new and not session.dirty and not session.deleted and not has_written(conn):
        return _arrays_from_arrow(_read_adbc_sqlite(path, sql))
    return _arrays_from_arrow(_read_cursor(conn, sql))


def _samples_frame(session: Session, sample_ids: np.ndarray) -> pd.DataFrame:
    """One row per sample (in ``sample_ids`` order): participant, time point, type and pre-analytics
    (SPREC)."""
    import pandas as pd

    types = {t.id: t for t in session.scalars(select(SampleType))}
    containers = {c.id: c for c in session.scalars(select(ContainerType))}
    timepoints = dict(session.execute(
        select(Visit.id, TimePoint.code).join(TimePoint, TimePoint.id == Visit.timepoint_id)).tuples().all())
    table = Sample.__table__
    wanted = set(_SAMPLE_COLUMNS) | {f.name for cls in (sprec.FluidPreanalytics, sprec.SolidPreanalytics)
                                     for f in dataclasses.fields(cls)}
    columns = [c for c in table.c if c.name in wanted]
    by_id: dict[int, Any] = {}
    ids = sample_ids.tolist()
    for start in range(0, len(ids), 20_000):
        chunk = ids[start:start + 20_000]
        for r in session.execute(select(*columns).where(table.c.id.in_(chunk))).mappings():
            by_id[r["id"]] = r
    out = []
    for sid in ids:
        r = by_id[sid]
        ns = SimpleNamespace(**r, sample_type=types[r["sample_type_id"]],
                             container_type=containers.get(r["container_type_id"]))
        collected, started, frozen = r["collected_at"], r["processing_started_at"], r["frozen_at"]
        out.append((sid, r["participant_id"], timepoints.get(r["visit_id"], UNSCHEDULED),
                    types[r["sample_type_id"]].code,
                    None if r["status"] == "missed" else sprec.derive(preanalytics(ns)),  # type: ignore[arg-type]  # a row as a Sample
                    r["freeze_thaw_count"],
                    collected.date().toordinal() if collected else -1,
                    frozen.date().toordinal() if frozen else -1,
                    round((started - collected).total_seconds() / 3600, 2) if collected and started
                    else None))
    return pd.DataFrame(out, columns=["sample_id", "participant_pk", "timepoint", "sample_type", "sprec",
                                      "freeze_thaw_count", "collection_ord", "frozen_ord",
                                      "processing_delay_h"])


def _day(dates: pd.Series, t0: pd.Series) -> pd.Series:
    """Study day: date - T0 + 1 (NA where either is unknown)."""
    import pandas as pd

    d = pd.to_datetime(dates, errors="coerce")
    t = pd.to_datetime(t0, errors="coerce")
    return ((d - t).dt.days + 1).astype("Int64")


def _ord_day(ordinal: np.ndarray, t0: np.ndarray) -> pd.arrays.IntegerArray:
    """Study day from date ordinals (-1 = unknown): date - T0 + 1."""
    import numpy as np
    import pandas as pd

    mask = (ordinal < 0) | (t0 < 0)
    return pd.arrays.IntegerArray(np.where(mask, 0, ordinal - t0 + 1).astype(np.int64), mask)


def _ord_date(ordinal: np.ndarray) -> np.ndarray:
    """Dates from ordinals (-1 = unknown -> None), converting each distinct value once."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(ordinal)
    as_dates = np.array([None if u < 0 else date.fromordinal(int(u)) for u in uniques], dtype=object)
    return as_dates[codes]


def _endpoints(session: Session, study: Study, people: list[Participant], outcomes: list[str],
               variant: str, dates: bool) -> tuple[pd.DataFrame | None, str]:
    """Return the selected endpoint columns per participant code (dates turned into study days)."""
    import pandas as pd

    if not outcomes:
        return None, variant
    try:
        from lims.clinical.service import derived_endpoints
    except ImportError:  # the clinical domain is optional in a minimal install
        return None, variant
    derived = derived_endpoints(session, study, variant, participants=people)
    unknown = [o for o in outcomes if o not in derived.columns or o in _ENDPOINT_SKIP]
    if unknown:
        raise DomainError(f"unknown outcome(s): {', '.join(unknown)}; choose from "
                          f"{', '.join(c for c in derived.columns if c not in _ENDPOINT_SKIP)}",
                          field="outcomes")
    out = pd.DataFrame({"participant_id": derived["participant_id"].astype(str)})
    enrol = derived["enrol_date"] if "enrol_date" in derived.columns else None
    for name in outcomes:
        column = derived[name]
        if name.endswith("_date") or pd.api.types.is_datetime64_any_dtype(column):
            if enrol is not None:
                out[name.removesuffix("_date") + "_day"] = _day(column, enrol).to_numpy()
            if dates:
                out[name] = pd.to_datetime(column, errors="coerce").dt.date.to_numpy()
        else:
            out[name] = column.to_numpy()
    return out, variant


def build_dataset(session: Session, study: Study, query: ExportQuery, *, role: str,
                  today: date | None = None, purpose: str = "export") -> Dataset:
    """Build the long or wide dataset the query asks for (no files written).

    Only participants whose consent allows ``purpose`` (``export`` or ``analysis``) are included, and
    genetic sample types only where the consent covers genetic research (see lims.consent).
    """
    import numpy as np
    import pandas as pd

    check_query(query, role)
    today = today or utcnow().date()
    variant = query.dfs_variant or str((study.settings or {}).get("dfs_variant", "A"))
    people, excluded, no_genetic = _consent_filter(session, study, query, purpose)
    markers, catalogue = _markers(session, query.markers)
    res = _results_arrays(session, [m.id for m in markers], catalogue)
    sample_ids, s_of_r = np.unique(res["sample_id"], return_inverse=True)
    samples = _samples_frame(session, sample_ids)

    # Sample-level facts and filters, broadcast to results by position.
    person_pos = {p.id: i for i, p in enumerate(people)}  # people are ordered by code
    s_person = samples["participant_pk"].map(person_pos).fillna(-1).to_numpy(dtype=np.int64)
    keep_sample = s_person >= 0
    if no_genetic:
        genetic = samples["sample_type"].isin(consent.genetic_types(study.settings)).to_numpy()
        keep_sample &= ~(genetic & samples["participant_pk"].isin(no_genetic).to_numpy())
    consent_dropped = int((~keep_sample[s_of_r]).sum()) if len(s_of_r) else 0
    if query.timepoints:
        keep_sample &= samples["timepoint"].isin(query.timepoints).to_numpy()
    if query.sample_types:
        keep_sample &= samples["sample_type"].isin(query.sample_types).to_numpy()
    keep = keep_sample[s_of_r] if len(s_of_r) else np.zeros(0, dtype=bool)
    r = {k: v[keep] for k, v in res.items()}
    sp = s_of_r[keep]
    marker_pos = np.full(max((m.id for m in markers), default=0) + 1, -1, dtype=np.int64)
    for i, m in enumerate(markers):
        marker_pos[m.id] = i
    mi = marker_pos[r["marker_id"]]
    tp_rank = {tp.code: tp.order for tp in study.timepoints}
    s_tp_rank = samples["timepoint"].map(tp_rank).fillna(10**6).to_numpy(dtype=np.int64)
    enrol_ord = np.array([p.enrolled_on.toordinal() for p in people], dtype=np.int64)
    s_enrol = np.where(s_person >= 0, enrol_ord[np.maximum(s_person, 0)] if len(people) else -1, -1)

    # Storage time per sample: earliest assay date of its exported results (or today) - date frozen.
    assay_or_today = np.where(r["assay_ord"] < 0, today.toordinal(), r["assay_ord"])
    first_assay = np.full(len(samples), today.toordinal(), dtype=np.int64)
    if len(sp):
        np.minimum.at(first_assay, sp, assay_or_today)
    frozen = samples["frozen_ord"].to_numpy(dtype=np.int64)
    storage = pd.arrays.IntegerArray(np.where(frozen < 0, 0, first_assay - frozen), frozen < 0)
    pre = {"sprec": samples["sprec"].to_numpy(dtype=object),
           "freeze_thaw_count": samples["freeze_thaw_count"].to_numpy(dtype=np.int64),
           "storage_days": storage,
           "processing_delay_h": samples["processing_delay_h"].to_numpy(dtype=np.float64)}
    collection_ord = samples["collection_ord"].to_numpy(dtype=np.int64)
    s_collection_day = _ord_day(collection_ord, s_enrol)
    person_cols = {"participant_id": np.array([p.code for p in people], dtype=object),
                   "site": np.array([p.site.code for p in people], dtype=object),
                   "stratum": np.array([p.stratum for p in people], dtype=object),
                   "stage": np.array([p.stage for p in people], dtype=object)}
    codes = np.array([m.code for m in markers], dtype=object)

    endpoints, variant = _endpoints(session, study, people, list(query.outcomes), variant, query.dates)
    if query.form == "long":
        frame = _long(query, r, sp, mi, s_person, s_tp_rank, samples, pre, s_collection_day, s_enrol,
                      collection_ord, person_cols, markers, codes)
    else:
        frame = _wide(query, r, sp, mi, s_person, s_tp_rank, samples, pre, s_collection_day, collection_ord,
                      enrol_ord, person_cols, codes)
    if endpoints is not None:
        frame = frame.merge(endpoints, on="participant_id", how="left")
    dictionary = _dictionary(frame, markers, variant)
    filtered = bool(query.participants or query.strata)
    excluded = {**excluded, "results of excluded participants": 0 if filtered else consent_dropped}
    return Dataset(frame=frame, dictionary=dictionary, excluded=excluded, dfs_variant=variant,
                   endpoints_included=endpoints is not None)


def _latest(r: dict[str, np.ndarray], mi: np.ndarray) -> np.ndarray:
    """Tell, per result, whether it is the highest replicate of its marker on its sample."""
    import numpy as np
    import pandas as pd

    if not len(mi):
        return np.zeros(0, dtype=bool)
    key = r["sample_id"] * (int(mi.max()) + 1) + mi
    top = pd.Series(r["replicate"]).groupby(key).transform("max").to_numpy()
    return r["replicate"] == top


def _long(query: ExportQuery, r: dict[str, np.ndarray], sp: np.ndarray, mi: np.ndarray, s_person: np.ndarray,
          s_tp_rank: np.ndarray, samples: pd.DataFrame, pre: dict[str, Any], s_collection_day: Any,
          s_enrol: np.ndarray, collection_ord: np.ndarray, person_cols: dict[str, np.ndarray],
          markers: list[Marker], codes: np.ndarray) -> pd.DataFrame:
    """One row per result, ordered by participant, time point, marker, sample and replicate."""
    import numpy as np
    import pandas as pd

    latest = _latest(r, mi)
    pp = s_person[sp]
    order = np.lexsort((r["replicate"], r["sample_id"], mi, s_tp_rank[sp], pp))
    sp, mi, pp, latest = sp[order], mi[order], pp[order], latest[order]
    r = {k: v[order] for k, v in r.items()}
    key_codes, _ = pd.factorize(sp)
    key_names = np.array([f"S{k + 1:06d}" for k in range(int(key_codes.max()) + 1 if len(key_codes) else 0)],
                         dtype=object)
    units = np.array([m.unit for m in markers], dtype=object)
    transforms = np.array([m.transform for m in markers], dtype=object)
    data: dict[str, Any] = {c: v[pp] for c, v in person_cols.items()}
    data.update({
        "timepoint": samples["timepoint"].to_numpy(dtype=object)[sp],
        "sample_type": samples["sample_type"].to_numpy(dtype=object)[sp],
        "sample_key": key_names[key_codes] if len(key_codes) else np.zeros(0, dtype=object),
        "marker": codes[mi], "value": r["value"], "unit": units[mi], "qualifier": r["qualifier"],
        "replicate": r["replicate"], "remeasurement": r["replicate"] > 1, "latest": latest,
        "transform": transforms[mi], "collection_day": s_collection_day[sp],
        "assay_day": _ord_day(r["assay_ord"], s_enrol[sp]),
    })
    if query.dates:
        data["enrol_date"] = _ord_date(s_enrol[sp])
        data["collection_date"] = _ord_date(collection_ord[sp])
        data["assay_date"] = _ord_date(r["assay_ord"])
    for name, values in pre.items():
        data[name] = values[sp]
    return pd.DataFrame(data)


def _wide(query: ExportQuery, r: dict[str, np.ndarray], sp: np.ndarray, mi: np.ndarray, s_person: np.ndarray,
          s_tp_rank: np.ndarray, samples: pd.DataFrame, pre: dict[str, Any], s_collection_day: Any,
          collection_ord: np.ndarray, enrol_ord: np.ndarray, person_cols: dict[str, np.ndarray],
          codes: np.ndarray) -> pd.DataFrame:
    """One row per participant x time point; markers as columns (latest replicate), pre-analytics per type.

    When two samples of a time point carry the same marker, the one registered last (highest sample id) wins.
    """
    import numpy as np
    import pandas as pd

    n_markers = len(codes)
    used = np.unique(sp)
    rank_codes, tp_ranks = pd.factorize(s_tp_rank)  # dense time point rank per sample
    width = len(tp_ranks) + 1
    s_row_key = s_person * width + rank_codes
    row_keys = np.unique(s_row_key[used])
    # Order rows by participant (code order) then by the schedule's time point order.
    tp_of_key = np.asarray(tp_ranks)[row_keys % width] if len(row_keys) else np.zeros(0, dtype=np.int64)
    row_keys = row_keys[np.lexsort((tp_of_key, row_keys // width))]
    row_of_key = pd.Index(row_keys)
    s_row = row_of_key.get_indexer(s_row_key)
    n_rows = len(row_keys)
    latest = _latest(r, mi)
    rows_r = s_row[sp]
    pick = np.flatnonzero(latest)
    pick = pick[np.lexsort((r["sample_id"][pick], mi[pick], rows_r[pick]))]
    cell = rows_r[pick] * max(n_markers, 1) + mi[pick]
    last = np.ones(len(pick), dtype=bool)
    if len(pick) > 1:
        last[:-1] = cell[:-1] != cell[1:]
    pick = pick[last]
    values = np.full((n_rows, n_markers), np.nan)
    values[rows_r[pick], mi[pick]] = r["value"][pick]
    qualifiers = np.full((n_rows, n_markers), None, dtype=object)
    qualifiers[rows_r[pick], mi[pick]] = r["qualifier"][pick]
    present = np.zeros(n_markers, dtype=bool)
    present[mi[pick]] = True
    first_sample = pd.Series(used).groupby(s_row[used]).min()  # any sample of the row, for its facts
    s_first = first_sample.reindex(range(n_rows)).to_numpy(dtype=np.int64)
    person_of_row = s_person[s_first]
    data: dict[str, Any] = {"participant_id": person_cols["participant_id"][person_of_row],
                            "timepoint": samples["timepoint"].to_numpy(dtype=object)[s_first]}
    for c in ("site", "stratum", "stage"):
        data[c] = person_cols[c][person_of_row]
    day = pd.Series(s_collection_day[used]).groupby(s_row[used]).min()
    data["collection_day"] = pd.array(day.reindex(range(n_rows)).to_numpy(), dtype="Int64")
    if query.dates:
        data["enrol_date"] = _ord_date(enrol_ord[person_of_row])
        coll = pd.Series(np.where(collection_ord[used] < 0, 10**9,
                                  collection_ord[used])).groupby(s_row[used]).min()
        data["collection_date"] = _ord_date(np.where(coll.to_numpy() >= 10**9, -1, coll.to_numpy()))
        assay = np.where(r["assay_ord"] < 0, 10**9, r["assay_ord"])
        first = pd.Series(assay).groupby(rows_r).min().reindex(range(n_rows)).fillna(10**9).to_numpy(
            dtype=np.int64)
        data["assay_date"] = _ord_date(np.where(first >= 10**9, -1, first))
    for j in np.flatnonzero(present):
        data[str(codes[j])] = values[:, j]
    for j in np.flatnonzero(present):
        column = qualifiers[:, j]
        if np.not_equal(column, None).any():  # type: ignore[call-overload]  # numpy compares with None
            data[f"{codes[j]}__qualifier"] = column
    s_type = samples["sample_type"].to_numpy(dtype=object)
    for stype in sorted(set(s_type[used].tolist())):
        of_type = used[s_type[used] == stype]
        chosen = pd.Series(of_type).groupby(s_row[of_type]).min()
        rows_with = chosen.index.to_numpy()
        for name, values_ in pre.items():
            column = pd.Series(pd.array(values_)[chosen.to_numpy()], index=rows_with).reindex(range(n_rows))
            data[f"{stype}__{name}"] = column.to_numpy() if name not in ("storage_days",
                                                                         "freeze_thaw_count") \
                else pd.array(column, dtype="Int64")
    return pd.DataFrame(data)


def _type_name(series: pd.Series) -> str:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "number"
    non_null = series.dropna()
    if len(non_null) and isinstance(non_null.iloc[0], (date, datetime)):
        return "date"
    if len(non_null) and isinstance(non_null.iloc[0], (bool, np.bool_)):
        return "boolean"
    return "string"


def _dictionary(frame: pd.DataFrame, markers: list[Marker], variant: str) -> pd.DataFrame:
    """Describe every column of ``frame``: name, label, type, unit, allowed values, derivation."""
    import pandas as pd

    by_code = {m.code: m for m in markers}
    rows = []
    for name in frame.columns:
        label, unit, choices, derivation = _LABELS.get(name, ("", "", "", ""))
        base, _, suffix = name.partition("__")
        if name in by_code:
            m = by_code[name]
            label, unit = m.name, m.unit
            derivation = (f"{m.category} marker ({m.assay or 'assay n/a'}); latest replicate, in the "
                          f"catalogue unit; LOD {m.lod}, LLOQ {m.lloq}, ULOQ {m.uloq}; default transform "
                          f"{m.transform}")
        elif suffix == "qualifier" and base in by_code:
            label, choices = f"Qualifier of {base}", "<LOD; >ULOQ; NA"
            derivation = f"qualifier of the {base} value in this row (empty for a plain number)"
        elif suffix in PREANALYTIC:
            label, unit, choices, derivation = _LABELS[suffix]
            label = f"{label} ({base})"
            derivation = f"{derivation}; first {base} sample of the time point"
        elif name.endswith("_day") and not label:
            label, unit = f"{name.removesuffix('_day')} as study day", "days"
            derivation = f"{name.removesuffix('_day')}_date - enrolment date + 1"
        elif not label:
            label, derivation = name.replace("_", " "), "derived endpoint (analysis.endpoints)"
        if name.startswith(("dfs", "efs")):
            derivation = f"{derivation}; DFS variant {variant}"
        kind = _type_name(frame[name])
        if not choices and kind == "string" and name not in ("participant_id", "sample_key"):
            distinct = frame[name].dropna().unique()
            if 0 < len(distinct) <= 30:
                choices = "; ".join(sorted(str(v) for v in distinct))
        rows.append({"name": name, "label": label, "type": kind, "unit": unit,
                     "allowed_values": choices, "derivation": derivation})
    return pd.DataFrame(rows, columns=["name", "label", "type", "unit", "allowed_values", "derivation"])


def write_data(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise the data frame as CSV, XLSX or Parquet."""
    import pandas as pd

    buffer = io.BytesIO()
    if fmt == "csv":
        buffer.write(frame_csv(frame).encode("utf-8"))
    elif fmt == "xlsx":
        buffer.write(frame_xlsx(frame))
    else:
        out = frame.copy()
        for c in out.columns:
            if out[c].dtype == object and _type_name(out[c]) == "date":
                out[c] = pd.to_datetime(out[c]).dt.date
        out.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def export_dataset(session: Session, study: Study, query: ExportQuery, *, by: Any,
                   today: date | None = None) -> ExportResult:
    """Build, write and zip the dataset and record the export in the audit table (caller commits)."""
    role = getattr(by, "role", "")
    dataset = build_dataset(session, study, query, role=role, today=today)
    data_name = f"data.{query.format}"
    files = {data_name: write_data(dataset.frame, query.format),
             "data_dictionary.csv": frame_csv(dataset.dictionary).encode("utf-8")}
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    at = utcnow()
    frame = dataset.frame
    row_counts = {"rows": len(frame),
                  "participants": int(frame["participant_id"].nunique()) if len(frame) else 0,
                  "columns": len(frame.columns)}
    run = ExportRun(by_id=getattr(by, "id", None), by_username=getattr(by, "username", "?"), role=role, at=at,
                    query=asdict(query), files=hashes, row_counts=row_counts, excluded=dataset.excluded,
                    software_version=__version__, dfs_variant=dataset.dfs_variant)
    session.add(run)
    session.flush()
    audit_record(session, "dataset_export", user=by, object_type="export_run", object_id=run.id,
                 detail=f"{query.form} {query.format}, {row_counts['rows']} rows, "
                        f"{row_counts['participants']} participants",
                 changes={"query": asdict(query), "files": hashes})
    manifest = {
        "export_id": run.id, "study": study.code, "protocol_version": study.protocol_version,
        "exported_by": {"username": run.by_username, "role": role}, "exported_at": at.isoformat(),
        "query": asdict(query), "row_counts": row_counts, "files": hashes,
        "excluded_participants": dataset.excluded, "software": {"name": "trialbank", "version": __version__},
        "dfs_variant": dataset.dfs_variant, "endpoints_included": dataset.endpoints_included,
        "pseudonymisation": ("study IDs only; calendar dates included at the request of an authorised role"
                             if query.dates
                             else "study IDs only; dates given as study days from enrolment (T0)"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():  # Parquet is compressed inside already: stored as it is
            zf.writestr(name, content,
                        compress_type=zipfile.ZIP_STORED if name.endswith(".parquet") else None)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
    filename = f"{study.code}-markers-{query.form}-{at.strftime('%Y%m%dT%H%M%SZ')}-{run.id}.zip"
    return ExportResult(filename=filename, content=buffer.getvalue(), run=run, manifest=manifest)


def parse_list(text: str | list[str] | None) -> list[str]:
    """Split a comma/space separated form field (or pass a list through), dropping blanks."""
    if text is None:
        return []
    items = text if isinstance(text, list) else text.replace(";", ",").replace(" ", ",").split(",")
    return [i.strip() for i in items if i and i.strip()]

