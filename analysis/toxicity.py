"""Worst CTCAE v5.0 grade per participant and term, split into acute and chronic (domain.md sections 4, 6).

Input: the ``adverse_events`` and ``treatment`` tables of ``analysis.clinical_tables`` (participant_id, term,
grade, onset_date; participant_id, rt_start). An event is acute when its onset is at most
``settings.acute_days`` (default 90) days after the first RT fraction (onset - rt_start <= 90, so an onset
before RT is acute too) and chronic otherwise; without an RT start or onset date its phase is NA and it only
counts towards the overall worst grade. Terms are grouped ignoring case and surrounding spaces; the first
spelling seen is reported. Grades must be integers 1-5; anything else raises ValueError naming the row.
"""

from __future__ import annotations

import pandas as pd

from analysis.clinical_tables import EndpointSettings, normalise_table

_GRADES: tuple[float, ...] = (1, 2, 3, 4, 5)


def _is_grade(value: object) -> bool:
    try:
        return float(value) in _GRADES  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def classify(
    adverse_events: pd.DataFrame, treatment: pd.DataFrame, settings: EndpointSettings | None = None
) -> pd.DataFrame:
    """Return the adverse events with days_from_rt_start and phase (acute|chronic|NA)."""
    settings = settings or EndpointSettings()
    for idx, row in adverse_events.iterrows():
        term, grade = row.get("term"), row.get("grade")
        if term is None or pd.isna(term) or not str(term).strip():
            raise ValueError(
                f"adverse event without a term: participant {row.get('participant_id')}, row {idx}"
            )
        if not _is_grade(grade):
            raise ValueError(
                f"CTCAE grade must be 1-5: participant {row.get('participant_id')}, term {term}, "
                f"grade {grade!r}"
            )
    ae = normalise_table("adverse_events", adverse_events)
    rt = normalise_table("treatment", treatment).drop_duplicates("participant_id")
    start = ae["participant_id"].map(rt.set_index("participant_id")["rt_start"])
    days = (ae["onset_date"] - start).dt.days.astype("Int64")
    ae["days_from_rt_start"] = days
    phase = pd.Series(pd.NA, index=ae.index, dtype="string")
    phase[days.notna() & (days <= settings.acute_days)] = "acute"
    phase[days.notna() & (days > settings.acute_days)] = "chronic"
    ae["phase"] = phase
    ae["grade"] = ae["grade"].astype(int)
    return ae


def _worst(ae: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = ae.groupby(keys, sort=True)
    out = grouped.agg(worst_grade=("grade", "max"), n_events=("grade", "size"))
    for phase in ("acute", "chronic"):
        out[f"worst_grade_{phase}"] = ae[ae["phase"] == phase].groupby(keys)["grade"].max()
    for col in ("worst_grade", "worst_grade_acute", "worst_grade_chronic", "n_events"):
        out[col] = out[col].astype("Int64")
    return out


def worst_grade(
    adverse_events: pd.DataFrame, treatment: pd.DataFrame, settings: EndpointSettings | None = None
) -> pd.DataFrame:
    """Return the worst grade per participant and term, overall, acute and chronic."""
    ae = classify(adverse_events, treatment, settings)
    columns = [
        "participant_id",
        "term",
        "worst_grade",
        "worst_grade_acute",
        "worst_grade_chronic",
        "n_events",
    ]
    if ae.empty:
        return pd.DataFrame(columns=columns)
    ae["term_key"] = ae["term"].str.strip().str.casefold()
    out = _worst(ae, ["participant_id", "term_key"])
    out["term"] = ae.groupby(["participant_id", "term_key"])["term"].first().str.strip()
    return out.reset_index()[columns]


def worst_grade_per_participant(
    adverse_events: pd.DataFrame, treatment: pd.DataFrame, settings: EndpointSettings | None = None
) -> pd.DataFrame:
    """Return the worst grade of any term per participant, overall, acute and chronic."""
    ae = classify(adverse_events, treatment, settings)
    columns = ["participant_id", "worst_grade", "worst_grade_acute", "worst_grade_chronic", "n_events"]
    if ae.empty:
        return pd.DataFrame(columns=columns)
    return _worst(ae, ["participant_id"]).reset_index()[columns]
