"""Read the cells of one chunk of a results file, vectorised: samples resolved (with their consent and type),
markers, units paired with their conversion, values and qualifiers, dates, flags; then apply the row rules
(:mod:`lims.markers.rules`) to them.

Work is done once per distinct value (a factorised column), never once per row in Python; every refused cell
is recorded in the report with its row, column, value, reason and the rule that refused it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lims.core.fields import FIRST_DATE, LAST_DATE
from lims.markers import units
from lims.markers.models import Marker
from lims.markers.reading import META_COLUMNS
from lims.markers.report import ImportReport, Problem
from lims.markers.rules import META_LENGTHS, ROW_RULES, Rows, apply
from lims.samples.accession import AccessionError, validate

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

QUALIFIER_SPELLINGS = {"<lod": "<LOD", "< lod": "<LOD", "bld": "<LOD", ">uloq": ">ULOQ", "> uloq": ">ULOQ",
                       "na": "NA", "n/a": "NA"}
TRUE = {"1", "true", "yes", "y", "x"}
FALSE = {"", "0", "false", "no", "n"}
_NOT_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
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

    a = _samples(frame, lookups)
    a.update(_markers(frame, lookups, a["type_idx"]))
    a.update(_units(frame, lookups, a["marker_pos"]))
    a.update(_values(frame))
    with np.errstate(over="ignore"):  # an overflow is refused by its rule, row by row
        a["scaled"] = a["numbers"] * a["factors"]
    a["overflow"] = np.isinf(a["scaled"]) & ~np.isinf(a["numbers"])
    a.update(_meta(frame))
    bad = apply(ROW_RULES, Rows(frame, a, len(frame), lookups.markers, lookups.type_codes), report)
    converted = a["converted"]
    return {
        "bad": bad, "row": frame["_row"].to_numpy(), "sample_id": a["sample_ids"],
        "sample_raw": a["sample_raw"], "marker_pos": a["marker_pos"], "value": a["scaled"],
        "qualifier": a["qualifier"], "converted": converted,
        "original_value": np.where(converted, a["numbers"], np.nan),
        "original_unit": np.where(converted, a["unit_text"], None),
        "assay_date": a["assay_date"], "flagged": a["flagged"],
        "column": frame["_column"].to_numpy(dtype=object) if "_column" in frame.columns else None,
        **{c: text(frame, c) for c in ("run_id", "batch_id", "plate_id", "operator")},
    }


def _resolve(value: str, lookups: Lookups) -> tuple[int, str]:
    """A sample ID's position in the lookups, or -1 and why not (exact match first, then the full check)."""
    pos = lookups.accession_index.get(value)
    if pos is not None:
        return pos, ""
    try:
        printed = validate(value)
    except AccessionError as exc:
        return -1, f"malformed accession ID: {exc}"
    pos = lookups.accession_index.get(printed)
    return (-1, f"no sample {printed} exists") if pos is None else (pos, "")


def _samples(frame: pd.DataFrame, lookups: Lookups) -> dict[str, Any]:
    """Resolve the sample column once per distinct ID: position, database id, consent verdict, type."""
    import numpy as np

    codes, uniques = factor(frame, "sample")
    resolved = [_resolve(value, lookups) for value in uniques.tolist()]
    sample_pos = np.array([pos for pos, _why in resolved], dtype=np.int64)[codes]
    known = sample_pos >= 0
    n = len(frame)
    if len(lookups.sample_ids):
        safe = np.where(known, sample_pos, 0)
        ids, verdicts, types = (lookups.sample_ids[safe], lookups.consent_state[safe],
                                lookups.sample_type_idx[safe])
    else:
        ids, verdicts, types = (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int8),
                                np.zeros(n, dtype=np.int64))
    why = np.array([why for _pos, why in resolved], dtype=object)
    return {"known_sample": known, "sample_why": why[codes],
            "sample_ids": ids, "verdicts": verdicts, "type_idx": types, "sample_raw": uniques[codes]}


def _markers(frame: pd.DataFrame, lookups: Lookups, type_idx: np.ndarray) -> dict[str, Any]:
    """Look each distinct marker code up in the catalogue; is it measured on the sample's type?"""
    import numpy as np

    codes, uniques = factor(frame, "marker")
    found = np.array([lookups.marker_index.get(m.lower(), -1) for m in uniques.tolist()],
                     dtype=np.int64)[codes]
    known = found >= 0
    marker_pos = np.where(known, found, 0)
    allowed = lookups.allowed[marker_pos, type_idx] if lookups.markers else np.ones(len(frame), dtype=bool)
    return {"known_marker": known, "marker_pos": marker_pos, "type_allowed": allowed}


def _units(frame: pd.DataFrame, lookups: Lookups, marker_pos: np.ndarray) -> dict[str, Any]:
    """Decide once per distinct (marker, unit) pair: the factor to the catalogue unit, or why none."""
    import numpy as np
    import pandas as pd

    unit_codes, unit_uniques = factor(frame, "unit")
    width = len(unit_uniques) + 1
    pair_codes, pairs = pd.factorize(marker_pos * width + unit_codes)
    p_factor = np.ones(len(pairs), dtype=np.float64)
    p_converted = np.zeros(len(pairs), dtype=bool)
    p_why = np.full(len(pairs), "", dtype=object)
    for i, key in enumerate(pairs.tolist()):
        m_i, u_i = divmod(int(key), width)
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
    return {"factors": p_factor[pair_codes], "converted": p_converted[pair_codes],
            "unit_why": p_why[pair_codes], "unit_text": unit_uniques[unit_codes]}


def _value_kinds(frame: pd.DataFrame, numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (kind, qualifier) of the cells that are not plain numbers: empty, a qualifier, infinite, bad."""
    import numpy as np
    import pandas as pd

    kind = np.full(len(frame), "", dtype=object)
    qualifier = np.full(len(frame), None, dtype=object)
    odd = np.flatnonzero(np.isnan(numbers))
    if odd.size:
        o_codes, o_uniques = pd.factorize(frame["value"].to_numpy(dtype=object)[odd], use_na_sentinel=False)
        kinds: list[tuple[str, str | None]] = []
        for u in o_uniques.tolist():
            low = str(u).strip().lower()
            if low == "":
                kinds.append(("empty", None))
            elif low in QUALIFIER_SPELLINGS:
                kinds.append(("qualifier", QUALIFIER_SPELLINGS[low]))
            else:
                kinds.append(("infinite" if low in _NOT_FINITE else "bad", None))
        kind[odd] = np.array([k for k, _q in kinds], dtype=object)[o_codes]
        qualifier[odd] = np.array([q for _k, q in kinds], dtype=object)[o_codes]
    return kind, qualifier


def _values(frame: pd.DataFrame) -> dict[str, Any]:
    """Numbers (parsed in C), what the other value cells are, and the qualifier of each row."""
    import numpy as np
    import pandas as pd

    numbers = (frame["_value_num"].to_numpy(dtype=np.float64) if "_value_num" in frame.columns
               else pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64))
    kind, qualifier = _value_kinds(frame, numbers)
    q_codes, q_uniques = factor(frame, "qualifier")
    q_mapped = np.array([QUALIFIER_SPELLINGS.get(q.lower(), "?" if q else None) for q in q_uniques.tolist()],
                        dtype=object)[q_codes]
    bad_qualifier = q_mapped == "?"
    # numpy's stubs refuse None as an operand of an elementwise comparison; numpy itself compares with it
    from_column = np.not_equal(q_mapped, None) & ~bad_qualifier  # type: ignore[call-overload]
    qualifier = np.where(from_column, q_mapped, qualifier)
    return {"numbers": numbers, "kind": kind, "qualifier": qualifier, "bad_qualifier": bad_qualifier,
            "infinite": np.isinf(numbers) | (kind == "infinite"),
            "no_value": (kind == "empty") & np.equal(qualifier, None),  # type: ignore[call-overload]
            "na_with_value": (qualifier == "NA") & ~np.isnan(numbers)}


def _meta(frame: pd.DataFrame) -> dict[str, Any]:
    """Assay dates (parsed once per distinct text), re-measurement flags, and the run/batch/plate/operator
    lengths."""
    import numpy as np
    import pandas as pd

    d_codes, d_uniques = factor(frame, "assay_date")
    parsed = pd.to_datetime(pd.Series(d_uniques), format="%Y-%m-%d", errors="coerce")
    in_range = parsed.between(pd.Timestamp(FIRST_DATE), pd.Timestamp(LAST_DATE)).to_numpy()
    d_bad = (pd.Series(d_uniques) != "").to_numpy() & (parsed.isna().to_numpy() | ~in_range)
    d_text = np.where(parsed.isna().to_numpy(), None, parsed.dt.strftime("%Y-%m-%d").to_numpy(dtype=object))
    f_codes, f_uniques = factor(frame, "remeasurement")
    f_low = [f.lower() for f in f_uniques.tolist()]
    lengths = {}
    for column in META_LENGTHS:
        codes, uniques = factor(frame, column)
        lengths[column] = np.array([len(u) for u in uniques.tolist()], dtype=np.int64)[codes]
    return {"bad_date": d_bad[d_codes], "assay_date": d_text[d_codes],
            "flagged": np.array([f in TRUE for f in f_low], dtype=bool)[f_codes],
            "bad_flag": np.array([f not in TRUE and f not in FALSE for f in f_low], dtype=bool)[f_codes],
            "lengths": lengths}
