"""Resection and pathological response per participant (domain.md section 3): pCR, MPR, TRG.

The first resection (surgery with R0, R1 or R2, by date) is the participant's resection; its specimen is the
pathology row with the same ``surgery_date`` (else the earliest one). ``resected`` is False for explored but
unresectable patients and all pathology fields are then NA.

- pCR = ypT0 and ypN0 (ypTis is not pCR). Without ypT, 0 % viable tumour stands for T0; without ypN,
  ln_positive == 0 stands for N0. Unknown stays NA.
- MPR = viable tumour <= 10 % of the primary bed; without a percentage, ypT0 implies MPR.
- TRG: the recorded system and grade if both are given (``trg_source="recorded"``), else derived from
  ``viable_pct`` in ``settings.trg_system`` (Chirieac by default, ``"derived"``). Mandard and CAP grade
  fibrosis and regression, so they are never derived from a percentage.
- major_residual (preSANO) = Chirieac TRG3-4 or ypN+; Chirieac is taken from the record or from viable_pct.
"""

from __future__ import annotations

import pandas as pd

from analysis.clinical_tables import RESECTED_R_STATUSES, EndpointSettings, normalise_tables

Tables = dict[str, pd.DataFrame]
MPR_MAX_VIABLE_PCT = 10.0  # domain.md section 3, ESCORT-NEO [R10]
_TRG_SYSTEMS = {"mandard": "Mandard", "becker": "Becker", "cap": "CAP", "chirieac": "Chirieac"}


def trg_from_viable_pct(viable_pct: float, system: str = "Chirieac") -> str:
    """Return the TRG grade implied by percent viable tumour (Chirieac or Becker only)."""
    if pd.isna(viable_pct) or not 0 <= viable_pct <= 100:
        raise ValueError(f"viable_pct must be 0-100, not {viable_pct!r}")
    if system == "Chirieac":
        return "1" if viable_pct == 0 else "2" if viable_pct <= 10 else "3" if viable_pct <= 50 else "4"
    if system == "Becker":
        return "1a" if viable_pct == 0 else "1b" if viable_pct < 10 else "2" if viable_pct <= 50 else "3"
    # Mandard and CAP grade regression/fibrosis, which a percentage alone does not determine.
    raise ValueError(f"TRG {system!r} cannot be derived from percent viable tumour")


def _stage(value: object, letter: str) -> str | None:
    """Return a T or N category without prefixes ('ypT0' -> 'T0'), or None if unknown."""
    if value is None or pd.isna(value):
        return None
    text = str(value).strip().upper().replace(" ", "")
    text = text.lstrip("YPC") if text[:1] in "YPC" else text
    if not text.startswith(letter):
        text = letter + text
    return None if text in (letter, letter + "X") else text


def _pathology_row(t: Tables, pid: str, resection_date: pd.Timestamp) -> pd.Series | None:
    rows = t["pathology"][t["pathology"]["participant_id"] == pid]
    if rows.empty:
        return None
    same = rows[rows["surgery_date"] == resection_date]
    return (same if len(same) else rows.sort_values("surgery_date", na_position="last")).iloc[0]


def _path_flags(row: pd.Series, settings: EndpointSettings) -> dict[str, object]:
    t_stage, n_stage = _stage(row["ypt"], "T"), _stage(row["ypn"], "N")
    pct = row["viable_pct"]
    # An impossible percentage is treated as unknown here; check_consistency reports it.
    pct = float(pct) if pd.notna(pct) and 0 <= float(pct) <= 100 else None
    t0 = (t_stage == "T0") if t_stage else (pct == 0 if pct is not None else None)
    n0 = (n_stage == "N0") if n_stage else (row["ln_positive"] == 0 if pd.notna(row["ln_positive"]) else None)
    pcr = False if (t0 is False or n0 is False) else (True if (t0 and n0) else None)
    mpr = (pct <= MPR_MAX_VIABLE_PCT) if pct is not None else (True if t0 else None)
    source: str | None
    system, grade, source = row["trg_system"], row["trg_grade"], "recorded"
    if pd.notna(system) and pd.notna(grade):
        system, grade = _TRG_SYSTEMS.get(str(system).strip().lower(), str(system)), str(grade).strip()
    elif pct is not None:
        system, grade, source = settings.trg_system, trg_from_viable_pct(pct, settings.trg_system), "derived"
    else:
        system, grade, source = None, None, None
    # "Major residual disease" (preSANO) = Chirieac TRG3-4 or ypN+.
    chirieac = grade if system == "Chirieac" else (trg_from_viable_pct(pct) if pct is not None else None)
    major: bool | None = None
    if n0 is False or chirieac in ("3", "4"):
        major = True
    elif chirieac in ("1", "2") and n0:
        major = False
    return {
        "pcr": pcr,
        "mpr": mpr,
        "trg_system": system,
        "trg_grade": grade,
        "trg_source": source,
        "major_residual": major,
    }


def derive_pathology(tables: Tables, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return resection facts, pCR, MPR, TRG and major residual disease per participant (first resection)."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    ids = pd.Index(t["participants"]["participant_id"].drop_duplicates(), name="participant_id")
    surgery = t["surgery"]
    resections = surgery[surgery["r_status"].isin(RESECTED_R_STATUSES)].sort_values("date", kind="stable")
    first = resections.drop_duplicates("participant_id").set_index("participant_id").reindex(ids)
    records = []
    for pid in ids:
        resected = pd.notna(first.at[pid, "r_status"])
        rec: dict[str, object] = {
            "participant_id": pid,
            "resected": resected,
            "resection_date": first.at[pid, "date"],
            "resection_intent": first.at[pid, "intent"],
            "r_status": first.at[pid, "r_status"],
        }
        row = _pathology_row(t, pid, first.at[pid, "date"]) if resected else None
        flags = _path_flags(row, settings) if row is not None else {}
        for key in ("pcr", "mpr", "trg_system", "trg_grade", "trg_source", "major_residual"):
            rec[key] = flags.get(key)
        records.append(rec)
    out = pd.DataFrame.from_records(
        records,
        columns=[
            "participant_id",
            "resected",
            "resection_date",
            "resection_intent",
            "r_status",
            "pcr",
            "mpr",
            "trg_system",
            "trg_grade",
            "trg_source",
            "major_residual",
        ],
    )
    out["resection_date"] = pd.to_datetime(out["resection_date"])
    for col in ("pcr", "mpr", "major_residual"):
        out[col] = out[col].astype("boolean")
    out["resected"] = out["resected"].astype(bool)
    for col in ("resection_intent", "r_status", "trg_system", "trg_grade", "trg_source"):
        out[col] = out[col].astype("string")
    return out
