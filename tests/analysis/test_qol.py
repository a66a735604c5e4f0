"""QoL scoring against hand-computed examples (domain.md section 5), including missing items."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.clinical_tables import EndpointSettings
from analysis.qol import score_fact_e, score_qlq_c30

NA = None


def _long(
    pid: str, instrument: str, answers: dict[object, object], timepoint: str = "baseline"
) -> list[dict]:
    return [
        {
            "participant_id": pid,
            "instrument": instrument,
            "timepoint": timepoint,
            "date": "2024-02-01",
            "item": item,
            "value": value,
        }
        for item, value in answers.items()
    ]


# Participant A, QLQ-C30: some items missing (None) or absent altogether.
C30_A = {
    1: 1,
    2: 1,
    3: 2,
    4: 1,
    5: 1,  # PF2
    6: 2,
    7: NA,  # RF2: 1 of 2 answered
    21: 2,
    22: 2,
    23: 3,  # EF: item 24 absent, 3 of 4 answered
    20: NA,
    25: NA,  # CF: none answered
    26: 1,
    27: 1,  # SF
    10: 2,
    12: NA,  # FA: item 18 absent, 1 of 3 answered
    14: 1,
    15: 2,
    9: 3,
    19: 3,
    8: 4,
    11: NA,
    13: 1,
    16: 2,
    17: 1,
    28: 3,
    29: 5,
    30: 6,
}
# Participant B: every item 1 except fatigue items 4; global 1 and 7.
C30_B = dict.fromkeys(range(1, 29), 1) | {10: 4, 12: 4, 18: 4, 29: 1, 30: 7}


def c30_responses() -> pd.DataFrame:
    rows = _long("A", "QLQ-C30", C30_A) + _long("B", "QLQ-C30", {f"Q{k}": v for k, v in C30_B.items()})
    rows += _long("A", "FACT-E", {"GP1": 2})  # another instrument: ignored
    return pd.DataFrame(rows)


def test_qlq_c30_scales_with_missing_items() -> None:
    scores = score_qlq_c30(c30_responses()).set_index("participant_id")
    a = scores.loc["A"]
    expected = {
        "PF2": (1 - (6 / 5 - 1) / 3) * 100,  # RS = (1+1+2+1+1)/5 = 1.2 -> 93.33
        "RF2": (1 - (2 - 1) / 3) * 100,  # 1 of 2 answered is half: RS 2 -> 66.67
        "EF": (1 - (7 / 3 - 1) / 3) * 100,  # RS = (2+2+3)/3 -> (1 - 4/9)*100 = 55.56
        "SF": 100.0,  # RS 1
        "NV": (1.5 - 1) / 3 * 100,  # RS 1.5 -> 16.67
        "PA": (3 - 1) / 3 * 100,  # 66.67
        "DY": 100.0,  # 4 -> (4-1)/3
        "AP": 0.0,
        "CO": (2 - 1) / 3 * 100,  # 33.33
        "DI": 0.0,
        "FI": (3 - 1) / 3 * 100,  # 66.67
        "QL2": (5.5 - 1) / 6 * 100,  # RS (5+6)/2 = 5.5 -> 75
    }
    for scale, value in expected.items():
        assert a[scale] == pytest.approx(value), scale
    assert a["QL2"] == pytest.approx(75.0) and a["EF"] == pytest.approx(500 / 9)
    # CF none answered, FA 1 of 3 (< half), SL missing: not scored; so no summary with all 13 required.
    assert math.isnan(a["CF"]) and math.isnan(a["FA"]) and math.isnan(a["SL"]) and math.isnan(a["SUMMARY"])
    assert a["timepoint"] == "baseline" and a["date"] == pd.Timestamp("2024-02-01")


def test_qlq_c30_summary_score() -> None:
    scores = score_qlq_c30(c30_responses()).set_index("participant_id")
    b = scores.loc["B"]
    # B: functional scales 100 each (5), symptoms 0 except FA = (4-1)/3*100 = 100; QL2 RS 4 -> 50.
    assert b["FA"] == pytest.approx(100.0) and b["QL2"] == pytest.approx(50.0) and b["PF2"] == 100.0
    # Summary = (5*100 + 7*(100-0) + (100-100)) / 13 = 1200/13 = 92.31 (QL2 and FI excluded).
    assert b["SUMMARY"] == pytest.approx(1200 / 13)
    # A with 10 scales allowed: PF2 280/3, RF2 200/3, EF 500/9, SF 100 and 100 - NV 250/3, PA 100/3, DY 0,
    # AP 100, CO 200/3, DI 100: sum = 3590/9 + 300 = 6290/9, mean of 10 = 629/9 = 69.89.
    relaxed = score_qlq_c30(c30_responses(), EndpointSettings(c30_summary_min_scales=10)).set_index(
        "participant_id"
    )
    assert relaxed.loc["A", "SUMMARY"] == pytest.approx(629 / 9)


# Participant A, FACT-E: PWB 6 of 7, EWB 4 of 6, FWB 4 of 7 answered; SWB and ECS complete.
FACT_A = {
    "GP1": 1,
    "GP2": 0,
    "GP3": 2,
    "GP4": 1,
    "GP5": 0,
    "GP6": 1,
    "GP7": NA,
    "GS1": 3,
    "GS2": 3,
    "GS3": 4,
    "GS4": 2,
    "GS5": 2,
    "GS6": 3,
    "GS7": 1,
    "GE1": 1,
    "GE2": 2,
    "GE3": 0,
    "GE4": 1,
    "GE5": NA,  # GE6 absent
    "GF1": 2,
    "GF2": 2,
    "GF3": 3,
    "GF4": 3,
    "GF5": NA,
    "GF6": NA,
    "GF7": NA,
    "HN1": 3,
    "HN2": 1,
    "HN3": 0,
    "HN4": 4,
    "HN5": 2,
    "HN10": 3,
    "HN7": 4,
    "E1": 1,
    "E2": 2,
    "E3": 0,
    "E4": 1,
    "E5": 2,
    "E6": 3,
    "C6": 2,
    "E7": 1,
    "ACT11": 0,
    "C2": 1,
}
# Participant B: PWB only 3 of 7 answered, EWB exactly 3 of 6 (50 % is not > 50 %); the rest complete.
FACT_B = dict(FACT_A) | {"GP4": NA, "GP5": NA, "GP6": NA, "GE4": NA, "GE6": 1, "GF5": 1, "GF6": 1, "GF7": 1}
FACT_B.pop("GE1")

PWB_A = (3 + 4 + 2 + 3 + 4 + 3) * 7 / 6  # reversed 4-x: 3,4,2,3,4,3 = 19 -> 19*7/6 = 22.17
SWB_A = 3 + 3 + 4 + 2 + 2 + 3 + 1  # 18, not reversed
EWB_A = (3 + 2 + 4 + 3) * 6 / 4  # GE1 4-1=3, GE2 2 (not reversed), GE3 4, GE4 3 = 12 -> 12*6/4 = 18
FWB_A = (2 + 2 + 3 + 3) * 7 / 4  # 10 -> 17.5
# ECS: HN1 3, HN2 4-1=3, HN3 4-0=4, HN4 4, HN5 2, HN10 3, HN7 4, E1 3, E2 2, E3 4, E4 3, E5 2, E6 3, C6 2,
# E7 3, ACT11 4, C2 3 = 52.
ECS_A = 52


def fact_responses() -> pd.DataFrame:
    rows = _long("A", "FACT-E", FACT_A) + _long("B", "FACT-E", FACT_B, "EOT")
    rows += _long("A", "QLQ-C30", {1: 1})  # another instrument: ignored
    return pd.DataFrame(rows)


def test_fact_e_subscales_prorated() -> None:
    a = score_fact_e(fact_responses()).set_index("participant_id").loc["A"]
    assert a["PWB"] == pytest.approx(PWB_A) and a["PWB"] == pytest.approx(133 / 6)
    assert a["SWB"] == pytest.approx(SWB_A) and a["EWB"] == pytest.approx(EWB_A)
    assert a["FWB"] == pytest.approx(FWB_A) and a["ECS"] == pytest.approx(ECS_A)


def test_fact_e_totals_need_more_than_80_percent_items() -> None:
    a = score_fact_e(fact_responses()).set_index("participant_id").loc["A"]
    # FACT-G: 6+7+4+4 = 21 of 27 answered = 77.8 % <= 80 %: missing.
    assert math.isnan(a["FACT_G"])
    # FACT-E: 21+17 = 38 of 44 = 86.4 %: 133/6 + 18 + 18 + 17.5 + 52 = 127.67.
    assert a["FACT_E"] == pytest.approx(PWB_A + SWB_A + EWB_A + FWB_A + ECS_A)
    assert a["FACT_E"] == pytest.approx(127 + 2 / 3)
    # TOI: 6+4+17 = 27 of 31 = 87.1 %: 133/6 + 17.5 + 52 = 91.67.
    assert a["TOI"] == pytest.approx(91 + 2 / 3)
    # With a 75 % rule FACT-G (77.8 %) is scored: 133/6 + 18 + 18 + 17.5 = 75.67.
    relaxed = score_fact_e(fact_responses(), EndpointSettings(fact_total_min_fraction=0.75))
    assert relaxed.set_index("participant_id").loc["A", "FACT_G"] == pytest.approx(75 + 2 / 3)


def test_fact_e_subscale_needs_more_than_half_items() -> None:
    b = score_fact_e(fact_responses()).set_index("participant_id").loc["B"]
    assert b["timepoint"] == "EOT"
    # PWB 3 of 7 and EWB 3 of 6 are not > 50 %: missing, and so every total that uses them.
    assert math.isnan(b["PWB"]) and math.isnan(b["EWB"])
    assert math.isnan(b["FACT_G"]) and math.isnan(b["FACT_E"]) and math.isnan(b["TOI"])
    # FWB now complete: 2+2+3+3+1+1+1 = 13.
    assert b["FWB"] == pytest.approx(13) and b["ECS"] == pytest.approx(ECS_A)


@pytest.mark.parametrize(
    ("instrument", "item", "value", "scorer"),
    [
        ("QLQ-C30", 3, 5, score_qlq_c30),
        ("QLQ-C30", 3, 0, score_qlq_c30),
        ("QLQ-C30", 30, 8, score_qlq_c30),
        ("QLQ-C30", 2, 1.5, score_qlq_c30),
        ("FACT-E", "GP1", 5, score_fact_e),
        ("FACT-E", "HN2", -1, score_fact_e),
        ("FACT-E", "E3", "often", score_fact_e),
    ],
)
def test_out_of_range_values_raise_naming_the_response(instrument, item, value, scorer) -> None:
    rows = _long("P07", instrument, {item: value}, timepoint="CRE2")
    with pytest.raises(ValueError) as err:  # noqa: PT011 - the message is checked below, piece by piece
        scorer(pd.DataFrame(rows))
    message = str(err.value)
    assert "P07" in message and "CRE2" in message and f"item {item}" in message and repr(value) in message


def test_unknown_and_duplicate_items_raise() -> None:
    with pytest.raises(ValueError, match="unknown QLQ-C30 item"):
        score_qlq_c30(pd.DataFrame(_long("P1", "QLQ-C30", {31: 1})))
    with pytest.raises(ValueError, match="unknown FACT-E item"):
        score_fact_e(pd.DataFrame(_long("P1", "FACT-E", {"GX1": 1})))
    twice = _long("P1", "QLQ-C30", {1: 1}) + _long("P1", "QLQ-C30", {"Q1": 2})
    with pytest.raises(ValueError, match="answered twice"):
        score_qlq_c30(pd.DataFrame(twice))


def test_no_responses_give_an_empty_frame() -> None:
    empty = pd.DataFrame(columns=["participant_id", "instrument", "timepoint", "item", "value"])
    assert score_qlq_c30(empty).empty and "SUMMARY" in score_qlq_c30(empty).columns
    assert score_fact_e(empty).empty and "TOI" in score_fact_e(empty).columns
