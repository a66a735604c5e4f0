"""Table 1: counts, percentages of those with a value, medians and IQRs, missing rows, p and SMD, Word
output."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_gbsg2
from scipy import stats

from analysis import tables


def _cohort() -> pd.DataFrame:
    return pd.DataFrame({
        "arm": ["A", "A", "A", "A", "B", "B", "B", None],
        "age": [50.0, 60.0, 70.0, np.nan, 40.0, 45.0, 65.0, 99.0],
        "sex": ["M", "F", "M", "M", "F", None, "F", "M"],
        "ecog": [0, 1, 0, 0, 1, 1, 0, 0],
    })


def test_counts_percentages_medians_and_missing_rows() -> None:
    t = tables.table_one(_cohort(), "arm", ["age", "sex", "ecog"], categorical=["ecog"],
                         labels={"age": "Age (years)"}, group_labels={"A": "Surgery", "B": "Watch and wait"})
    assert list(t.columns) == ["Surgery (n=4)", "Watch and wait (n=3)", "Overall (n=7)"]  # no arm: left out
    age = ("Age (years), median [IQR]", "")
    assert t.loc[age, "Surgery (n=4)"] == "60.0 [55.0–65.0]"  # 50, 60, 70: the missing one is not counted
    assert t.loc[("Age (years), median [IQR]", "Missing")].tolist() == ["1", "0", "1"]
    assert t.loc[("sex, n (%)", "M"), "Surgery (n=4)"] == "3 (75.0%)"
    assert t.loc[("sex, n (%)", "F"), "Watch and wait (n=3)"] == "2 (100.0%)"  # of the 2 with a value
    assert t.loc[("sex, n (%)", "Missing")].tolist() == ["0", "1", "1"]
    assert t.loc[("ecog, n (%)", "0"), "Overall (n=7)"] == "4 (57.1%)"


def test_p_values_and_standardised_differences() -> None:
    g = load_gbsg2()
    t = tables.table_one(g, "horTh", ["age", "menostat", "tgrade"], p=True, smd=True, overall=False)
    no, yes = g[g.horTh == "no"], g[g.horTh == "yes"]
    p_age = stats.mannwhitneyu(no.age, yes.age, alternative="two-sided").pvalue
    assert t.loc[("age, median [IQR]", ""), "p"] == ("<0.001" if p_age < 0.001 else f"{p_age:.3f}")
    counts = pd.crosstab(g.horTh, g.tgrade)
    p_grade = stats.chi2_contingency(counts, correction=False).pvalue
    assert t.loc[("tgrade, n (%)", ""), "p"] == f"{p_grade:.3f}"
    smd = abs(no.age.mean() - yes.age.mean()) / np.sqrt((no.age.var() + yes.age.var()) / 2)
    assert t.loc[("age, median [IQR]", ""), "SMD"] == f"{smd:.2f}"
    p1, p2 = (no.menostat == "Pre").mean(), (yes.menostat == "Pre").mean()
    two_level = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)  # the binary SMD formula
    assert t.loc[("menostat, n (%)", ""), "SMD"] == f"{two_level:.2f}"
    small = pd.DataFrame({"arm": ["A"] * 6 + ["B"] * 6, "r": ["y"] * 5 + ["n"] + ["y"] + ["n"] * 5})
    fisher = stats.fisher_exact(pd.crosstab(small.arm, small.r)).pvalue  # expected counts < 5: Fisher
    assert tables.table_one(small, "arm", ["r"], p=True).loc[("r, n (%)", ""), "p"] == f"{fisher:.3f}"


def test_word_table_holds_every_cell() -> None:
    docx = pytest.importorskip("docx")
    t = tables.table_one(_cohort(), "arm", ["age", "sex"])
    data = tables.to_docx(t, "Table 1. Baseline characteristics", note="IQR: interquartile range.")
    doc = docx.Document(io.BytesIO(data))
    grid = doc.tables[0]
    assert len(grid.rows) == len(t) + 1 and len(grid.columns) == len(t.columns) + 1
    assert [c.text for c in grid.rows[0].cells] == ["Characteristic", *t.columns]
    texts = [[c.text for c in row.cells] for row in grid.rows[1:]]
    assert texts[0][1:] == list(t.iloc[0]) and texts[1][0].strip() == "Missing"
    assert "Table 1. Baseline characteristics" in doc.paragraphs[0].text
    assert any("interquartile" in p.text for p in doc.paragraphs)
