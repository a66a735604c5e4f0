"""What a manuscript needs beside the readout: Table 1 by arm, the CONSORT/REMARK flow with the samples
available per time point, competing risks by arm, the multivariable Cox model of DFS by arm with its PH test,
follow-up.

Everything is computed from the clinical tables and the derived endpoints the readout already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from analysis import competing, survival

ARM_COVARIATES = {"age": "Age (per year)", "male": "Male sex", "ecog": "ECOG (per point)"}
TABLE_ONE = {"age": "Age (years)", "sex": "Sex", "ecog": "ECOG performance status",
             "tumour_location": "Tumour location",
             "ct": "Clinical T", "cn": "Clinical N", "stage": "AJCC 8 stage", "site": "Site"}
CIF_MONTHS = (12, 24)


@dataclass
class ArmCox:
    """DFS by arm (randomised participants, from randomisation), adjusted: the fit and its PH test."""

    fit: survival.CoxFit | None
    ph: pd.DataFrame | None
    error: str | None = None


def schedule_order(days: pd.DataFrame, fallback: dict[str, int]) -> list[str]:
    """Time points in the order they happen: by the median day of their records (``timepoint``, ``day``),
    then the protocol order for time points without days."""
    import numpy as np

    median = days.dropna(subset=["day"]).groupby("timepoint")["day"].median()
    codes = set(days["timepoint"]) | set(fallback)
    return sorted(codes, key=lambda tp: (median.get(tp, np.inf), fallback.get(tp, 10**6), tp))


def table_one(clinical: dict[str, pd.DataFrame], derived: pd.DataFrame,
              names: dict[str, str]) -> pd.DataFrame:
    """Table 1: baseline characteristics by arm (stratum), with the overall column."""
    import pandas as pd

    from analysis import tables

    people = clinical["participants"].assign(participant_id=lambda d: d["participant_id"].astype(str))
    arms = derived.assign(participant_id=derived["participant_id"]
                          .astype(str)).set_index("participant_id")["stratum"]
    frame = people.join(arms.astype(object).where(arms.notna(), "UNALLOCATED").rename("arm"),
                        on="participant_id")
    frame["age"] = pd.to_numeric(frame["age"], errors="coerce")
    frame["ecog"] = pd.to_numeric(frame["ecog"], errors="coerce")
    order = [s for s in (*names, "UNALLOCATED") if s in set(frame["arm"])]
    frame["arm"] = pd.Categorical(frame["arm"], categories=list(dict.fromkeys(order)))
    variables = [v for v in TABLE_ONE if v in frame.columns]
    return tables.table_one(frame, "arm", variables, labels=TABLE_ONE, group_labels=names,
                            categorical=["ecog"])


def flow(clinical: dict[str, pd.DataFrame], derived: pd.DataFrame, names: dict[str, str]) -> list[dict]:
    """The CONSORT boxes: enrolment, CRE1, cCR and randomisation, each arm and its primary-endpoint
    analysis."""
    from analysis.clinical_tables import RANDOMISED_STRATA

    def count(mask: pd.Series) -> int:
        return int(mask.fillna(False).astype(bool).sum())

    assessed = derived["cre1_date"].notna()
    ccr = derived["ccr_cre1"].astype("boolean")
    randomised = derived["rand_date"].notna()
    boxes = [{"key": "enrolled", "label": "Enrolled", "n": len(derived)},
             {"key": "no_cre1", "label": "No CRE1 (died, withdrew or lost)", "n": count(~assessed),
              "parent": "enrolled", "side": True},
             {"key": "cre1", "label": "Assessed at CRE1", "n": count(assessed), "parent": "enrolled"},
             {"key": "not_evaluable", "label": "CRE1 not evaluable", "n": count(assessed & ccr.isna()),
              "parent": "cre1", "side": True},
             {"key": "ccr", "label": "cCR at CRE1", "n": count(ccr), "parent": "cre1"},
             {"key": "no_ccr", "label": "No cCR at CRE1", "n": count(ccr.eq(False)), "parent": "cre1"},
             {"key": "not_randomised", "label": "cCR, not randomised", "n": count(ccr & ~randomised),
              "parent": "ccr", "side": True}]
    for code in RANDOMISED_STRATA:
        arm = derived["stratum"] == code
        boxes.append({"key": code, "label": names.get(code, code), "n": count(arm & randomised),
                      "parent": "ccr"})
        boxes.append({"key": f"{code}_dfs", "label": "Analysed for DFS",
                      "n": count(arm & derived["dfs_time"].notna()),
                      "parent": code})
    surgery = derived["stratum"] == "NON_CCR_SURGERY"
    boxes.append({"key": "NON_CCR_SURGERY", "label": names.get("NON_CCR_SURGERY", "Surgery"),
                  "n": count(surgery),
                  "parent": "no_ccr"})
    boxes.append({"key": "resected", "label": "Resected, with pathology",
                  "n": count(surgery & derived["resected"].astype(bool) & derived["pcr"].notna()),
                  "parent": "NON_CCR_SURGERY"})
    return boxes


def availability(values: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Participants with marker results per time point (rows, schedule order) and sample type (columns)."""
    import pandas as pd

    if values.empty:
        return pd.DataFrame()
    table = values.groupby(["timepoint", "sample_type"])["participant_id"].nunique().unstack(fill_value=0)
    rank = {tp: i for i, tp in enumerate(order)}
    return table.loc[sorted(table.index, key=lambda tp: (rank.get(tp, 10**6), tp))].astype(int)


def cumulative_incidence(clinical: dict[str, pd.DataFrame], derived: pd.DataFrame
                         ) -> tuple[pd.DataFrame, competing.CumInc | None, pd.DataFrame]:
    """First failure by cause and arm from randomisation: the frame, the estimates, and a table at 12/24
    months (estimate with 95% CI per arm and cause, Gray's p)."""
    import numpy as np
    import pandas as pd

    from analysis import competing
    from analysis.readout import CAUSES, competing_frame

    frame = competing_frame(derived, clinical)
    if frame.empty or not (frame["cause"] > 0).any():
        return frame, None, pd.DataFrame()
    ci = competing.cuminc(frame, "time", "cause", "stratum")
    at = ci.at([m * 365.25 / 12 for m in CIF_MONTHS])
    at["months"] = (at["time"] / (365.25 / 12)).round().astype(int)
    at["cause_label"] = at["cause"].map(CAUSES)
    at["gray_p"] = at["cause"].map(ci.test["p"]) if len(ci.test) else np.nan
    return frame, ci, at


def arm_cox(derived: pd.DataFrame) -> ArmCox:
    """DFS by arm among randomised participants, adjusted for age, sex and ECOG, with its PH test."""
    import pandas as pd

    from analysis import survival
    from analysis.clinical_tables import RANDOMISED_STRATA

    frame = derived[derived["stratum"].isin(RANDOMISED_STRATA)].assign(
        time=lambda d: d["dfs_time"].astype("Float64").astype(float),
        event=lambda d: d["dfs_event"].astype("Float64").astype(float),
        arm=lambda d: pd.Categorical(d["stratum"].astype(str), categories=list(RANDOMISED_STRATA)))
    try:
        fit = survival.cox(frame, "time", "event", ["arm", *ARM_COVARIATES])
    except ValueError as exc:
        return ArmCox(None, None, str(exc))
    return ArmCox(fit, survival.ph_test(fit) if fit.converged else None)


def follow_up(derived: pd.DataFrame) -> pd.DataFrame:
    """Median follow-up (reverse Kaplan-Meier, days): OS from enrolment for all, and from randomisation by
    arm."""
    import pandas as pd

    from analysis import survival
    from analysis.clinical_tables import RANDOMISED_STRATA

    rows = []
    all_os = derived.assign(time=derived["os_time"].astype("Float64").astype(float),
                            event=derived["os_event"].astype("Float64")
                            .astype(float)).dropna(subset=["time", "event"])
    if len(all_os) and (all_os["event"] < 1).any():
        rows.append(("All enrolled, from enrolment",
                     survival.followup(all_os, "time", "event").table.iloc[0]))
    rand = derived[derived["stratum"].isin(RANDOMISED_STRATA)].assign(
        time=lambda d: d["os_rand_time"].astype("Float64").astype(float),
        event=lambda d: d["os_rand_event"].astype("Float64").astype(float)).dropna(subset=["time", "event"])
    if len(rand) and (rand["event"] < 1).any():
        for arm, row in survival.followup(rand, "time", "event", "stratum").table.iterrows():
            rows.append((str(arm), row))
    return pd.DataFrame([{"population": label, **row.to_dict()} for label, row in rows],
                        columns=["population", "n", "censored", "median", "lower", "upper"])
