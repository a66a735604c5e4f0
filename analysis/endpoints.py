"""Per-participant trial endpoints (domain.md sections 3-4) derived from the clinical tables.

Input: ``tables: dict[str, DataFrame]`` following the contract in ``analysis.clinical_tables`` (``TABLES``,
re-exported here). Output of ``derive``: one row per participant of ``participants`` with

participant_id, site, stratum, actual_strategy, crossover, enrol_date, rand_date,
ccr_cre1 (boolean; NA if CRE1 missing or not evaluable), evaluable, cre1_date,
resected, resection_date, resection_intent, r_status, pcr, mpr, trg_system, trg_grade, trg_source
(recorded|derived), major_residual, os_time/os_event (T0 enrol), os_rand_time/os_rand_event (T0 rand),
dfs_time/dfs_event/dfs_event_type, dfs_t0, efs_time/efs_event/efs_event_type (T0 enrol), variant,
first_failure (local|regional|distant|combined|unknown|none), first_failure_date, first_failure_sites.

Rules, all exactly as domain.md section 4:
- time = event (or censor) date - T0 + 1 day; ``*_time`` is Int64, ``*_event`` boolean; both NA when T0 or
  the censoring date is missing. ``*_event_type`` lists the event types on the first event day joined by '+'.
- OS: death of any cause; censored at last_alive_date.
- DFS: REGIONAL, DISTANT, LOCAL_RECURRENCE, PROGRESSION_PRECLUDING_SURGERY, death of any cause and
  LOCAL_REGROWTH per variant (A: every regrowth at its date; B: a regrowth salvaged R0 is no event, an
  unsalvaged one - no surgery, R1, R2, unresectable - counts at the regrowth date; later events still count).
  SECOND_PRIMARY only if ``settings.second_primary_is_event``. Censored at last_disease_assessment_date.
  With ``dfs_t0="rand"`` (default) DFS exists only for randomised cCR patients (NA for everyone else: they were
  never disease-free at a common origin; use EFS for the whole cohort). With ``dfs_t0="enrol"`` the same events
  are counted from enrolment for everyone.
- EFS (T0 enrol): the DFS events plus surgery with R2 or unresectable (at the surgery date); censored at
  last_disease_assessment_date.
- Disease events come only from ``disease_events``; a CRE showing disease is not itself an event
  (``check_consistency`` reports CREs showing distant disease or regrowth without a matching event).
- Salvage of a regrowth: ``salvage_r_status`` of the event row, else the first salvage surgery on or after it.
"""

from __future__ import annotations

import pandas as pd

from analysis.clinical_checks import Problem, check_consistency
from analysis.clinical_tables import (
    RANDOMISED_STRATA,
    RESECTED_R_STATUSES,
    TABLES,
    EndpointSettings,
    normalise_tables,
)

__all__ = [
    "TABLES",
    "EndpointSettings",
    "Problem",
    "check_consistency",
    "derive",
    "derive_dfs",
    "derive_efs",
    "derive_os",
    "derive_pathology",
    "derive_response",
    "first_failure",
    "rates",
    "regrowth_counts",
    "trg_from_viable_pct",
]

Tables = dict[str, pd.DataFrame]
MPR_MAX_VIABLE_PCT = 10.0  # domain.md section 3, ESCORT-NEO [R10]
_DISEASE_EVENT_TYPES = ("LOCAL_RECURRENCE", "REGIONAL", "DISTANT", "PROGRESSION_PRECLUDING_SURGERY")
_SITE_OF_TYPE = {
    "LOCAL_REGROWTH": "local",
    "LOCAL_RECURRENCE": "local",
    "REGIONAL": "regional",
    "DISTANT": "distant",
}
_TRG_SYSTEMS = {"mandard": "Mandard", "becker": "Becker", "cap": "CAP", "chirieac": "Chirieac"}


def _ids(t: Tables) -> pd.Index:
    return pd.Index(t["participants"]["participant_id"].drop_duplicates(), name="participant_id")


def _per_participant(frame: pd.DataFrame, column: str, ids: pd.Index) -> pd.Series:
    """Return the first non-duplicated value of column per participant, aligned on ids."""
    return frame.drop_duplicates("participant_id").set_index("participant_id")[column].reindex(ids)


def _t0(t: Tables, t0: str) -> pd.Series:
    ids = _ids(t)
    if t0 == "enrol":
        return _per_participant(t["participants"], "enrol_date", ids)
    if t0 == "rand":
        return _per_participant(t["allocation"], "rand_date", ids)
    raise ValueError(f"t0 must be 'enrol' or 'rand', not {t0!r}")


def _time_to_event(t0: pd.Series, events: pd.DataFrame, censor: pd.Series, prefix: str) -> pd.DataFrame:
    """Return time/event/event_type from the first of events (participant_id, date, type) or the censor date."""
    ids = t0.index
    events = events.dropna(subset=["date"])
    events = events[events["participant_id"].isin(ids)]
    first = events.groupby("participant_id")["date"].min()
    on_first = events[events["date"] == events["participant_id"].map(first)]
    types = on_first.groupby("participant_id")["type"].agg(lambda s: "+".join(sorted(set(s))))
    first = first.reindex(ids)
    has_event = first.notna()
    end = first.where(has_event, censor.reindex(ids))
    days = (end - t0).dt.days + 1
    flag = pd.Series(has_event.to_numpy(), index=ids, dtype="boolean")
    flag[days.isna()] = pd.NA
    return pd.DataFrame(
        {
            f"{prefix}_time": days.astype("Int64"),
            f"{prefix}_event": flag,
            f"{prefix}_event_type": types.reindex(ids).where(flag.fillna(False), None).astype("string"),
        },
        index=ids,
    )


def _events(frame: pd.DataFrame, date: str, kind: str | pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"participant_id": frame["participant_id"], "date": frame[date], "type": kind})


def regrowth_counts(tables: Tables, variant: str = "A") -> pd.DataFrame:
    """Return the LOCAL_REGROWTH events with their salvage R status and whether they count under the variant."""
    if variant not in ("A", "B"):
        raise ValueError(f"variant must be 'A' or 'B', not {variant!r}")
    t = normalise_tables(tables)
    ev = t["disease_events"]
    regrowth = ev[ev["type"] == "LOCAL_REGROWTH"].copy()
    salvage = t["surgery"][t["surgery"]["intent"] == "salvage"].sort_values("date")
    for idx, row in regrowth.iterrows():
        if pd.notna(row["salvage_r_status"]):
            continue
        later = salvage[(salvage["participant_id"] == row["participant_id"]) & (salvage["date"] >= row["date"])]
        if len(later):
            regrowth.loc[idx, "salvage_r_status"] = later["r_status"].iloc[0]
            regrowth.loc[idx, "salvage_surgery_date"] = later["date"].iloc[0]
    regrowth["counts"] = True if variant == "A" else regrowth["salvage_r_status"].fillna("").ne("R0")
    regrowth["counts"] = regrowth["counts"].astype(bool)
    return regrowth[["participant_id", "date", "salvage_surgery_date", "salvage_r_status", "counts"]]


def _dfs_events(t: Tables, variant: str, settings: EndpointSettings) -> pd.DataFrame:
    ev = t["disease_events"]
    types = _DISEASE_EVENT_TYPES + (("SECOND_PRIMARY",) if settings.second_primary_is_event else ())
    disease = ev[ev["type"].isin(types)]
    regrowth = regrowth_counts(t, variant)
    regrowth = regrowth[regrowth["counts"]]
    return pd.concat(
        [
            _events(disease, "date", disease["type"]),
            _events(regrowth, "date", "LOCAL_REGROWTH"),
            _events(t["deaths"], "date", "DEATH"),
        ],
        ignore_index=True,
    )


def _censor(t: Tables, column: str) -> pd.Series:
    return _per_participant(t["last_contact"], column, _ids(t))


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.reset_index()


def derive_os(tables: Tables, t0: str = "enrol") -> pd.DataFrame:
    """Return os_time and os_event per participant from enrolment or randomisation."""
    t = normalise_tables(tables)
    deaths = _events(t["deaths"], "date", "DEATH")
    out = _time_to_event(_t0(t, t0), deaths, _censor(t, "last_alive_date"), "os")
    return _finish(out[["os_time", "os_event"]])


def derive_dfs(
    tables: Tables, variant: str = "A", t0: str = "rand", settings: EndpointSettings | None = None
) -> pd.DataFrame:
    """Return dfs_time, dfs_event and dfs_event_type per participant under variant A or B."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    events = _dfs_events(t, variant, settings)
    return _finish(_time_to_event(_t0(t, t0), events, _censor(t, "last_disease_assessment_date"), "dfs"))


def derive_efs(tables: Tables, variant: str = "A", settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return efs_time, efs_event and efs_event_type per participant from enrolment."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    surgery = t["surgery"][t["surgery"]["r_status"].isin(["R2", "unresectable"])]
    events = pd.concat(
        [_dfs_events(t, variant, settings), _events(surgery, "date", "SURGERY_" + surgery["r_status"])],
        ignore_index=True,
    )
    return _finish(_time_to_event(_t0(t, "enrol"), events, _censor(t, "last_disease_assessment_date"), "efs"))


def derive_response(tables: Tables) -> pd.DataFrame:
    """Return ccr_cre1, evaluable and cre1_date per participant."""
    t = normalise_tables(tables)
    ids = _ids(t)
    cre1 = t["cre"][t["cre"]["seq"].astype("Int64") == 1].sort_values("date")
    overall = _per_participant(cre1, "overall", ids)
    evaluable = overall.isin(["cCR", "local", "regional", "distant"])
    ccr = pd.Series(overall.eq("cCR").to_numpy(), index=ids, dtype="boolean")
    ccr[~evaluable] = pd.NA
    return _finish(
        pd.DataFrame(
            {"ccr_cre1": ccr, "evaluable": evaluable.astype(bool), "cre1_date": _per_participant(cre1, "date", ids)}
        )
    )


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
    t0 = (t_stage == "T0") if t_stage else (pct == 0 if pd.notna(pct) else None)
    n0 = (n_stage == "N0") if n_stage else (row["ln_positive"] == 0 if pd.notna(row["ln_positive"]) else None)
    pcr = False if (t0 is False or n0 is False) else (True if (t0 and n0) else None)
    mpr = bool(pct <= MPR_MAX_VIABLE_PCT) if pd.notna(pct) else (True if t0 else None)
    system, grade, source = row["trg_system"], row["trg_grade"], "recorded"
    if pd.isna(system) or pd.isna(grade):
        system, grade, source = (settings.trg_system, trg_from_viable_pct(pct, settings.trg_system), "derived")
        if pd.isna(pct):
            system, grade, source = None, None, None
    else:
        system, grade = _TRG_SYSTEMS.get(str(system).strip().lower(), str(system)), str(grade).strip()
    # "Major residual disease" (preSANO) = Chirieac TRG3-4 or ypN+.
    chirieac = grade if system == "Chirieac" else (trg_from_viable_pct(pct) if pd.notna(pct) else None)
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
    ids = _ids(t)
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
    out = pd.DataFrame.from_records(records, columns=["participant_id", "resected", "resection_date",
                                                      "resection_intent", "r_status", "pcr", "mpr",
                                                      "trg_system", "trg_grade", "trg_source",
                                                      "major_residual"])
    out["resection_date"] = pd.to_datetime(out["resection_date"])
    for col in ("pcr", "mpr", "major_residual"):
        out[col] = out[col].astype("boolean")
    out["resected"] = out["resected"].astype(bool)
    for col in ("resection_intent", "r_status", "trg_system", "trg_grade", "trg_source"):
        out[col] = out[col].astype("string")
    return out


def first_failure(tables: Tables, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return the first-failure pattern per participant (sites within simultaneous_days are combined)."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    ids = _ids(t)
    ev = t["disease_events"].dropna(subset=["date"])
    ev = ev[ev["type"] != "SECOND_PRIMARY"].copy()
    ev["failure_site"] = ev["type"].map(_SITE_OF_TYPE)
    pps = ev["type"] == "PROGRESSION_PRECLUDING_SURGERY"
    ev.loc[pps, "failure_site"] = ev.loc[pps, "site"].where(ev.loc[pps, "site"].isin(["local", "regional",
                                                                                       "distant"]))
    out = pd.DataFrame(index=ids)
    out["first_failure"] = "none"
    out["first_failure_date"] = pd.NaT
    out["first_failure_sites"] = ""
    for pid, group in ev.groupby("participant_id"):
        if pid not in out.index:
            continue
        start = group["date"].min()
        window = group[group["date"] <= start + pd.Timedelta(days=settings.simultaneous_days)]
        sites = sorted(set(window["failure_site"].dropna()))
        pattern = "unknown" if not sites else sites[0] if len(sites) == 1 else "combined"
        out.loc[pid, ["first_failure", "first_failure_date", "first_failure_sites"]] = [
            pattern, start, "+".join(sites)]
    out["first_failure"] = out["first_failure"].astype("string")
    out["first_failure_sites"] = out["first_failure_sites"].astype("string")
    out["first_failure_date"] = pd.to_datetime(out["first_failure_date"])
    return _finish(out)


def derive(tables: Tables, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return all endpoints, one row per participant, under the given settings."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    ids = _ids(t)
    base = pd.DataFrame(index=ids)
    base["site"] = _per_participant(t["participants"], "site", ids)
    for col in ("stratum", "actual_strategy", "crossover", "rand_date"):
        base[col] = _per_participant(t["allocation"], col, ids)
    base["enrol_date"] = _per_participant(t["participants"], "enrol_date", ids)
    base = base[["site", "stratum", "actual_strategy", "crossover", "enrol_date", "rand_date"]].reset_index()
    os_rand = derive_os(t, "rand").rename(columns={"os_time": "os_rand_time", "os_event": "os_rand_event"})
    # Only randomised cCR patients have a randomisation origin.
    randomised = base.set_index("participant_id")["stratum"].isin(RANDOMISED_STRATA).to_numpy()
    os_rand.loc[~randomised, ["os_rand_time", "os_rand_event"]] = pd.NA
    dfs = derive_dfs(t, settings.dfs_variant, settings.dfs_t0, settings)
    if settings.dfs_t0 == "rand":
        dfs.loc[~randomised, ["dfs_time", "dfs_event", "dfs_event_type"]] = pd.NA
    dfs["dfs_t0"] = settings.dfs_t0
    parts = [
        derive_response(t),
        derive_pathology(t, settings),
        derive_os(t, "enrol"),
        os_rand,
        dfs,
        derive_efs(t, settings.dfs_variant, settings),
        first_failure(t, settings),
    ]
    out = base
    for part in parts:
        out = out.merge(part, on="participant_id", how="left", validate="one_to_one")
    out["variant"] = settings.dfs_variant
    out["participant_id"] = out["participant_id"].astype("string")
    return out


def rates(derived: pd.DataFrame, resection_intent: str | None = None) -> pd.DataFrame:
    """Return numerator/denominator of the cCR (ITT and evaluable), pCR and MPR rates per stratum."""
    rows: list[dict[str, object]] = []
    ccr = derived["ccr_cre1"].astype("boolean")
    n_ccr = int(ccr.fillna(False).sum())
    rows.append({"measure": "ccr_cre1_itt", "group": "all", "numerator": n_ccr, "denominator": len(derived),
                 "missing": int(ccr.isna().sum())})
    rows.append({"measure": "ccr_cre1_evaluable", "group": "all", "numerator": n_ccr,
                 "denominator": int(derived["evaluable"].astype(bool).sum()), "missing": 0})
    resected = derived[derived["resected"].astype(bool)]
    if resection_intent is not None:
        resected = resected[resected["resection_intent"] == resection_intent]
    strata = resected["stratum"].astype("string").fillna("UNALLOCATED")
    for measure in ("pcr", "mpr"):
        groups = [("all", resected[measure])] + [
            (str(name), resected.loc[strata == name, measure]) for name in sorted(strata.unique())
        ]
        for name, values in groups:
            values = values.astype("boolean")
            rows.append({"measure": measure, "group": name, "numerator": int(values.fillna(False).sum()),
                         "denominator": len(values), "missing": int(values.isna().sum())})
    return pd.DataFrame(rows, columns=["measure", "group", "numerator", "denominator", "missing"])
