"""Check the cells of one chunk of a results file, vectorised: samples, consent, markers, units, values,
dates.

Work is done once per distinct value (a factorised column), never once per row in Python; every refused cell
is recorded in the report with its row, column, value and reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lims.core.fields import DATE_REASON, FIRST_DATE, LAST_DATE
from lims.markers import units
from lims.markers.models import Marker
from lims.markers.reading import META_COLUMNS
from lims.markers.report import MAX_LISTED, ImportReport, Problem
from lims.samples.accession import AccessionError, validate

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

QUALIFIER_SPELLINGS = {"<lod": "<LOD", "< lod": "<LOD", "bld": "<LOD", ">uloq": ">ULOQ", "> uloq": ">ULOQ",
                       "na": "NA", "n/a": "NA"}
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}
CONSENT_OK, CONSENT_WITHDRAWN, CONSENT_NO_SCOPE, CONSENT_NO_GENETIC = 0, 1, 2, 3
_UNIT_IN_HEADER = re.compile(r"^(?P<marker>.+?)\s*[\[(](?P<unit>[^\])]+)[\])]\s*$")


@dataclass
class Lookups:
    """Everything validation needs, loaded once: samples, consent, markers, allowed specimen types."""

    accession_index: dict[str, int]
    sample_ids: np.ndarray
    sample_type_idx: np.ndarray
    consent_state: np.ndarray
    type_codes: list[str]
    marker_index: dict[str, int]
    markers: list[Marker]
    allowed: np.ndarray  # [marker, sample type] -> bool


def wide_to_long(frame: pd.DataFrame, lookups: Lookups, report: ImportReport) -> pd.DataFrame:
    """Melt a wide panel (one row per sample, one column per marker) into long rows."""
    import pandas as pd

    marker_columns = [c for c in frame.columns if c not in ("sample", "_row", "qualifier", *META_COLUMNS)]
    if not marker_columns:
        report.add(Problem(report.filename, 1, None, None,
                           "no marker columns: a wide file has one column per marker"))
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


def flag(report: ImportReport, frame: pd.DataFrame, mask: np.ndarray, column: str, reasons: Any) -> None:
    """Record a problem for every row where ``mask`` is set (reason may be a string or an array)."""
    import numpy as np

    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return
    rows = frame["_row"].to_numpy()[idx]
    cols = frame["_column"].to_numpy()[idx] if "_column" in frame.columns else None
    values = frame[column].to_numpy()[idx] if column in frame.columns else None
    # plain numbers keep no text
    if values is not None and column == "value" and "_value_num" in frame.columns:
        numbers = frame["_value_num"].to_numpy()[idx]
        values = np.array([f"{numbers[k]:g}" if values[k] is None else values[k] for k in range(idx.size)],
                          dtype=object)
    texts = reasons[idx] if isinstance(reasons, np.ndarray) else None
    for k in range(idx.size):
        if len(report.problems) >= MAX_LISTED:
            report.problem_count += idx.size - k
            return
        shown = column if cols is None or column not in ("value", "unit", "marker") else str(cols[k])
        report.add(Problem(report.filename, int(rows[k]), shown,
                           None if values is None else str(values[k]),
                           str(texts[k]) if texts is not None else str(reasons)))


def factor(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (codes, stripped distinct values) of a text column; work is then done once per distinct
    value."""
    import numpy as np
    import pandas as pd

    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64), np.array([""], dtype=object)
    series = frame[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int64)
        uniques = [str(c).strip() for c in series.cat.categories] + [""]
        return np.where(codes < 0, len(uniques) - 1, codes), np.array(uniques, dtype=object)
    codes, found = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=False)
    return codes, np.array([str(u).strip() for u in found], dtype=object)


def text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return a text column stripped, with None for empty cells."""
    import numpy as np

    codes, uniques = factor(frame, column)
    return np.array([u or None for u in uniques], dtype=object)[codes]


def validate_chunk(frame: pd.DataFrame, lookups: Lookups, report: ImportReport) -> dict[str, np.ndarray]:
    """Validate one long-form chunk; return the prepared columns (rows with problems are recorded)."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    bad = np.zeros(n, dtype=bool)

    # Samples: exact lookup first, the full accession check only for IDs that miss (once per distinct value).
    s_codes, s_uniques = factor(frame, "sample")
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
    flag(report, frame, unknown, "sample", u_why[s_codes])
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
    flag(report, frame, withdrawn, "sample", "the participant has withdrawn consent: no results may be added")
    no_scope = known_sample & (verdicts == CONSENT_NO_SCOPE)
    flag(report, frame, no_scope, "sample", "the participant's consent does not cover marker research")
    no_genetic = known_sample & (verdicts == CONSENT_NO_GENETIC)
    flag(report, frame, no_genetic, "sample",
          "the participant's consent does not cover genetic research, and this sample type is genetic "
          "material")
    bad |= withdrawn | no_scope | no_genetic

    # Markers.
    m_codes, m_uniques = factor(frame, "marker")
    u_marker = np.array([lookups.marker_index.get(m.lower(), -1) for m in m_uniques.tolist()], dtype=np.int64)
    marker_pos = u_marker[m_codes]
    unknown_marker = marker_pos < 0
    flag(report, frame, unknown_marker, "marker", "no such marker in the catalogue")
    bad |= unknown_marker
    known_marker = ~unknown_marker
    marker_pos = np.where(unknown_marker, 0, marker_pos)
    if lookups.markers:
        wrong_type = known_sample & known_marker & ~lookups.allowed[marker_pos, type_idx]
        if wrong_type.any():
            why = np.array([
                f"{lookups.markers[m].code} is measured on "
                f"{', '.join(lookups.markers[m].specimen_types) or 'no specimen type'}, not "
                f"{lookups.type_codes[t]}" for m, t in zip(marker_pos, type_idx, strict=True)], dtype=object)
            flag(report, frame, wrong_type, "sample", why)
            bad |= wrong_type

    # Units: one decision per distinct (marker, unit) pair.
    unit_codes, unit_uniques = factor(frame, "unit")
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
            p_why[i] = (f"unit {unit!r} does not convert to the catalogue unit {marker.unit!r} of "
                        f"{marker.code}")
        elif units.unit_key(unit) != units.unit_key(marker.unit):
            p_factor[i], p_converted[i] = f, True
    factors = p_factor[pair_codes]
    converted = p_converted[pair_codes]
    unit_why = p_why[pair_codes]
    unit_bad = known_marker & (unit_why != "")
    flag(report, frame, unit_bad, "unit", unit_why)
    bad |= unit_bad
    unit_text = unit_uniques[unit_codes]

    numbers, qualifier, value_bad = _values(frame, report)
    with np.errstate(over="ignore"):  # an overflow is reported below, row by row
        scaled = numbers * factors
    overflow = np.isinf(scaled) & ~np.isinf(numbers)
    flag(report, frame, overflow, "value", "too large once converted to the catalogue unit")
    assay_date, flagged, meta_bad = _meta(frame, report)
    bad |= value_bad | overflow | meta_bad
    return {
        "bad": bad, "row": frame["_row"].to_numpy(), "sample_id": sample_ids,
        "sample_raw": s_uniques[s_codes],
        "marker_pos": marker_pos, "value": scaled, "qualifier": qualifier, "converted": converted,
        "original_value": np.where(converted, numbers, np.nan),
        "original_unit": np.where(converted, unit_text, None),
        "assay_date": assay_date, "flagged": flagged,
        "column": frame["_column"].to_numpy(dtype=object) if "_column" in frame.columns else None,
        **{c: text(frame, c) for c in ("run_id", "batch_id", "plate_id", "operator")},
    }


_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
META_LENGTHS = {"run_id": 60, "batch_id": 60, "plate_id": 60, "operator": 80}


def _values(frame: pd.DataFrame, report: ImportReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (numbers, qualifiers, bad) of a chunk: numbers parse in C; only odd cells are looked at."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    numbers = (frame["_value_num"].to_numpy(dtype=np.float64) if "_value_num" in frame.columns
               else pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64))
    qualifier = np.full(n, None, dtype=object)
    kind = np.full(n, "", dtype=object)
    odd = np.flatnonzero(np.isnan(numbers))
    if odd.size:
        o_codes, o_uniques = pd.factorize(frame["value"].to_numpy(dtype=object)[odd], use_na_sentinel=False)
        kinds: list[tuple[str, str | None]] = []
        for u in o_uniques.tolist():
            text = str(u).strip().lower()
            if text == "":
                kinds.append(("empty", None))
            elif text in QUALIFIER_SPELLINGS:
                kinds.append(("qualifier", QUALIFIER_SPELLINGS[text]))
            else:
                kinds.append(("infinite" if text in _NOT_FINITE else "bad", None))
        kind[odd] = np.array([k for k, _q in kinds], dtype=object)[o_codes]
        qualifier[odd] = np.array([q for _k, q in kinds], dtype=object)[o_codes]
    not_number = kind == "bad"
    flag(report, frame, not_number, "value", "not a number")
    q_codes, q_uniques = factor(frame, "qualifier")
    q_mapped = np.array([QUALIFIER_SPELLINGS.get(q.lower(), "?" if q else None) for q in q_uniques.tolist()],
                        dtype=object)[q_codes]
    bad_qualifier = q_mapped == "?"
    flag(report, frame, bad_qualifier, "qualifier", "qualifier must be <LOD, >ULOQ or NA")
    # numpy's stubs refuse None as an operand of an elementwise comparison; numpy itself compares with it
    from_column = np.not_equal(q_mapped, None) & ~bad_qualifier  # type: ignore[call-overload]
    qualifier = np.where(from_column, q_mapped, qualifier)
    infinite = np.isinf(numbers) | (kind == "infinite")
    flag(report, frame, infinite, "value", "not a finite number: NaN and infinity are not results "
          "(leave the value empty with qualifier NA)")
    no_value = (kind == "empty") & np.equal(qualifier, None)  # type: ignore[call-overload]
    flag(report, frame, no_value, "value", "no value and no qualifier (<LOD, >ULOQ or NA)")
    na_with_value = (qualifier == "NA") & ~np.isnan(numbers)
    flag(report, frame, na_with_value, "value", "qualifier NA means no value, but a value was given")
    return numbers, qualifier, not_number | bad_qualifier | infinite | no_value | na_with_value


def _meta(frame: pd.DataFrame, report: ImportReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (assay dates, re-measurement flags, bad) of a chunk, checking the run/batch/plate/operator
    cells."""
    import numpy as np
    import pandas as pd

    bad = np.zeros(len(frame), dtype=bool)
    d_codes, d_uniques = factor(frame, "assay_date")
    parsed = pd.to_datetime(pd.Series(d_uniques), format="%Y-%m-%d", errors="coerce")
    in_range = parsed.between(pd.Timestamp(FIRST_DATE), pd.Timestamp(LAST_DATE)).to_numpy()
    d_bad = (pd.Series(d_uniques) != "").to_numpy() & (parsed.isna().to_numpy() | ~in_range)
    d_text = np.where(parsed.isna().to_numpy(), None, parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=object))
    bad_date = d_bad[d_codes]
    flag(report, frame, bad_date, "assay_date", f"not {DATE_REASON} (use YYYY-MM-DD)")
    bad |= bad_date
    f_codes, f_uniques = factor(frame, "remeasurement")
    f_low = [f.lower() for f in f_uniques.tolist()]
    flagged = np.array([f in TRUE for f in f_low], dtype=bool)[f_codes]
    bad_flag = np.array([f not in TRUE and f not in FALSE for f in f_low], dtype=bool)[f_codes]
    flag(report, frame, bad_flag, "remeasurement", "use yes or no")
    bad |= bad_flag
    for column, limit in META_LENGTHS.items():
        codes, uniques = factor(frame, column)
        too_long = np.array([len(u) > limit for u in uniques.tolist()], dtype=bool)[codes]
        flag(report, frame, too_long, column, f"longer than {limit} characters")
        bad |= too_long
    return d_text[d_codes], flagged, bad
