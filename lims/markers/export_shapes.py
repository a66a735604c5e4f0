"""The shapes of a marker export: long (one row per result) and wide (one row per sample), and the data
dictionary that describes every column."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from lims.markers.models import Marker

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from lims.markers.export import ExportQuery
    from lims.markers.export_samples import SampleFacts


PREANALYTIC = ("sprec", "freeze_thaw_count", "storage_days", "processing_delay_h")

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

def ord_day(ordinal: np.ndarray, t0: np.ndarray) -> pd.arrays.IntegerArray:
    """Study day from date ordinals (-1 = unknown): date - T0 + 1."""
    import numpy as np
    import pandas as pd

    mask = (ordinal < 0) | (t0 < 0)
    return pd.arrays.IntegerArray(np.where(mask, 0, ordinal - t0 + 1).astype(np.int64), mask)

def ord_date(ordinal: np.ndarray) -> np.ndarray:
    """Dates from ordinals (-1 = unknown -> None), converting each distinct value once."""
    import numpy as np
    import pandas as pd

    codes, uniques = pd.factorize(ordinal)
    as_dates = np.array([None if u < 0 else date.fromordinal(int(u)) for u in uniques], dtype=object)
    return as_dates[codes]


def _latest(r: dict[str, np.ndarray], mi: np.ndarray) -> np.ndarray:
    """Tell, per result, whether it is the highest replicate of its marker on its sample."""
    import numpy as np
    import pandas as pd

    if not len(mi):
        return np.zeros(0, dtype=bool)
    key = r["sample_id"] * (int(mi.max()) + 1) + mi
    top = pd.Series(r["replicate"]).groupby(key).transform("max").to_numpy()
    return r["replicate"] == top


def long_form(query: ExportQuery, r: dict[str, np.ndarray], facts: SampleFacts, pre: dict[str, Any],
              person_cols: dict[str, np.ndarray], markers: list[Marker]) -> pd.DataFrame:
    """One row per result, ordered by participant, time point, marker, sample and replicate."""
    import numpy as np
    import pandas as pd

    latest = _latest(r, r["mi"])
    pp = facts.person[r["sp"]]
    order = np.lexsort((r["replicate"], r["sample_id"], r["mi"], facts.tp_rank[r["sp"]], pp))
    pp, latest = pp[order], latest[order]
    r = {k: v[order] for k, v in r.items()}
    sp, mi, samples, s_enrol = r["sp"], r["mi"], facts.frame, facts.enrol_ord
    codes = np.array([m.code for m in markers], dtype=object)
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
        "transform": transforms[mi], "collection_day": facts.collection_day[sp],
        "assay_day": ord_day(r["assay_ord"], s_enrol[sp]),
    })
    if query.dates:
        data["enrol_date"] = ord_date(s_enrol[sp])
        data["collection_date"] = ord_date(facts.collection_ord[sp])
        data["assay_date"] = ord_date(r["assay_ord"])
    for name, values in pre.items():
        data[name] = values[sp]
    return pd.DataFrame(data)


def type_name(series: pd.Series) -> str:
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


def data_dictionary(frame: pd.DataFrame, markers: list[Marker], variant: str) -> pd.DataFrame:
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
        kind = type_name(frame[name])
        if not choices and kind == "string" and name not in ("participant_id", "sample_key"):
            distinct = frame[name].dropna().unique()
            if 0 < len(distinct) <= 30:
                choices = "; ".join(sorted(str(v) for v in distinct))
        rows.append({"name": name, "label": label, "type": kind, "unit": unit,
                     "allowed_values": choices, "derivation": derivation})
    return pd.DataFrame(rows, columns=["name", "label", "type", "unit", "allowed_values", "derivation"])


