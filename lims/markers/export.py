"""Linked, pseudonymised, consent-aware dataset export: markers x covariates x pre-analytics x endpoints.

One code path for the web form, the JSON API and ``lims export``: :func:`export_dataset` builds the frame,
writes data + data dictionary + manifest into a zip, and records an :class:`ExportRun`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims import __version__
from lims.core.db import utcnow
from lims.core.errors import DomainError, Forbidden
from lims.markers.models import ExportRun, Marker
from lims.participants.models import Participant, Visit
from lims.samples import sprec
from lims.samples.models import Sample
from lims.samples.presenters import preanalytics
from lims.studies.models import ContainerType, SampleType, Study, TimePoint

FORMS = ("long", "wide")
FORMATS = ("csv", "xlsx", "parquet")
DATE_ROLES = ("pi", "data_manager", "admin")
DEFAULT_OUTCOMES = ("ccr_cre1", "pcr", "mpr", "os_time", "os_event", "dfs_time", "dfs_event", "efs_time",
                    "efs_event")
UNSCHEDULED = "UNSCHEDULED"
PREANALYTIC = ("sprec", "freeze_thaw_count", "storage_days", "processing_delay_h")
# Endpoint columns the export supplies itself (covariates) or never passes on.
_ENDPOINT_SKIP = {"participant_id", "site", "stratum", "enrol_date", "variant"}

_LABELS: dict[str, tuple[str, str, str, str]] = {
    # name: (label, unit, allowed values, derivation)
    "participant_id": ("Pseudonymous study ID", "", "", "participant.code (site code + number); no other identifier"),
    "site": ("Enrolling site", "", "", "participant.site.code"),
    "stratum": ("Stratum / arm", "", "NON_CCR_SURGERY; CCR_SURGERY; CCR_WW", "participant.stratum (cCR at CRE1 + randomisation)"),
    "stage": ("AJCC 8 clinical stage", "", "", "participant.stage at enrolment"),
    "timepoint": ("Schedule time point", "", "", "the visit the sample was collected at (UNSCHEDULED if none)"),
    "sample_type": ("Sample type", "", "", "sample.sample_type.code"),
    "sample_key": ("Pseudonymous sample key", "", "", "numbered within this export; not the accession ID"),
    "marker": ("Marker code", "", "", "marker catalogue code"),
    "value": ("Result value", "catalogue unit of the marker", "", "value in the catalogue unit (converted on import; the lab's original is kept in the database)"),
    "unit": ("Unit of value", "", "", "catalogue unit of the marker"),
    "qualifier": ("Result qualifier", "", "<LOD; >ULOQ; NA", "as reported by the lab; empty for a plain number"),
    "replicate": ("Replicate number", "", "", "1 = first measurement; >1 = re-measurement of the same marker on the same sample"),
    "remeasurement": ("Is a re-measurement", "", "True; False", "replicate > 1"),
    "latest": ("Latest measurement", "", "True; False", "the highest replicate of this marker on this sample (what the wide form uses)"),
    "transform": ("Default analysis transform", "", "none; log2; log10; clr", "marker catalogue"),
    "collection_day": ("Collection study day", "days", "", "collection date - enrolment date + 1 (T0 = enrolment)"),
    "assay_day": ("Assay study day", "days", "", "assay date - enrolment date + 1 (T0 = enrolment)"),
    "collection_date": ("Collection date", "", "", "sample.collected_at (UTC date); only for roles allowed to see dates"),
    "assay_date": ("Assay date", "", "", "as reported by the lab; only for roles allowed to see dates"),
    "enrol_date": ("Enrolment date (T0)", "", "", "participant.enrolled_on; only for roles allowed to see dates"),
    "sprec": ("SPREC code", "", "", "derived from the raw pre-analytical values (lims.samples.sprec)"),
    "freeze_thaw_count": ("Freeze-thaw cycles", "cycles", "", "sample.freeze_thaw_count"),
    "storage_days": ("Storage time", "days", "", "assay date (or the export date) - date frozen"),
    "processing_delay_h": ("Processing delay", "hours", "", "processing start - collection time"),
    "ccr_cre1": ("Clinical complete response at CRE1", "", "True; False", "derived endpoint (analysis.endpoints)"),
    "pcr": ("Pathological complete response", "", "True; False", "ypT0N0, derived endpoint"),
    "mpr": ("Major pathological response", "", "True; False", "<= 10 % viable tumour, derived endpoint"),
    "os_time": ("Overall survival time from enrolment", "days", "", "death/censor date - T0 + 1"),
    "os_event": ("Overall survival event", "", "0; 1", "death of any cause"),
    "dfs_time": ("Disease-free survival time", "days", "", "per the DFS variant in the manifest"),
    "dfs_event": ("Disease-free survival event", "", "0; 1", "per the DFS variant in the manifest"),
    "efs_time": ("Event-free survival time from enrolment", "days", "", "per the DFS variant in the manifest"),
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


def _check_query(query: ExportQuery, role: str) -> None:
    if query.form not in FORMS:
        raise DomainError(f"form must be one of {', '.join(FORMS)}", field="form")
    if query.format not in FORMATS:
        raise DomainError(f"format must be one of {', '.join(FORMATS)}", field="format")
    if query.dfs_variant not in (None, "A", "B"):
        raise DomainError("DFS variant must be A or B", field="dfs_variant")
    if query.dates and role not in DATE_ROLES:
        raise Forbidden("your role sees study days, not calendar dates; untick 'include dates'", )


def _consent_filter(session: Session, study: Study, query: ExportQuery) -> tuple[list[Participant], dict[str, int]]:
    """Return the participants to include and how many matching ones were excluded, by reason."""
    stmt = (select(Participant).where(Participant.study_id == study.id).order_by(Participant.code)
            .options(selectinload(Participant.consents), selectinload(Participant.site)))
    if query.participants:
        stmt = stmt.where(Participant.code.in_([c.strip().upper() for c in query.participants]))
    if query.strata:
        stmt = stmt.where(Participant.stratum.in_(query.strata))
    included, withdrawn, no_scope = [], 0, 0
    for p in session.scalars(stmt):
        consent = p.consent
        if consent is not None and consent.withdrawn_on is not None:
            withdrawn += 1
        elif consent is None or not consent.allows("MARKER_RESEARCH"):
            no_scope += 1
        else:
            included.append(p)
    return included, {"withdrawn consent": withdrawn, "consent does not cover marker research": no_scope}


def _markers(session: Session, codes: list[str]) -> list[Marker]:
    stmt = select(Marker).order_by(Marker.category, Marker.code)
    markers = list(session.scalars(stmt))
    if codes:
        wanted = {c.strip().lower() for c in codes}
        unknown = wanted - {m.code.lower() for m in markers}
        if unknown:
            raise DomainError(f"unknown marker(s): {', '.join(sorted(unknown))}", field="markers")
        markers = [m for m in markers if m.code.lower() in wanted]
    return markers


def _results_frame(session: Session, marker_ids: list[int]) -> pd.DataFrame:
    """Read the selected markers' results with the raw DB-API cursor (the heavy part of an export)."""
    columns = ["result_id", "sample_id", "marker_id", "value", "qualifier", "replicate", "assay_date"]
    placeholders = ", ".join(str(int(i)) for i in marker_ids) or "NULL"
    sql = (f"SELECT id, sample_id, marker_id, value, qualifier, replicate, assay_date FROM marker_result "
           f"WHERE marker_id IN ({placeholders})")
    cursor = session.connection().exec_driver_sql(sql)
    frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
    frame["value"] = frame["value"].astype("float64")
    return frame


def _samples_frame(session: Session, sample_ids: np.ndarray) -> pd.DataFrame:
    """One row per sample: participant, time point, type and pre-analytical variables (SPREC derived)."""
    types = {t.id: t for t in session.scalars(select(SampleType))}
    containers = {c.id: c for c in session.scalars(select(ContainerType))}
    timepoints = {v_id: code for v_id, code in session.execute(
        select(Visit.id, TimePoint.code).join(TimePoint, TimePoint.id == Visit.timepoint_id))}
    table = Sample.__table__
    rows = []
    ids = sample_ids.tolist()
    for start in range(0, len(ids), 20_000):
        chunk = ids[start:start + 20_000]
        rows.extend(session.execute(select(table).where(table.c.id.in_(chunk))).mappings().all())
    out = []
    for r in rows:
        ns = SimpleNamespace(**r, sample_type=types[r["sample_type_id"]],
                             container_type=containers.get(r["container_type_id"]))
        collected = r["collected_at"]
        started = r["processing_started_at"]
        frozen = r["frozen_at"]
        out.append((r["id"], r["participant_id"], timepoints.get(r["visit_id"], UNSCHEDULED),
                    types[r["sample_type_id"]].code, None if r["status"] == "missed" else sprec.derive(preanalytics(ns)),
                    r["freeze_thaw_count"], collected.date() if collected else None,
                    frozen.date() if frozen else None,
                    round((started - collected).total_seconds() / 3600, 2) if collected and started else None))
    return pd.DataFrame(out, columns=["sample_id", "participant_pk", "timepoint", "sample_type", "sprec",
                                      "freeze_thaw_count", "collection_date", "frozen_date", "processing_delay_h"])


def _day(dates: pd.Series, t0: pd.Series) -> pd.Series:
    """Study day: date - T0 + 1 (NA where either is unknown)."""
    d = pd.to_datetime(dates, errors="coerce")
    t = pd.to_datetime(t0, errors="coerce")
    return ((d - t).dt.days + 1).astype("Int64")


def _endpoints(session: Session, study: Study, people: list[Participant], outcomes: list[str],
               variant: str, dates: bool) -> tuple[pd.DataFrame | None, str]:
    """Return the selected endpoint columns per participant code (dates turned into study days)."""
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
                          f"{', '.join(c for c in derived.columns if c not in _ENDPOINT_SKIP)}", field="outcomes")
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
                  today: date | None = None) -> Dataset:
    """Build the long or wide dataset the query asks for (no files written)."""
    _check_query(query, role)
    today = today or utcnow().date()
    variant = query.dfs_variant or str((study.settings or {}).get("dfs_variant", "A"))
    people, excluded = _consent_filter(session, study, query)
    markers = _markers(session, query.markers)
    results = _results_frame(session, [m.id for m in markers])
    samples = _samples_frame(session, pd.unique(results["sample_id"]))
    person = pd.DataFrame([(p.id, p.code, p.site.code, p.stratum, p.stage, p.enrolled_on) for p in people],
                          columns=["participant_pk", "participant_id", "site", "stratum", "stage", "enrol_date"])
    merged = results.merge(samples, on="sample_id", how="inner")
    all_results = len(merged)
    merged = merged.merge(person, on="participant_pk", how="inner")
    if query.participants or query.strata:
        excluded_results = 0
    else:
        excluded_results = all_results - len(merged)
    if query.timepoints:
        merged = merged[merged["timepoint"].isin(query.timepoints)]
    if query.sample_types:
        merged = merged[merged["sample_type"].isin(query.sample_types)]
    info = pd.DataFrame([(m.id, m.code, m.unit, m.transform) for m in markers],
                        columns=["marker_id", "marker", "unit", "transform"])
    merged = merged.merge(info, on="marker_id", how="left")
    merged = merged.sort_values(["participant_id", "timepoint", "marker", "sample_id", "replicate"], kind="stable")
    assay = pd.to_datetime(merged["assay_date"], errors="coerce")
    frozen = pd.to_datetime(merged["frozen_date"], errors="coerce")
    storage_end = assay.fillna(pd.Timestamp(today))
    merged["storage_days"] = (storage_end - frozen).dt.days.astype("Int64")
    merged["collection_day"] = _day(merged["collection_date"], merged["enrol_date"])
    merged["assay_day"] = _day(merged["assay_date"], merged["enrol_date"])
    top = merged.groupby(["sample_id", "marker_id"], sort=False)["replicate"].transform("max")
    merged["latest"] = (merged["replicate"] == top).to_numpy()
    merged["remeasurement"] = (merged["replicate"] > 1).to_numpy()
    keys = {sid: i + 1 for i, sid in enumerate(pd.unique(merged["sample_id"]))}
    merged["sample_key"] = merged["sample_id"].map(keys).map(lambda k: f"S{k:06d}")
    date_cols = ["enrol_date", "collection_date", "assay_date"] if query.dates else []
    endpoints, variant = _endpoints(session, study, people, list(query.outcomes), variant, query.dates)
    if query.form == "long":
        frame = merged[["participant_id", "site", "stratum", "stage", "timepoint", "sample_type", "sample_key",
                        "marker", "value", "unit", "qualifier", "replicate", "remeasurement", "latest", "transform",
                        "collection_day", "assay_day", *date_cols, *PREANALYTIC]].reset_index(drop=True)
        for c in date_cols:
            frame[c] = pd.to_datetime(frame[c], errors="coerce").dt.date
    else:
        frame = _wide(merged, markers, date_cols)
    if endpoints is not None:
        frame = frame.merge(endpoints, on="participant_id", how="left")
    dictionary = _dictionary(frame, markers, variant)
    excluded = {**excluded, "results of excluded participants": int(excluded_results)}
    return Dataset(frame=frame, dictionary=dictionary, excluded=excluded, dfs_variant=variant,
                   endpoints_included=endpoints is not None)


def _wide(merged: pd.DataFrame, markers: list[Marker], date_cols: list[str]) -> pd.DataFrame:
    """One row per participant x time point; markers as columns (latest replicate), pre-analytics per type."""
    keys = ["participant_id", "timepoint"]
    latest = merged[merged["latest"]].drop_duplicates(subset=[*keys, "marker"], keep="last")
    base = (merged.groupby(keys, sort=True)
            .agg(site=("site", "first"), stratum=("stratum", "first"), stage=("stage", "first"),
                 collection_day=("collection_day", "min"), **{c: (c, "min") for c in date_cols})
            .reset_index())
    for c in date_cols:
        base[c] = pd.to_datetime(base[c], errors="coerce").dt.date
    values = latest.pivot(index=keys, columns="marker", values="value")
    codes = [m.code for m in markers if m.code in values.columns]
    wide = base.merge(values[codes].reset_index(), on=keys, how="left")
    qualified = latest[latest["qualifier"].notna()]
    if len(qualified):
        quals = qualified.pivot(index=keys, columns="marker", values="qualifier")
        quals.columns = [f"{c}__qualifier" for c in quals.columns]
        wide = wide.merge(quals.reset_index(), on=keys, how="left")
    per_type = (merged.sort_values("sample_id").drop_duplicates(subset=[*keys, "sample_type"], keep="first"))
    for stype in sorted(per_type["sample_type"].unique()):
        part = per_type[per_type["sample_type"] == stype][[*keys, *PREANALYTIC]]
        part = part.rename(columns={c: f"{stype}__{c}" for c in PREANALYTIC})
        wide = wide.merge(part, on=keys, how="left")
    order = {tp: i for i, tp in enumerate(pd.unique(merged.sort_values("collection_day")["timepoint"]))}
    wide["_order"] = wide["timepoint"].map(order)
    return wide.sort_values(["participant_id", "_order"]).drop(columns="_order").reset_index(drop=True)


def _type_name(series: pd.Series) -> str:
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
    by_code = {m.code: m for m in markers}
    rows = []
    for name in frame.columns:
        label, unit, allowed, derivation = _LABELS.get(name, ("", "", "", ""))
        base, _, suffix = name.partition("__")
        if name in by_code:
            m = by_code[name]
            label, unit = m.name, m.unit
            derivation = (f"{m.category} marker ({m.assay or 'assay n/a'}); latest replicate, in the catalogue unit; "
                          f"LOD {m.lod}, LLOQ {m.lloq}, ULOQ {m.uloq}; default transform {m.transform}")
        elif suffix == "qualifier" and base in by_code:
            label, allowed = f"Qualifier of {base}", "<LOD; >ULOQ; NA"
            derivation = f"qualifier of the {base} value in this row (empty for a plain number)"
        elif suffix in PREANALYTIC:
            label, unit, allowed, derivation = _LABELS[suffix]
            label = f"{label} ({base})"
            derivation = f"{derivation}; first {base} sample of the time point"
        elif name.endswith("_day") and not label:
            label, unit = f"{name.removesuffix('_day')} as study day", "days"
            derivation = f"{name.removesuffix('_day')}_date - enrolment date + 1"
        elif not label:
            label, derivation = name.replace("_", " "), "derived endpoint (analysis.endpoints)"
        if name.startswith(("dfs", "efs")):
            derivation = f"{derivation}; DFS variant {variant}"
        rows.append({"name": name, "label": label, "type": _type_name(frame[name]), "unit": unit,
                     "allowed_values": allowed, "derivation": derivation})
    return pd.DataFrame(rows, columns=["name", "label", "type", "unit", "allowed_values", "derivation"])


def write_data(frame: pd.DataFrame, fmt: str) -> bytes:
    """Serialise the data frame as CSV, XLSX or Parquet."""
    buffer = io.BytesIO()
    if fmt == "csv":
        buffer.write(frame.to_csv(index=False).encode("utf-8"))
    elif fmt == "xlsx":
        frame.to_excel(buffer, index=False, engine="openpyxl")
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
             "data_dictionary.csv": dataset.dictionary.to_csv(index=False).encode("utf-8")}
    hashes = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    at = utcnow()
    frame = dataset.frame
    row_counts = {"rows": len(frame), "participants": int(frame["participant_id"].nunique()) if len(frame) else 0,
                  "columns": len(frame.columns)}
    run = ExportRun(by_id=getattr(by, "id", None), by_username=getattr(by, "username", "?"), role=role, at=at,
                    query=asdict(query), files=hashes, row_counts=row_counts, excluded=dataset.excluded,
                    software_version=__version__, dfs_variant=dataset.dfs_variant)
    session.add(run)
    session.flush()
    manifest = {
        "export_id": run.id, "study": study.code, "protocol_version": study.protocol_version,
        "exported_by": {"username": run.by_username, "role": role}, "exported_at": at.isoformat(),
        "query": asdict(query), "row_counts": row_counts, "files": hashes,
        "excluded_participants": dataset.excluded, "software": {"name": "trialbank", "version": __version__},
        "dfs_variant": dataset.dfs_variant, "endpoints_included": dataset.endpoints_included,
        "pseudonymisation": ("study IDs only; calendar dates included at the request of an authorised role"
                             if query.dates else "study IDs only; dates given as study days from enrolment (T0)"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
    filename = f"{study.code}-markers-{query.form}-{at.strftime('%Y%m%dT%H%M%SZ')}-{run.id}.zip"
    return ExportResult(filename=filename, content=buffer.getvalue(), run=run, manifest=manifest)


def parse_list(text: str | list[str] | None) -> list[str]:
    """Split a comma/space separated form field (or pass a list through), dropping blanks."""
    if text is None:
        return []
    items = text if isinstance(text, list) else text.replace(";", ",").replace(" ", ",").split(",")
    return [i.strip() for i in items if i and i.strip()]

