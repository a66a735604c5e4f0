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
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lims import __version__, consent
from lims.core.audit import record as audit_record
from lims.core.db import utcnow
from lims.core.errors import DomainError, Forbidden
from lims.core.permissions import allowed
from lims.core.spreadsheet import frame_csv, frame_xlsx
from lims.markers.export_read import result_blocks
from lims.markers.export_samples import ResultTally, empty_taken, sample_facts
from lims.markers.export_shapes import data_dictionary, long_form, type_name
from lims.markers.export_wide import WidePivot
from lims.markers.models import ExportRun, Marker
from lims.participants.models import Consent, Participant
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

FORMS = ("long", "wide")
FORMATS = ("csv", "xlsx", "parquet")
DEFAULT_OUTCOMES = ("ccr_cre1", "pcr", "mpr", "os_time", "os_event", "dfs_time", "dfs_event", "efs_time",
                    "efs_event")
# Endpoint columns the export supplies itself (covariates) or never passes on.
_ENDPOINT_SKIP = {"participant_id", "site", "stratum", "enrol_date", "variant"}


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


def _day(dates: pd.Series, t0: pd.Series) -> pd.Series:
    """Study day: date - T0 + 1 (NA where either is unknown)."""
    import pandas as pd

    d = pd.to_datetime(dates, errors="coerce")
    t = pd.to_datetime(t0, errors="coerce")
    return ((d - t).dt.days + 1).astype("Int64")


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
    genetic sample types only where the consent covers genetic research (see lims.consent). The results are
    read block by block; the wide form is pivoted as they come (memory holds its cells, not the results).
    """
    import numpy as np

    check_query(query, role)
    today = today or utcnow().date()
    variant = query.dfs_variant or str((study.settings or {}).get("dfs_variant", "A"))
    people, excluded, no_genetic = _consent_filter(session, study, query, purpose)
    markers, catalogue = _markers(session, query.markers)
    marker_ids = [m.id for m in markers]
    facts = sample_facts(session, study, query, people, no_genetic, marker_ids)
    tally = ResultTally(facts, markers, today)
    person_cols = {"participant_id": np.array([p.code for p in people], dtype=object),
                   "site": np.array([p.site.code for p in people], dtype=object),
                   "stratum": np.array([p.stratum for p in people], dtype=object),
                   "stage": np.array([p.stage for p in people], dtype=object)}
    blocks = result_blocks(session, marker_ids, catalogue)
    if query.form == "long":
        taken = [tally.take(block) for block in blocks] or [empty_taken()]
        frame = long_form(query, {k: np.concatenate([t[k] for t in taken]) for k in taken[0]}, facts,
                          tally.preanalytics(), person_cols, markers)
    else:
        pivot = WidePivot(facts, len(markers))
        for block in blocks:
            pivot.add(tally.take(block))
        frame = pivot.frame(query, tally.preanalytics(), person_cols,
                            np.array([m.code for m in markers], dtype=object))
    endpoints, variant = _endpoints(session, study, people, list(query.outcomes), variant, query.dates)
    if endpoints is not None:
        frame = frame.merge(endpoints, on="participant_id", how="left")
    dictionary = data_dictionary(frame, markers, variant)
    filtered = bool(query.participants or query.strata)
    excluded = {**excluded, "results of excluded participants": 0 if filtered else tally.consent_dropped}
    return Dataset(frame=frame, dictionary=dictionary, excluded=excluded, dfs_variant=variant,
                   endpoints_included=endpoints is not None)


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
            if out[c].dtype == object and type_name(out[c]) == "date":
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

