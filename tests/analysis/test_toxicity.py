"""Worst CTCAE grade per participant and term with the acute/chronic split (domain.md sections 4, 6)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.clinical_tables import EndpointSettings
from analysis.toxicity import classify, worst_grade, worst_grade_per_participant

# P1 starts RT on 2024-01-10. Days after RT start (onset - start):
#   2024-01-30 -> 20; 2024-04-09 -> 21 (rest of Jan) + 29 + 31 + 9 = 90 (acute, boundary);
#   2024-04-10 -> 91 (chronic); 2024-10-01 -> 21 + 29 + 31 + 30 + 31 + 30 + 31 + 31 + 30 + 1 = 265 (chronic).
TREATMENT = pd.DataFrame({"participant_id": ["P1"], "rt_start": ["2024-01-10"]})


def events() -> pd.DataFrame:
    rows = [
        ("P1", "Esophagitis", 2, "2024-01-30"),
        ("P1", "Esophagitis", 3, "2024-04-09"),
        ("P1", "esophagitis ", 1, "2024-04-10"),
        ("P1", "Esophageal stenosis", 3, "2024-10-01"),
        ("P1", "Lymphocyte count decreased", 4, "2024-01-30"),
        ("P1", "Lymphocyte count decreased", 3, "2024-02-15"),
        ("P2", "Fatigue", 2, "2024-03-01"),  # P2 has no RT start: no phase
    ]
    return pd.DataFrame(rows, columns=["participant_id", "term", "grade", "onset_date"])


def test_classify_acute_up_to_90_days_after_rt_start() -> None:
    ae = classify(events(), TREATMENT)
    assert list(ae["days_from_rt_start"].iloc[:4]) == [20, 90, 91, 265]
    assert list(ae["phase"].iloc[:4]) == ["acute", "acute", "chronic", "chronic"]
    assert pd.isna(ae["phase"].iloc[6])


def test_worst_grade_per_term_with_acute_chronic_split() -> None:
    out = worst_grade(events(), TREATMENT).set_index(["participant_id", "term"])
    cols = ["worst_grade", "worst_grade_acute", "worst_grade_chronic", "n_events"]
    # Esophagitis: acute grades 2 and 3 -> 3; chronic grade 1 (case and spaces ignored); overall 3.
    assert tuple(out.loc[("P1", "Esophagitis"), cols]) == (3, 3, 1, 3)
    stenosis = out.loc[("P1", "Esophageal stenosis"), cols]
    assert (stenosis["worst_grade"], stenosis["worst_grade_chronic"]) == (3, 3)
    assert pd.isna(stenosis["worst_grade_acute"])
    assert tuple(out.loc[("P1", "Lymphocyte count decreased"), ["worst_grade", "worst_grade_acute"]]) == (
        4,
        4,
    )
    fatigue = out.loc[("P2", "Fatigue"), cols]
    assert fatigue["worst_grade"] == 2 and pd.isna(fatigue["worst_grade_acute"])
    assert pd.isna(fatigue["worst_grade_chronic"])


def test_acute_window_is_a_setting() -> None:
    out = worst_grade(events(), TREATMENT, EndpointSettings(acute_days=30)).set_index(
        ["participant_id", "term"]
    )
    # With 30 days only the day-20 oesophagitis (grade 2) is acute; days 90 and 91 (grades 3, 1) are chronic.
    assert tuple(out.loc[("P1", "Esophagitis"), ["worst_grade_acute", "worst_grade_chronic"]]) == (2, 3)


def test_worst_grade_per_participant() -> None:
    out = worst_grade_per_participant(events(), TREATMENT).set_index("participant_id")
    # P1: overall 4 (lymphopenia, acute), chronic 3 (stenosis, oesophagitis day 90 is acute).
    assert tuple(out.loc["P1", ["worst_grade", "worst_grade_acute", "worst_grade_chronic", "n_events"]]) == (
        4,
        4,
        3,
        6,
    )


@pytest.mark.parametrize("grade", [0, 6, 2.5, "severe", None])
def test_invalid_grade_raises_naming_the_row(grade: object) -> None:
    bad = pd.DataFrame(
        [{"participant_id": "P9", "term": "Nausea", "grade": grade, "onset_date": "2024-02-01"}]
    )
    with pytest.raises(ValueError, match=r"participant P9, term Nausea, grade"):
        worst_grade(bad, TREATMENT)


def test_no_events() -> None:
    empty = pd.DataFrame(columns=["participant_id", "term", "grade", "onset_date"])
    assert worst_grade(empty, TREATMENT).empty
    assert worst_grade_per_participant(empty, TREATMENT).empty
