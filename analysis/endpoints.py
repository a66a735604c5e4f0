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
  unsalvaged one - no surgery within ``settings.salvage_window_days`` and before the next regrowth, R1, R2,
  unresectable - counts at the regrowth date; later events still count).
  SECOND_PRIMARY only if ``settings.second_primary_is_event``. Censored at last_disease_assessment_date.
  With ``dfs_t0="rand"`` (default) DFS exists only for randomised cCR patients (NA for everyone else: they
  were never disease-free at a common origin; use EFS for the whole cohort). With ``dfs_t0="enrol"`` the
  events are counted from enrolment for everyone.
- EFS (T0 enrol): the DFS events plus surgery with R2 or unresectable (at the surgery date); censored at
  last_disease_assessment_date.
- Disease events come only from ``disease_events``; a CRE showing disease is not itself an event
  (``check_consistency`` reports CREs showing distant disease or regrowth without a matching event).
- Salvage of a regrowth: ``salvage_r_status`` of the event row, else the first salvage surgery on or after it,
  within ``settings.salvage_window_days`` (default 90) and before the next regrowth.
"""

from __future__ import annotations

import pandas as pd

from analysis.clinical_checks import Problem, check_consistency
from analysis.clinical_tables import (
    RANDOMISED_STRATA,
    TABLES,
    EndpointSettings,
    normalise_tables,
)
from analysis.pathology_response import derive_pathology, trg_from_viable_pct

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
_DISEASE_EVENT_TYPES = ("LOCAL_RECURRENCE", "REGIONAL", "DISTANT", "PROGRESSION_PRECLUDING_SURGERY")
_SITE_OF_TYPE = {
    "LOCAL_REGROWTH": "local",
    "LOCAL_RECURRENCE": "local",
    "REGIONAL": "regional",
    "DISTANT": "distant",
}


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
    """Return time/event/event_type from the first event (participant_id, date, type) or the censor date."""
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


def regrowth_counts(tables: Tables, variant: str = "A",
                    settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return the LOCAL_REGROWTH events with their salvage R status and whether they count as events.

    A regrowth's salvage is the ``salvage_r_status`` recorded on it, else the first salvage operation on or
    after it, within ``settings.salvage_window_days`` and before the participant's next regrowth (a regrowth
    left longer, then a second regrowth salvaged, is two regrowths and only the second is salvaged).
    """
    if variant not in ("A", "B"):
        raise ValueError(f"variant must be 'A' or 'B', not {variant!r}")
    window = pd.Timedelta(days=(settings or EndpointSettings()).salvage_window_days)
    t = normalise_tables(tables)
    ev = t["disease_events"]
    regrowth = ev[ev["type"] == "LOCAL_REGROWTH"].sort_values(["participant_id", "date"]).copy()
    salvage = t["surgery"][t["surgery"]["intent"] == "salvage"].sort_values("date")
    following = regrowth.groupby("participant_id")["date"].shift(-1)
    for idx, row in regrowth.iterrows():
        if pd.notna(row["salvage_r_status"]):
            continue
        later = salvage[(salvage["participant_id"]
                         == row["participant_id"]) & (salvage["date"] >= row["date"])
                        & (salvage["date"] <= row["date"] + window)]
        if pd.notna(following[idx]):
            later = later[later["date"] < following[idx]]
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
    regrowth = regrowth_counts(t, variant, settings)
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
    cre1 = t["cre"][t["cre"]["seq"].eq(1).fillna(False).astype(bool)].sort_values("date")
    overall = _per_participant(cre1, "overall", ids)
    evaluable = overall.isin(["cCR", "local", "regional", "distant"])
    ccr = pd.Series(overall.eq("cCR").to_numpy(), index=ids, dtype="boolean")
    ccr[~evaluable] = pd.NA
    return _finish(
        pd.DataFrame(
            {
                "ccr_cre1": ccr,
                "evaluable": evaluable.astype(bool),
                "cre1_date": _per_participant(cre1, "date", ids),
            }
        )
    )


def first_failure(tables: Tables, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return the first-failure pattern per participant (sites within simultaneous_days are combined)."""
    settings = settings or EndpointSettings()
    t = normalise_tables(tables)
    ids = _ids(t)
    ev = t["disease_events"].dropna(subset=["date"])
    ev = ev[ev["type"] != "SECOND_PRIMARY"].copy()
    ev["failure_site"] = ev["type"].map(_SITE_OF_TYPE)
    pps = ev["type"] == "PROGRESSION_PRECLUDING_SURGERY"
    ev.loc[pps, "failure_site"] = ev.loc[pps, "site"].where(
        ev.loc[pps, "site"].isin(["local", "regional", "distant"])
    )
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
            pattern,
            start,
            "+".join(sites),
        ]
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
    rows.append(
        {
            "measure": "ccr_cre1_itt",
            "group": "all",
            "numerator": n_ccr,
            "denominator": len(derived),
            "missing": int(ccr.isna().sum()),
        }
    )
    rows.append(
        {
            "measure": "ccr_cre1_evaluable",
            "group": "all",
            "numerator": n_ccr,
            "denominator": int(derived["evaluable"].astype(bool).sum()),
            "missing": 0,
        }
    )
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
            rows.append(
                {
                    "measure": measure,
                    "group": name,
                    "numerator": int(values.fillna(False).sum()),
                    "denominator": len(values),
                    "missing": int(values.isna().sum()),
                }
            )
    return pd.DataFrame(rows, columns=["measure", "group", "numerator", "denominator", "missing"])
