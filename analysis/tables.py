"""Table 1: baseline characteristics by arm, as journals print them.

``table_one`` returns a frame of text cells indexed by (variable, level): a categorical variable gets one row
per level with n (%) of the column's participants with a value (missing values are never in a denominator
and get their own "Missing" row), a numeric one a median [IQR] row (or mean (SD)). Optional columns: a
p-value (chi-square, or Fisher's exact test for a 2 x 2 table with an expected count below 5; Wilcoxon
rank-sum for two groups and Kruskal-Wallis for more) and the standardised mean difference (two groups; for a
categorical variable the multi-level SMD of Yang & Dalton 2012). ``to_docx`` writes it as a Word table.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from analysis._inputs import require_columns

__all__ = ["table_one", "to_docx"]


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


def _levels(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [lv for lv in s.cat.categories if (s == lv).any()]
    return sorted(s.dropna().unique(), key=lambda v: (str(type(v)), v))


def _pct(k: int, n: int, digits: int) -> str:
    return f"{k} ({100 * k / n:.{digits}f}%)" if n else f"{k} (–)"


def _numeric_cell(x: pd.Series, digits: int, summary: str) -> str:
    x = x.dropna().astype(float)
    if x.empty:
        return "–"
    if summary == "mean":
        return f"{x.mean():.{digits}f} ({x.std(ddof=1):.{digits}f})" if len(
            x) > 1 else f"{x.mean():.{digits}f}"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}–{q3:.{digits}f}]"


def _p_categorical(groups: list[pd.Series]) -> float:
    levels = sorted({v for g in groups for v in g.dropna().unique()}, key=lambda v: (str(type(v)), v))
    counts = np.array([[int((g == lv).sum()) for lv in levels] for g in groups])
    counts = counts[:, counts.sum(0) > 0]
    if counts.shape[1] < 2 or (counts.sum(1) == 0).any():
        return float("nan")
    if counts.shape == (2, 2) and stats.contingency.expected_freq(counts).min() < 5:
        return float(stats.fisher_exact(counts).pvalue)
    return float(stats.chi2_contingency(counts, correction=False).pvalue)


def _p_numeric(groups: list[pd.Series]) -> float:
    values = [g.dropna().astype(float).to_numpy() for g in groups]
    if any(len(v) == 0 for v in values):
        return float("nan")
    if len(values) == 2:
        return float(stats.mannwhitneyu(values[0], values[1], alternative="two-sided").pvalue)
    return float(stats.kruskal(*values).pvalue)


def _smd_numeric(a: pd.Series, b: pd.Series) -> float:
    a, b = a.dropna().astype(float), b.dropna().astype(float)
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float(abs(a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def _smd_categorical(a: pd.Series, b: pd.Series, levels: list) -> float:
    a, b = a.dropna(), b.dropna()
    if a.empty or b.empty or len(levels) < 2:
        return float("nan")
    p1 = np.array([(a == lv).mean() for lv in levels[1:]])
    p2 = np.array([(b == lv).mean() for lv in levels[1:]])
    s = (np.diag(p1 + p2) - np.outer(p1, p1) - np.outer(p2, p2)) / 2
    d = p1 - p2
    try:
        return float(np.sqrt(d @ np.linalg.solve(s, d)))
    except np.linalg.LinAlgError:
        return float("nan")


def _variable_rows(var: str, label: str, parts: list[tuple[str, pd.DataFrame]], per_group: list[pd.Series],
                   categorical: bool, p: bool, smd: bool, digits: int, summary: str
                   ) -> list[tuple[tuple[str, str], list[str], float, float]]:
    """One variable's rows: a head row (with p and SMD), one row per level or the summary, and Missing."""
    s = pd.concat(per_group)
    test = diff = float("nan")
    if categorical or _is_categorical(s):
        head = f"{label}, n (%)"
        levels = _levels(s)
        if p:
            test = _p_categorical(per_group)
        if smd and len(per_group) == 2:
            diff = _smd_categorical(per_group[0], per_group[1], levels)
        rows = [((head, ""), [""] * len(parts), test, diff)]
        for lv in levels:
            cells = [_pct(int((part[var] == lv).sum()), int(part[var].notna().sum()), digits)
                     for _, part in parts]
            rows.append(((head, str(lv)), cells, float("nan"), float("nan")))
    else:
        head = f"{label}, {'median [IQR]' if summary == 'median' else 'mean (SD)'}"
        if p:
            test = _p_numeric(per_group)
        if smd and len(per_group) == 2:
            diff = _smd_numeric(per_group[0], per_group[1])
        rows = [((head, ""), [_numeric_cell(part[var], digits, summary) for _, part in parts], test, diff)]
    missing = [int(part[var].isna().sum()) for _, part in parts]
    if any(missing):
        rows.append(((head, "Missing"), [str(m) for m in missing], float("nan"), float("nan")))
    return rows


def table_one(
    df: pd.DataFrame,
    by: str,
    variables: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    group_labels: Mapping[Any, str] | None = None,
    categorical: Sequence[str] = (),
    summary: str = "median",
    overall: bool = True,
    p: bool = False,
    smd: bool = False,
    digits: int = 1,
) -> pd.DataFrame:
    """Return Table 1 of ``variables`` by the groups of ``by`` (see the module docstring).

    ``labels`` name variables, ``group_labels`` name groups (arm names instead of codes); ``categorical``
    forces numeric codes (ECOG 0/1) to be counted per level; ``summary`` is "median" or "mean".
    """
    if summary not in ("median", "mean"):
        raise ValueError(f"summary must be 'median' or 'mean', got {summary!r}")
    require_columns(df, [by, *variables])
    data = df[df[by].notna()]
    groups = _levels(data[by])
    if not groups:
        raise ValueError(f"group column {by!r} has no values")
    labels, group_labels = dict(labels or {}), dict(group_labels or {})
    parts = [(str(group_labels.get(g, g)), data[data[by] == g]) for g in groups]
    if overall:
        parts.append(("Overall", data))
    columns = [f"{name} (n={len(part)})" for name, part in parts]
    rows: list[tuple[tuple[str, str], list[str], float, float]] = []
    for var in variables:
        per_group = [data.loc[data[by] == g, var] for g in groups]
        rows += _variable_rows(var, labels.get(var, var), parts, per_group, var in categorical, p, smd,
                               digits,
                               summary)
    index = pd.MultiIndex.from_tuples([r[0] for r in rows], names=["variable", "level"])
    out = pd.DataFrame([r[1] for r in rows], index=index, columns=columns)
    if p:
        out["p"] = [_fmt_p(r[2]) for r in rows]
    if smd:
        out["SMD"] = ["" if np.isnan(r[3]) else f"{r[3]:.2f}" for r in rows]
    out.attrs.update(by=by, n={name: len(part) for name, part in parts}, summary=summary)
    return out


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def to_docx(table: pd.DataFrame, title: str, note: str = "") -> bytes:
    """Return ``table`` (from ``table_one``) as a Word document with one table (python-docx)."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    doc.add_heading(title, level=2)
    header = ["Characteristic", *[str(c) for c in table.columns]]
    grid = doc.add_table(rows=1, cols=len(header))
    grid.style = "Table Grid"
    for cell, text in zip(grid.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for (variable, level), values in zip(table.index, table.itertuples(index=False), strict=True):
        cells = grid.add_row().cells
        cells[0].text = f"    {level}" if level else variable
        for cell, value in zip(cells[1:], values, strict=True):
            cell.text = str(value)
    for row in grid.rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(9)
    if note:
        doc.add_paragraph(note)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
