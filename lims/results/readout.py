"""The trial's own readout: primary endpoint, response rates, survival by stratum, failures, QoL and toxicity.

Every table carries its denominator (``n``) next to the number; nothing here holds a date. The readout's
figures are drawn in ``lims.results.readout_figures``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from lims.clinical.service import endpoint_settings
from lims.results import data, publication
from lims.studies.models import Study

if TYPE_CHECKING:
    import pandas as pd

    from analysis.readout import ByStratum

PRIMARY_DAY = 365
PRIMARY_ARM = "CCR_WW"
SURVIVAL_DAYS = (365, 730)
QOL_SCALES = (("QLQ-C30", "QL2", "Global health status (QLQ-C30 QL2)"),
              ("QLQ-C30", "SUMMARY", "QLQ-C30 summary score"),
              ("FACT-E", "FACT_E", "FACT-E total"),
              ("FACT-E", "ECS", "FACT-E oesophageal cancer subscale"))
CURVES = {
    "os": ("os", "Overall survival by stratum, from the stratum landmark"),
    "efs": ("efs", "Event-free survival by stratum, from the stratum landmark"),
    "os_rand": ("os_rand", "Overall survival by arm, randomised cCR participants (from randomisation)"),
    "dfs_a": ("dfs", "DFS variant A by arm, randomised cCR participants (from randomisation)"),
    "dfs_b": ("dfs", "DFS variant B by arm, randomised cCR participants (from randomisation)"),
}
LANDMARK_DAYS = 120
# the readout reads the clinical records and the marker values (sample availability)  # default of the study
# setting stratum_landmark_days
READS = data.READS


def _empty() -> pd.DataFrame:
    """An empty table (pandas is imported when a readout is computed, not when the app starts)."""
    import pandas as pd

    return pd.DataFrame()


@dataclass
class Readout:
    """The tables of the trial endpoints page."""

    participants: int
    primary: pd.DataFrame
    ccr: pd.DataFrame
    pathology: pd.DataFrame
    survival: dict[str, ByStratum]
    failures: pd.DataFrame
    after_failure: pd.DataFrame
    qol: dict[str, pd.DataFrame] = field(default_factory=dict)
    toxicity: pd.DataFrame = field(default_factory=_empty)
    treated: int = 0
    landmark: float = LANDMARK_DAYS
    names: dict[str, str] = field(default_factory=dict)
    table_one: pd.DataFrame = field(default_factory=_empty)
    flow: list[dict] = field(default_factory=list)
    availability: pd.DataFrame = field(default_factory=_empty)
    cif: pd.DataFrame = field(default_factory=_empty)
    cif_tests: pd.DataFrame = field(default_factory=_empty)
    arm_cox: publication.ArmCox | None = None
    follow_up: pd.DataFrame = field(default_factory=_empty)
    qol_pivots: dict[str, dict[str, object]] = field(default_factory=dict)


def _rate_row(label: str, numerator: int, denominator: int, missing: int = 0) -> dict[str, object]:
    import numpy as np

    from analysis import binary

    row: dict[str, object] = {"group": label, "events": numerator, "n": denominator, "missing": missing,
                              "rate": np.nan, "lower": np.nan, "upper": np.nan}
    if denominator > 0:
        r = binary.rate(numerator, denominator)
        row.update(rate=r.rate, lower=r.lower, upper=r.upper)
    return row


def _stratum(frame: pd.DataFrame) -> pd.Series:
    return frame["stratum"].astype(object).where(frame["stratum"].notna(), "UNALLOCATED").astype(str)


def curve_frame(derived: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Return time, event and stratum of the participants who have the endpoint ``prefix``."""
    import pandas as pd

    out = pd.DataFrame({
        "participant_id": derived["participant_id"].astype(str),
        "time": derived[f"{prefix}_time"].astype("Float64").astype(float),
        "event": derived[f"{prefix}_event"].astype("Float64").astype(float),
        "stratum": _stratum(derived),
    })
    return out[out["time"].notna() & out["event"].notna()].reset_index(drop=True)


def _primary(derived_by_variant: dict[str, pd.DataFrame]) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    from analysis import survival

    rows = []
    for variant, derived in derived_by_variant.items():
        frame = curve_frame(derived, "dfs")
        arm = frame[frame["stratum"] == PRIMARY_ARM]
        row: dict[str, object] = {"variant": variant, "n": len(arm), "events": int(arm["event"].sum()),
                                  "surv": np.nan, "lower": np.nan, "upper": np.nan, "n_risk": 0}
        if len(arm):
            at = survival.km_at(survival.km(arm, "time", "event"), PRIMARY_DAY).iloc[0]
            row.update(surv=at["surv"], lower=at["lower"], upper=at["upper"], n_risk=int(at["n_risk"]))
        rows.append(row)
    return pd.DataFrame(rows)


def _ccr(derived: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from analysis.endpoints import rates

    r = rates(derived).set_index("measure")
    itt, ev = r.loc["ccr_cre1_itt"], r.loc["ccr_cre1_evaluable"]
    return pd.DataFrame([
        _rate_row("All enrolled (ITT; missing or not evaluable CRE1 counts as no cCR)", int(itt["numerator"]),
                  int(itt["denominator"]), int(itt["missing"])),
        _rate_row("Evaluable at CRE1", int(ev["numerator"]), int(ev["denominator"])),
    ])


def _pathology(derived: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    from analysis.endpoints import rates

    r = rates(derived)
    rows = []
    for _, rec in r[r["measure"].isin(["pcr", "mpr"])].iterrows():
        label = "All resected" if rec["group"] == "all" else str(rec["group"])
        row = _rate_row(label, int(rec["numerator"]), int(rec["denominator"]), int(rec["missing"]))
        row["measure"] = str(rec["measure"]).upper()
        rows.append(row)
    return pd.DataFrame(rows,
                        columns=["measure", "group", "events", "n", "missing", "rate", "lower", "upper"])


def stratum_names(study: Study) -> dict[str, str]:
    """Return the protocol's name of each stratum (arm), for tables and figures instead of codes."""
    return {**{s.code: s.name for s in study.strata}, "UNALLOCATED": "Not allocated"}


def landmark_days(study: Study) -> float:
    """Return the day after enrolment from which strata are compared (study setting, by which CRE1 is
    done)."""
    return float((study.settings or {}).get("stratum_landmark_days", LANDMARK_DAYS))


def survival(derived: pd.DataFrame, prefix: str, landmark: float) -> ByStratum:
    """Compare OS or EFS (``prefix``) between strata from the landmark, with rates at ``SURVIVAL_DAYS``."""
    from analysis.clinical_tables import STRATA
    from analysis.readout import by_stratum

    return by_stratum(derived, prefix, landmark, SURVIVAL_DAYS, order=(*STRATA, "UNALLOCATED"))


def _failures(derived: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    strata = _stratum(derived)
    kinds = ["local", "regional", "distant", "combined", "unknown", "none"]
    pattern = derived["first_failure"].astype(object).where(derived["first_failure"].notna(), "unknown")
    table = pd.crosstab(strata, pattern).reindex(columns=kinds, fill_value=0)
    table["n"] = strata.value_counts()
    table.loc["All"] = table.sum()
    return table.rename_axis("stratum").reset_index()


def _after_failure(derived: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    failed = derived[derived["first_failure"].notna() & (derived["first_failure"] != "none")][
        ["participant_id", "first_failure_date", "stratum"]].copy()
    failed["participant_id"] = failed["participant_id"].astype(str)
    failed["stratum"] = _stratum(failed)
    later = tables["subsequent_treatments"].merge(failed, on="participant_id")
    later = later[pd.to_datetime(later["date"]) >= pd.to_datetime(later["first_failure_date"])]
    kinds = sorted(tables["subsequent_treatments"]["kind"].dropna().unique())
    rows = []
    for stratum, group in [*failed.groupby("stratum"), ("All", failed)]:
        ids = set(group["participant_id"])
        chosen = later[later["participant_id"].isin(ids)]
        row: dict[str, object] = {"stratum": stratum, "n": len(ids)}
        for kind in kinds:
            row[kind] = chosen.loc[chosen["kind"] == kind, "participant_id"].nunique()
        row["none recorded"] = len(ids - set(chosen["participant_id"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=["stratum", "n", *kinds, "none recorded"])


def _qol(tables: dict[str, pd.DataFrame], derived: pd.DataFrame, study: Study) -> dict[str, pd.DataFrame]:
    import pandas as pd

    from analysis.qol import score_fact_e, score_qlq_c30

    settings = endpoint_settings(study)
    responses = tables["qol_responses"]
    # Scored once per clinical data version: the readout and its figures are cached by it (trial_readout).
    scored = {"QLQ-C30": score_qlq_c30(responses, settings), "FACT-E": score_fact_e(responses, settings)}
    order = {tp: i for i, tp in enumerate(qol_schedule(tables, study))}
    arms = pd.Series(_stratum(derived).to_numpy(), index=derived["participant_id"].astype(str),
                     name="stratum")
    out = {}
    for instrument, scale, label in QOL_SCALES:
        frame = scored[instrument]
        if frame.empty or scale not in frame.columns:
            continue
        frame = frame.join(arms, on="participant_id")
        summary = frame.groupby(["timepoint", "stratum"])[scale].agg(["mean", "count"]).reset_index()
        summary = summary[summary["count"] > 0]  # a time point with no scorable answers in an arm
        summary["order"] = summary["timepoint"].map(order).fillna(999)
        out[label] = summary.sort_values(["order", "stratum"]).drop(columns="order").reset_index(drop=True)
    return out


def qol_schedule(tables: dict[str, pd.DataFrame], study: Study) -> list[str]:
    """The QoL time points in the order they happen (median day of the answers after enrolment)."""
    import pandas as pd

    responses = tables["qol_responses"][["participant_id", "timepoint", "date"]].drop_duplicates()
    enrol = tables["participants"].set_index("participant_id")["enrol_date"]
    enrolled = pd.to_datetime(responses["participant_id"].map(enrol))
    days = (pd.to_datetime(responses["date"]) - enrolled).dt.days
    return publication.schedule_order(responses.assign(day=days),
                                      {tp.code: tp.order for tp in study.timepoints})


def _toxicity(tables: dict[str, pd.DataFrame], study: Study) -> tuple[pd.DataFrame, int]:
    import pandas as pd

    from analysis.toxicity import worst_grade

    treated = int(tables["treatment"]["participant_id"].nunique())
    worst = worst_grade(tables["adverse_events"], tables["treatment"], endpoint_settings(study))
    if worst.empty:
        return pd.DataFrame(columns=["term", "any", "grade3", "acute_any", "acute_grade3", "chronic_any",
                                     "chronic_grade3", "grade5"]), treated
    rows = []
    for term, part in worst.groupby("term"):
        overall = pd.to_numeric(part["worst_grade"], errors="coerce")
        acute = pd.to_numeric(part["worst_grade_acute"], errors="coerce")
        chronic = pd.to_numeric(part["worst_grade_chronic"], errors="coerce")
        rows.append({"term": term, "any": int((overall >= 1).sum()), "grade3": int((overall >= 3).sum()),
                     "acute_any": int((acute >= 1).sum()), "acute_grade3": int((acute >= 3).sum()),
                     "chronic_any": int((chronic >= 1).sum()), "chronic_grade3": int((chronic >= 3).sum()),
                     "grade5": int((overall >= 5).sum())})
    table = pd.DataFrame(rows).sort_values(["grade3", "any", "term"], ascending=[False, False, True])
    return table.reset_index(drop=True), treated


def trial_readout(session: Session, study: Study) -> Readout:
    """Return every table of the trial endpoints page, computed once per version of the data it reads."""
    return data.cached(session, READS, ("readout", study.id, repr(study.settings)),
                       lambda: _trial_readout(session, study))


def _trial_readout(session: Session, study: Study) -> Readout:
    """Compute every table of the trial endpoints page from the clinical records."""
    import pandas as pd

    tables = data.study_tables(session, study)
    derived = {v: data.derived(session, study, v) for v in ("A", "B")}
    main = derived[str((study.settings or {}).get("dfs_variant", "A"))]
    toxicity, treated = _toxicity(tables, study)
    names = stratum_names(study)
    _frame, ci, cif = publication.cumulative_incidence(tables, main)
    values = data.marker_values(session, study)
    protocol_order = {tp.code: tp.order for tp in study.timepoints}
    qol = _qol(tables, main, study)
    return Readout(
        participants=len(main),
        primary=_primary(derived),
        ccr=_ccr(main),
        pathology=_pathology(main),
        survival={key: survival(main, key, landmark_days(study)) for key in ("os", "efs")},
        failures=_failures(main),
        after_failure=_after_failure(main, tables),
        qol=qol,
        qol_pivots=qol_pivots(qol),
        toxicity=toxicity,
        treated=treated,
        landmark=landmark_days(study),
        names=names,
        table_one=publication.table_one(tables, main, names),
        flow=publication.flow(tables, main, names),
        availability=publication.availability(values, publication.schedule_order(values, protocol_order)),
        cif=cif,
        cif_tests=ci.test if ci is not None else pd.DataFrame(),
        arm_cox=publication.arm_cox(main),
        follow_up=publication.follow_up(main),
    )


def table_one(session: Session, study: Study) -> pd.DataFrame:
    """Table 1 of the readout (baseline characteristics by arm)."""
    tables = data.study_tables(session, study)
    main = data.derived(session, study, str((study.settings or {}).get("dfs_variant", "A")))
    return publication.table_one(tables, main, stratum_names(study))


def qol_tables(session: Session, study: Study) -> dict[str, pd.DataFrame]:
    """Return the QoL summaries of the readout (mean and n per time point and arm, per scale)."""
    return trial_readout(session, study).qol


def qol_pivots(qol: dict[str, pd.DataFrame]) -> dict[str, dict[str, object]]:
    """Return each QoL scale as rows of time points with (mean, n) per arm, for the page."""
    from analysis.clinical_tables import STRATA

    out: dict[str, dict[str, object]] = {}
    for label, frame in qol.items():
        strata = [s for s in (*STRATA, "UNALLOCATED") if s in set(frame["stratum"])]
        rows = []
        for timepoint, part in frame.groupby("timepoint", sort=False):
            cells = {r.stratum: (r.mean, int(r.count)) for r in part.itertuples()}
            rows.append((timepoint, [cells.get(s) for s in strata]))
        out[label] = {"strata": strata, "rows": rows}
    return out
