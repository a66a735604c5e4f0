"""Endpoint rules of domain.md section 4 on hand-built participants; expected numbers are worked by hand.

Every participant is enrolled on 2024-01-01 (day 1) and the randomised ones are randomised on 2024-04-01.
Day counts use 2024 as a leap year (Jan 31, Feb 29, Mar 31, Apr 30, May 31, Jun 30, Jul 31, Aug 31, Sep 30,
Oct 31, Nov 30, Dec 31) and time = date - T0 + 1.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis import endpoints
from analysis.clinical_tables import TABLES, EndpointSettings, normalise_tables
from analysis.endpoints import Problem

ENROL = "2024-01-01"
RAND = "2024-04-01"
ROOT = Path(__file__).resolve().parents[2]


def _frame(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(TABLES[table]))


def cohort() -> dict[str, pd.DataFrame]:
    """Return the hand-built cohort; each participant exercises one rule (see the comments)."""
    ids = [f"P{i:02d}" for i in range(1, 13)]
    participants = [
        {"participant_id": pid, "site": "A" if i < 6 else "B", "enrol_date": ENROL}
        for i, pid in enumerate(ids)
    ]
    strata = {
        "P01": "CCR_WW",
        "P02": "CCR_WW",
        "P03": "CCR_WW",
        "P04": "CCR_WW",
        "P05": "CCR_SURGERY",
        "P06": "NON_CCR_SURGERY",
        "P08": "NON_CCR_SURGERY",
        "P09": "NON_CCR_SURGERY",
        "P10": "CCR_WW",
    }
    allocation = [
        {"participant_id": pid, "stratum": s, "rand_date": RAND if s != "NON_CCR_SURGERY" else None}
        for pid, s in strata.items()
    ]
    cre1 = {pid: ("cCR" if s != "NON_CCR_SURGERY" else "local") for pid, s in strata.items()}
    cre1.update({"P07": "distant", "P12": "not_evaluable"})  # P11 has no CRE1 at all (died)
    cre = [{"participant_id": pid, "seq": 1, "date": "2024-03-15", "overall": o} for pid, o in cre1.items()]
    surgery = [
        # P01 salvage of its regrowth, R0; P04 the same but recorded only here (fallback lookup).
        {"participant_id": "P01", "date": "2024-07-20", "intent": "salvage", "r_status": "R0"},
        {"participant_id": "P04", "date": "2024-07-25", "intent": "salvage", "r_status": "R0"},
        {"participant_id": "P05", "date": "2024-04-20", "intent": "planned", "r_status": "R0"},
        {"participant_id": "P06", "date": "2024-04-15", "intent": "planned", "r_status": "R0"},
        {"participant_id": "P08", "date": "2024-04-10", "intent": "planned", "r_status": "R2"},
        {"participant_id": "P09", "date": "2024-04-10", "intent": "planned", "r_status": "unresectable"},
    ]
    pathology = [
        {"participant_id": "P01", "ypt": "ypT1b", "ypn": "ypN0", "viable_pct": 30.0},
        {"participant_id": "P05", "ypt": "ypT0", "ypn": "ypN0", "viable_pct": 0.0},
        {
            "participant_id": "P06",
            "ypt": "ypT2",
            "ypn": "ypN1",
            "viable_pct": 8.0,
            "trg_system": "mandard",
            "trg_grade": "3",
        },
        {"participant_id": "P08", "ypt": "ypT3", "ypn": "ypN2", "viable_pct": 60.0},
    ]
    events = [
        {
            "participant_id": "P01",
            "date": "2024-07-01",
            "type": "LOCAL_REGROWTH",
            "salvage_surgery_date": "2024-07-20",
            "salvage_r_status": "R0",
        },
        {
            "participant_id": "P02",
            "date": "2024-07-01",
            "type": "LOCAL_REGROWTH",
            "salvage_surgery_date": "2024-07-22",
            "salvage_r_status": "R1",
        },
        {"participant_id": "P03", "date": "2024-10-01", "type": "LOCAL_REGROWTH"},  # no surgery
        {"participant_id": "P03", "date": "2024-10-20", "type": "DISTANT"},
        {"participant_id": "P04", "date": "2024-07-01", "type": "LOCAL_REGROWTH"},
        {"participant_id": "P04", "date": "2025-01-01", "type": "REGIONAL"},
        {
            "participant_id": "P07",
            "date": "2024-03-15",
            "type": "PROGRESSION_PRECLUDING_SURGERY",
            "site": "distant",
        },
        {"participant_id": "P08", "date": "2024-08-01", "type": "DISTANT"},
        {"participant_id": "P10", "date": "2024-06-01", "type": "REGIONAL"},
        {"participant_id": "P10", "date": "2024-06-01", "type": "DISTANT"},
    ]
    deaths = [
        {"participant_id": "P05", "date": "2024-06-10", "cause": "treatment"},
        {"participant_id": "P07", "date": "2024-09-01", "cause": "disease"},
        {"participant_id": "P11", "date": ENROL, "cause": "other"},
    ]
    contact = dict.fromkeys(ids, ("2025-06-01", "2025-04-01"))
    contact.update(
        {
            "P05": ("2024-06-10", "2024-05-20"),
            "P06": ("2025-03-01", "2024-12-31"),
            "P07": ("2024-09-01", "2024-08-01"),
            "P09": ("2024-07-01", "2024-06-01"),
            "P11": (ENROL, ENROL),
        }
    )
    last_contact = [
        {"participant_id": pid, "last_alive_date": a, "last_disease_assessment_date": d}
        for pid, (a, d) in contact.items()
    ]
    return {
        "participants": _frame("participants", participants),
        "allocation": _frame("allocation", allocation),
        "cre": _frame("cre", cre),
        "surgery": _frame("surgery", surgery),
        "pathology": _frame("pathology", pathology),
        "disease_events": _frame("disease_events", events),
        "deaths": _frame("deaths", deaths),
        "last_contact": _frame("last_contact", last_contact),
    }


def _row(frame: pd.DataFrame, pid: str) -> pd.Series:
    return frame.set_index("participant_id").loc[pid]


@pytest.fixture(scope="module")
def derived_a() -> pd.DataFrame:
    return endpoints.derive(cohort())


@pytest.fixture(scope="module")
def derived_b() -> pd.DataFrame:
    return endpoints.derive(cohort(), EndpointSettings(dfs_variant="B"))


def _dfs(frame: pd.DataFrame, pid: str) -> tuple[object, object, object]:
    row = _row(frame, pid)
    return row["dfs_time"], row["dfs_event"], row["dfs_event_type"]


def test_derive_has_one_row_per_participant_and_names_the_variant(derived_a, derived_b) -> None:
    assert list(derived_a["participant_id"]) == [f"P{i:02d}" for i in range(1, 13)]
    assert set(derived_a["variant"]) == {"A"} and set(derived_b["variant"]) == {"B"}
    assert set(derived_a["dfs_t0"]) == {"rand"}


def test_regrowth_salvaged_r0_is_an_event_under_a_only(derived_a, derived_b) -> None:
    # P01 regrowth 2024-07-01, rand 2024-04-01: Apr 30 + May 31 + Jun 30 = 91 days -> time 92.
    assert _dfs(derived_a, "P01") == (92, True, "LOCAL_REGROWTH")
    # B: no event; censored at last assessment 2025-04-01 = 365 days after 2024-04-01 -> 366.
    time, event, kind = _dfs(derived_b, "P01")
    assert (time, event) == (366, False) and pd.isna(kind)
    # EFS from enrolment: A 2024-07-01 - 2024-01-01 = 31+29+31+30+31+30 = 182 -> 183;
    # B censored 2025-04-01 - 2024-01-01 = 366 + 31+28+31 = 456 -> 457.
    assert (_row(derived_a, "P01")["efs_time"], _row(derived_a, "P01")["efs_event"]) == (183, True)
    assert (_row(derived_b, "P01")["efs_time"], _row(derived_b, "P01")["efs_event"]) == (457, False)


def test_regrowth_not_salvaged_r0_counts_at_regrowth_date_under_b(derived_b) -> None:
    # P02 salvage R1: counts at regrowth 2024-07-01 -> 92 (as above).
    assert _dfs(derived_b, "P02") == (92, True, "LOCAL_REGROWTH")
    # P03 no surgery: regrowth 2024-10-01, Apr30+May31+Jun30+Jul31+Aug31+Sep30 = 183 -> 184.
    assert _dfs(derived_b, "P03") == (184, True, "LOCAL_REGROWTH")


def test_recurrence_after_r0_salvage_counts_under_b(derived_a, derived_b) -> None:
    # P04: the R0 salvage is found in the surgery table; regional 2025-01-01 = 275 days after
    # 2024-04-01 (30+31+30+31+31+30+31+30+31) -> 276. Under A the regrowth counts first: 92.
    assert _dfs(derived_b, "P04") == (276, True, "REGIONAL")
    assert _dfs(derived_a, "P04") == (92, True, "LOCAL_REGROWTH")
    counts = endpoints.regrowth_counts(cohort(), "B").set_index("participant_id")
    assert counts.loc["P04", "salvage_r_status"] == "R0"
    assert counts.loc["P04", "salvage_surgery_date"] == pd.Timestamp("2024-07-25")
    assert not counts.loc["P04", "counts"]


def _two_regrowths() -> dict[str, pd.DataFrame]:
    """P04 gets a first regrowth left untreated for six months, then a second one salvaged R0."""
    tables = cohort()
    events = tables["disease_events"]
    events = events[~((events["participant_id"] == "P04") & (events["type"] == "REGIONAL"))]
    extra = _frame("disease_events",
                   [{"participant_id": "P04", "date": "2025-01-01", "type": "LOCAL_REGROWTH"}])
    tables["disease_events"] = pd.concat([events, extra], ignore_index=True)
    surgery = tables["surgery"]
    surgery.loc[surgery["participant_id"] == "P04", "date"] = "2025-01-20"
    return tables


def test_salvage_links_to_a_regrowth_only_within_the_window() -> None:
    # The salvage on 2025-01-20 is 203 days after the first regrowth (2024-07-01): outside the 90-day window,
    # and after the second regrowth, so the first regrowth is unsalvaged and a DFS event at day 92 under B.
    tables = _two_regrowths()
    counts = endpoints.regrowth_counts(tables, "B", EndpointSettings(dfs_variant="B"))
    p04 = counts[counts["participant_id"] == "P04"].sort_values("date")
    assert p04["counts"].tolist() == [True, False]
    assert pd.isna(p04["salvage_r_status"].iloc[0]) and p04["salvage_r_status"].iloc[1] == "R0"
    derived = endpoints.derive(tables, EndpointSettings(dfs_variant="B"))
    assert _dfs(derived, "P04") == (92, True, "LOCAL_REGROWTH")
    # With a window long enough the salvage still cannot jump over the second regrowth.
    wide = endpoints.regrowth_counts(tables, "B", EndpointSettings(dfs_variant="B", salvage_window_days=400))
    assert wide[wide["participant_id"] == "P04"].sort_values("date")["counts"].tolist() == [True, False]
    # One regrowth, salvage 24 days later: inside the default window (P04 of the cohort) ...
    assert not endpoints.regrowth_counts(cohort(), "B").set_index("participant_id").loc["P04", "counts"]
    # ... and outside a 20-day window.
    narrow = endpoints.regrowth_counts(cohort(), "B", EndpointSettings(salvage_window_days=20))
    assert narrow.set_index("participant_id").loc["P04", "counts"]
    with pytest.raises(ValueError, match="salvage_window_days"):
        EndpointSettings(salvage_window_days=-1)


def test_death_without_progression_is_a_dfs_efs_and_os_event(derived_a) -> None:
    row = _row(derived_a, "P05")
    # Death 2024-06-10: from rand 30+31+9 = 70 -> 71; from enrolment 31+29+31+30+31+9 = 161 -> 162.
    assert (row["dfs_time"], row["dfs_event"], row["dfs_event_type"]) == (71, True, "DEATH")
    assert (row["os_rand_time"], row["os_rand_event"]) == (71, True)
    assert (row["os_time"], row["os_event"]) == (162, True)
    assert (row["efs_time"], row["efs_event"], row["efs_event_type"]) == (162, True, "DEATH")
    assert row["first_failure"] == "none"


def test_censoring_at_last_assessment_and_last_alive(derived_a) -> None:
    row = _row(derived_a, "P06")
    # EFS censored at last assessment 2024-12-31: 365 days after 2024-01-01 -> 366.
    assert (row["efs_time"], row["efs_event"]) == (366, False)
    # OS censored at last alive 2025-03-01: 366 + 31 + 28 = 425 -> 426.
    assert (row["os_time"], row["os_event"]) == (426, False)
    # Not randomised: no DFS or OS from randomisation with the default dfs_t0="rand".
    assert pd.isna(row["dfs_time"]) and pd.isna(row["dfs_event"]) and pd.isna(row["os_rand_time"])


def test_progression_precluding_surgery_is_an_efs_event_at_assessment(derived_a) -> None:
    row = _row(derived_a, "P07")
    # 2024-03-15: 31 + 29 + 14 = 74 -> 75.
    assert (row["efs_time"], row["efs_event"], row["efs_event_type"]) == (
        75,
        True,
        "PROGRESSION_PRECLUDING_SURGERY",
    )
    assert row["first_failure"] == "distant"
    assert not row["ccr_cre1"] and row["evaluable"] and pd.isna(row["stratum"])


def test_r2_and_unresectable_surgery_are_efs_events_at_surgery(derived_a) -> None:
    # 2024-04-10: 31 + 29 + 31 + 9 = 100 -> 101.
    p08, p09 = _row(derived_a, "P08"), _row(derived_a, "P09")
    assert (p08["efs_time"], p08["efs_event"], p08["efs_event_type"]) == (101, True, "SURGERY_R2")
    assert (p09["efs_time"], p09["efs_event"], p09["efs_event_type"]) == (101, True, "SURGERY_unresectable")
    assert p08["resected"] and not p09["resected"]
    # The R2 operation is not a failure site; the later distant event is.
    assert p08["first_failure"] == "distant"


def test_events_on_the_same_day(derived_a) -> None:
    row = _row(derived_a, "P10")
    # Regional and distant on 2024-06-01: from rand 30 + 31 = 61 -> 62; both types reported.
    assert (row["dfs_time"], row["dfs_event"], row["dfs_event_type"]) == (62, True, "DISTANT+REGIONAL")
    assert row["first_failure"] == "combined"
    assert row["first_failure_sites"] == "distant+regional"
    # Death on the enrolment day is day 1.
    p11 = _row(derived_a, "P11")
    assert (p11["os_time"], p11["os_event"], p11["efs_time"]) == (1, True, 1)


def test_failure_pattern_uses_the_simultaneous_window() -> None:
    # P03: regrowth 2024-10-01 and distant 2024-10-20 are 19 days apart: combined at 30, local at 10.
    wide = endpoints.first_failure(cohort()).set_index("participant_id")
    narrow = endpoints.first_failure(cohort(), EndpointSettings(simultaneous_days=10)).set_index(
        "participant_id"
    )
    assert wide.loc["P03", "first_failure"] == "combined"
    assert narrow.loc["P03", "first_failure"] == "local"
    # P04: regional 184 days after the regrowth is not simultaneous.
    assert wide.loc["P04", "first_failure"] == "local"
    assert wide.loc["P12", "first_failure"] == "none"


def test_response_and_pathology(derived_a) -> None:
    d = derived_a.set_index("participant_id")
    assert d.loc["P01", "ccr_cre1"] and not d.loc["P06", "ccr_cre1"]
    assert pd.isna(d.loc["P11", "ccr_cre1"]) and not d.loc["P11", "evaluable"]
    assert pd.isna(d.loc["P12", "ccr_cre1"]) and not d.loc["P12", "evaluable"]
    # P05 ypT0N0, 0 % viable: pCR, MPR, derived Chirieac 1, no major residual disease.
    p05 = d.loc["P05"]
    assert (p05["pcr"], p05["mpr"], p05["trg_system"], p05["trg_grade"], p05["trg_source"]) == (
        True,
        True,
        "Chirieac",
        "1",
        "derived",
    )
    assert not p05["major_residual"]
    # P06 ypT2N1, 8 % viable, Mandard 3 recorded: no pCR, MPR (8 <= 10), major residual because ypN+.
    p06 = d.loc["P06"]
    assert (p06["pcr"], p06["mpr"], p06["trg_system"], p06["trg_grade"], p06["trg_source"]) == (
        False,
        True,
        "Mandard",
        "3",
        "recorded",
    )
    assert p06["major_residual"]
    # P01 salvage specimen ypT1bN0, 30 %: Chirieac 3 (11-50 %) -> major residual.
    assert (d.loc["P01", "resection_intent"], d.loc["P01", "trg_grade"], d.loc["P01", "major_residual"]) == (
        "salvage",
        "3",
        True,
    )
    assert pd.isna(d.loc["P09", "pcr"])  # explored, not resected


def test_trg_from_viable_pct_boundaries() -> None:
    chirieac = [endpoints.trg_from_viable_pct(p) for p in (0, 1, 10, 11, 50, 51)]
    becker = [endpoints.trg_from_viable_pct(p, "Becker") for p in (0, 9.9, 10, 50, 50.1)]
    assert chirieac == ["1", "2", "2", "3", "3", "4"]
    assert becker == ["1a", "1b", "2", "2", "3"]
    with pytest.raises(ValueError, match="Mandard"):
        endpoints.trg_from_viable_pct(5, "Mandard")


def test_rates(derived_a) -> None:
    r = endpoints.rates(derived_a).set_index(["measure", "group"])
    # cCR at CRE1: P01-P05, P10 = 6 of 12 enrolled; evaluable = 12 - P11 (no CRE1) - P12 (not evaluable) = 10.
    assert tuple(r.loc[("ccr_cre1_itt", "all"), ["numerator", "denominator"]]) == (6, 12)
    assert tuple(r.loc[("ccr_cre1_evaluable", "all"), ["numerator", "denominator"]]) == (6, 10)
    # Resected: P01 (CCR_WW salvage), P04 (CCR_WW salvage, no pathology), P05 (CCR_SURGERY),
    # P06, P08 (NON_CCR_SURGERY). pCR: P05 only. MPR: P05, P06.
    assert tuple(r.loc[("pcr", "all"), ["numerator", "denominator", "missing"]]) == (1, 5, 1)
    assert tuple(r.loc[("pcr", "CCR_SURGERY"), ["numerator", "denominator"]]) == (1, 1)
    assert tuple(r.loc[("mpr", "NON_CCR_SURGERY"), ["numerator", "denominator"]]) == (1, 2)
    assert tuple(r.loc[("pcr", "CCR_WW"), ["numerator", "denominator", "missing"]]) == (0, 2, 1)
    planned = endpoints.rates(derived_a, resection_intent="planned").set_index(["measure", "group"])
    assert tuple(planned.loc[("pcr", "all"), ["numerator", "denominator"]]) == (1, 3)


def test_dfs_from_enrolment_and_second_primary_setting() -> None:
    tables = cohort()
    tables["disease_events"] = pd.concat(
        [
            tables["disease_events"],
            _frame(
                "disease_events", [{"participant_id": "P06", "date": "2024-09-01", "type": "SECOND_PRIMARY"}]
            ),
        ],
        ignore_index=True,
    )
    plain = _row(endpoints.derive_dfs(tables, "A", t0="enrol"), "P06")
    # From enrolment, censored at 2024-12-31 -> 366; a second primary is no event by default.
    assert (plain["dfs_time"], plain["dfs_event"]) == (366, False)
    counted = _row(
        endpoints.derive_dfs(tables, "A", "enrol", EndpointSettings(second_primary_is_event=True)), "P06"
    )
    # 2024-09-01 - 2024-01-01 = 31+29+31+30+31+30+31+31 = 244 -> 245.
    assert (counted["dfs_time"], counted["dfs_event"], counted["dfs_event_type"]) == (
        245,
        True,
        "SECOND_PRIMARY",
    )
    everyone = endpoints.derive(tables, EndpointSettings(dfs_t0="enrol")).set_index("participant_id")
    assert everyone.loc["P06", "dfs_time"] == 366 and set(everyone["dfs_t0"]) == {"enrol"}


def test_missing_censoring_date_gives_na_not_zero() -> None:
    tables = cohort()
    tables["last_contact"] = tables["last_contact"][tables["last_contact"]["participant_id"] != "P12"]
    row = _row(endpoints.derive(tables), "P12")
    assert pd.isna(row["os_time"]) and pd.isna(row["os_event"]) and pd.isna(row["efs_time"])


def test_dates_as_date_objects_and_missing_tables() -> None:
    import datetime as dt

    tables = {
        "participants": pd.DataFrame(
            {"participant_id": ["X"], "site": ["A"], "enrol_date": [dt.date(2024, 1, 1)]}
        ),
        "deaths": pd.DataFrame({"participant_id": ["X"], "date": [dt.date(2024, 1, 10)]}),
    }
    row = _row(endpoints.derive(tables), "X")
    assert (row["os_time"], row["os_event"], row["efs_event_type"]) == (10, True, "DEATH")
    with pytest.raises(ValueError, match="enrol_date"):
        normalise_tables({"participants": pd.DataFrame({"participant_id": ["X"], "site": ["A"]})})


def test_settings_validate() -> None:
    assert EndpointSettings().dfs_variant == "A" and EndpointSettings().simultaneous_days == 30
    with pytest.raises(ValueError, match="dfs_variant must be 'A' or 'B'"):
        EndpointSettings(dfs_variant="C")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Chirieac or Becker, not 'Mandard'"):
        EndpointSettings(trg_system="Mandard")  # type: ignore[arg-type]


def test_check_consistency_clean_cohort() -> None:
    assert endpoints.check_consistency(cohort()) == []


def test_check_consistency_reports_problems() -> None:
    tables = cohort()
    extra_events = _frame(
        "disease_events",
        [
            {"participant_id": "P06", "date": "2023-12-01", "type": "DISTANT"},  # before enrolment
            {"participant_id": "P05", "date": "2024-06-01", "type": "REGIONAL"},  # fine: before death
            {"participant_id": "P05", "date": "2024-07-01", "type": "DISTANT"},  # after death
        ],
    )
    tables["disease_events"] = pd.concat([tables["disease_events"], extra_events], ignore_index=True)
    tables["pathology"] = pd.concat(
        [tables["pathology"], _frame("pathology", [{"participant_id": "P09", "ypt": "ypT3", "ypn": "ypN0"}])],
        ignore_index=True,
    )
    tables["last_contact"].loc[tables["last_contact"]["participant_id"] == "P07", "last_alive_date"] = (
        "2024-10-01"
    )
    problems = endpoints.check_consistency(tables, expect_cre1=True)
    found = {(p.table, p.participant_id, p.field, p.reason) for p in problems}
    assert ("disease_events", "P06", "date", "date before enrolment") in found
    assert ("disease_events", "P05", "date", "date after death") in found
    assert ("last_contact", "P07", "last_alive_date", "date after death") in found
    assert ("pathology", "P09", "participant_id", "pathology without a resection") in found
    assert ("cre", "P11", "seq", "CRE1 missing") in found
    # P05's regional event on 2024-06-01 falls after its last assessment (2024-05-20).
    assert ("disease_events", "P05", "date", "disease event after the last disease assessment") in found
    assert all(isinstance(p, Problem) for p in problems)
    bad = [p for p in problems if p.participant_id == "P05" and p.reason == "date after death"]
    assert [p.value for p in bad] == [pd.Timestamp("2024-07-01").date()]


def test_check_consistency_flags_vocabulary_and_allocation() -> None:
    tables = cohort()
    tables["surgery"].loc[0, "r_status"] = "R3"
    tables["allocation"].loc[tables["allocation"]["participant_id"] == "P06", "stratum"] = "CCR_WW"
    found = {(p.table, p.participant_id, p.field) for p in endpoints.check_consistency(tables)}
    assert ("surgery", "P01", "r_status") in found
    assert ("allocation", "P06", "rand_date") in found and ("allocation", "P06", "stratum") in found


ANALYSIS_FILES = [
    "endpoints.py",
    "clinical_tables.py",
    "clinical_checks.py",
    "pathology_response.py",
    "qol.py",
    "toxicity.py",
]


def test_modules_import_nothing_from_lims_flask_or_sqlalchemy() -> None:
    forbidden = {"lims", "flask", "flask_smorest", "sqlalchemy"}
    for name in ANALYSIS_FILES:
        tree = ast.parse((ROOT / "analysis" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{name} imports {roots & forbidden}"
    code = (
        "import sys, analysis.endpoints, analysis.qol, analysis.toxicity; "
        "bad = {m.split('.')[0] for m in sys.modules} & {'lims', 'flask', 'sqlalchemy'}; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


def test_missing_values_are_reported_not_fatal() -> None:
    tables = cohort()
    tables["cre"].loc[0, "seq"] = None
    tables["disease_events"].loc[0, "type"] = None
    tables["allocation"].loc[1, "stratum"] = None
    derived = endpoints.derive(tables).set_index("participant_id")
    # P01 lost its CRE1 (seq unknown) and its regrowth (type unknown): not evaluable, censored at 366.
    assert not derived.loc["P01", "evaluable"] and derived.loc["P01", "dfs_time"] == 366
    found = {(p.table, p.participant_id, p.field, p.reason) for p in endpoints.check_consistency(tables)}
    assert ("cre", "P01", "seq", "missing value") in found
    assert ("disease_events", "P01", "type", "missing value") in found
    assert ("allocation", "P02", "stratum", "missing value") in found


@pytest.mark.parametrize(
    ("ypt", "ypn", "viable_pct", "ln_positive", "pcr", "mpr"),
    [
        ("ypT0", "ypN0", None, None, True, True),  # T0 means no viable tumour in the primary: MPR
        ("ypTis", "ypN0", None, None, False, None),  # in-situ residue is not pCR; MPR unknown
        (None, None, 0.0, 0, True, True),  # 0 % viable and no positive node stand in for ypT0N0
        ("T1a", "N0", 10.0, None, False, True),  # 10 % is still MPR (<= 10 %)
        ("ypT0", None, 0.0, None, None, True),  # nodes unknown: pCR unknown
        ("ypT0", "ypN1", 0.0, None, False, True),
        ("ypT2", "ypN0", 150.0, None, False, None),  # impossible percentage: unknown, not a crash
    ],
)
def test_pcr_and_mpr_rules(ypt, ypn, viable_pct, ln_positive, pcr, mpr) -> None:
    tables = {
        "participants": _frame("participants", [{"participant_id": "X", "site": "A", "enrol_date": ENROL}]),
        "surgery": _frame(
            "surgery", [{"participant_id": "X", "date": "2024-05-01", "intent": "planned", "r_status": "R0"}]
        ),
        "pathology": _frame(
            "pathology",
            [
                {
                    "participant_id": "X",
                    "ypt": ypt,
                    "ypn": ypn,
                    "viable_pct": viable_pct,
                    "ln_positive": ln_positive,
                }
            ],
        ),
    }
    row = _row(endpoints.derive_pathology(tables), "X")
    assert (None if pd.isna(row["pcr"]) else row["pcr"]) == pcr
    assert (None if pd.isna(row["mpr"]) else row["mpr"]) == mpr
