"""A watch-and-wait trial's readout comparisons without guarantee-time bias, from the derived endpoints.

Strata are assigned at CRE1 (randomisation follows within days), and participants who die or drop out before
CRE1 are in no stratum. Comparing OS or EFS "by stratum" from enrolment therefore credits each stratum with
the time its members had to survive to be assigned (guarantee-time bias: a null effect comes out highly
significant). ``by_stratum`` compares the strata from a landmark (a day by which every stratum is known, after
CRE1) for everyone still at risk then, with the clock restarted; a participant assigned after the landmark is
left out. Arms compared from randomisation (DFS, OS from randomisation) need no landmark.

``competing_frame`` codes each randomised participant's first failure from randomisation as one of
``CAUSES`` (local or regional failure, distant disease, death without failure) for ``analysis.competing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis import survival
from analysis.clinical_tables import EndpointSettings, normalise_tables
from analysis.endpoints import first_failure

__all__ = ["CAUSES", "ByStratum", "by_stratum", "competing_frame", "stratum_frame"]

UNALLOCATED = "UNALLOCATED"
CAUSES = {1: "Local or regional failure", 2: "Distant disease", 3: "Death without failure",
          4: "Failure at an unrecorded site"}


@dataclass(frozen=True)
class ByStratum:
    """Survival by stratum from a landmark: per-stratum table, the log-rank test and the analysed rows."""

    table: pd.DataFrame
    logrank: survival.LogRank | None
    frame: pd.DataFrame
    landmark: float
    timing: survival.Timing


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (pd.to_datetime(later) - pd.to_datetime(earlier)).dt.days.astype(float) + 1


def stratum_frame(derived: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Return time/event from enrolment, the stratum and the day it was assigned (enrolment = day 1).

    The assignment day is randomisation for randomised strata, CRE1 otherwise; "UNALLOCATED" participants
    (no stratum) are known as such at CRE1, or at the landmark when they never had one.
    """
    stratum = derived["stratum"].astype(object).where(derived["stratum"].notna(), UNALLOCATED).astype(str)
    assigned = _days(derived["rand_date"], derived["enrol_date"]).where(
        derived["rand_date"].notna(), _days(derived["cre1_date"], derived["enrol_date"]))
    out = pd.DataFrame({
        "participant_id": derived["participant_id"].astype(str),
        "time": derived[f"{prefix}_time"].astype("Float64").astype(float),
        "event": derived[f"{prefix}_event"].astype("Float64").astype(float),
        "stratum": stratum,
        "assigned_day": assigned.to_numpy(),
    })
    return out[out["time"].notna() & out["event"].notna()].reset_index(drop=True)


def by_stratum(derived: pd.DataFrame, prefix: str, landmark: float, days: Sequence[float] = (365, 730),
               order: Sequence[str] = ()) -> ByStratum:
    """Compare ``prefix`` (os, efs) across strata from ``landmark`` days after enrolment (see the docstring).

    The table gives per stratum n, events, median (95% CI) and the Kaplan-Meier estimate at each of ``days``
    after the landmark, in ``order`` (then any other stratum); the log-rank test compares the strata.
    """
    frame = stratum_frame(derived, prefix)
    empty = pd.DataFrame(columns=["stratum", "n", "events", "median", "median_lower", "median_upper"])
    kept = survival.landmark(frame, "time", "event", landmark) if len(frame) else frame
    late = kept["assigned_day"] > landmark
    kept = kept[~late]
    timing = survival.Timing(landmark=landmark, post_baseline=("stratum",), late_draws=int(late.sum()))
    if kept.empty or kept["event"].sum() == 0:
        return ByStratum(empty, None, kept, landmark, timing)
    fit = survival.km(kept, "time", "event", "stratum")
    at = {day: survival.km_at(fit, day) for day in days}
    present = list(fit.median.index)
    ranked = [s for s in order if s in present] + sorted(s for s in present if s not in order)
    rows = []
    for s in ranked:
        med = fit.median.loc[s]
        row: dict[str, object] = {"stratum": s, "n": int(med["n"]), "events": int(med["events"]),
                                  "median": med["median"], "median_lower": med["lower"],
                                  "median_upper": med["upper"]}
        for day, table in at.items():
            rec = table.loc[s]
            row.update({f"surv_{day}": rec["surv"], f"lower_{day}": rec["lower"],
                        f"upper_{day}": rec["upper"],
                        f"n_risk_{day}": int(rec["n_risk"])})
        rows.append(row)
    test = survival.logrank(kept, "time", "event", "stratum") if len(present) > 1 else None
    return ByStratum(pd.DataFrame(rows), test, kept, landmark, timing)


def competing_frame(derived: pd.DataFrame, tables: dict[str, pd.DataFrame],
                    settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return time from randomisation to the first failure of each randomised participant and its cause.

    ``cause``: 1 local or regional failure (any regrowth, salvaged or not, or recurrence), 2 distant disease
    (also when found with a local failure within the simultaneous window), 3 death without failure, 4 a
    failure whose site was not recorded, 0 censored at the last disease assessment. Columns participant_id,
    stratum, time, cause.
    """
    t = normalise_tables({k: tables.get(k)
                          for k in ("participants", "disease_events", "deaths", "last_contact")})
    failure = first_failure(t, settings).set_index("participant_id")
    deaths = t["deaths"].dropna(subset=["date"]).groupby("participant_id")["date"].min()
    contact = t["last_contact"].drop_duplicates("participant_id").set_index("participant_id")
    rand = derived.set_index("participant_id")["rand_date"].dropna()
    strata = derived.set_index("participant_id")["stratum"]
    rows = []
    for pid, t0 in rand.items():
        sites = str(failure["first_failure_sites"].get(pid) or "").split("+")
        when = failure["first_failure_date"].get(pid)
        died = deaths.get(pid)
        if pd.notna(when):
            cause = 2 if "distant" in sites else 1 if {"local", "regional"} & set(sites) else 4
            end = when
        elif pd.notna(died):
            cause, end = 3, died
        else:
            cause, end = 0, contact["last_disease_assessment_date"].get(
                pid) if pid in contact.index else pd.NaT
        if pd.isna(end):
            continue
        rows.append({"participant_id": str(pid), "stratum": str(strata.get(pid)),
                     "time": float((pd.Timestamp(end) - pd.Timestamp(t0)).days + 1), "cause": cause})
    out = pd.DataFrame(rows, columns=["participant_id", "stratum", "time", "cause"])
    return out[out["time"] > 0].reset_index(drop=True)


def naive_by_stratum_p(derived: pd.DataFrame, prefix: str) -> float:
    """The biased comparison this module replaces (from enrolment, unallocated as a group): for tests only."""
    frame = stratum_frame(derived, prefix)
    if frame["stratum"].nunique() < 2 or frame["event"].sum() == 0:
        return float("nan")
    return survival.logrank(frame, "time", "event", "stratum", allow_post_baseline=True,
                            post_baseline=["stratum"]).p

