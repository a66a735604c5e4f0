"""Quality-of-life scale scores derived from raw item responses (domain.md section 5).

Input: the ``qol_responses`` table of ``analysis.clinical_tables`` in long form, one row per answered or
skipped item: participant_id, instrument (QLQ-C30|FACT-E), timepoint, item, value (NA = not answered) and
optionally date. Rows of the other instrument are ignored. QLQ-C30 items are 1..30 (``"Q7"``, ``"q07"`` and
``7`` are accepted); FACT-E items are the FACIT codes (GP1, GS1, GE1, GF1, HN1, E1, C6, ACT11, ...).

Output: one row per participant x timepoint (participant_id, timepoint, date = first completion date) with
float scores, NaN where a scale cannot be scored.

- QLQ-C30 v3 (Scoring Manual): RS = mean of answered items; functional S = (1 - (RS-1)/range)*100, symptom and
  global S = (RS-1)/range*100; a scale is scored if at least half its items are answered. ``SUMMARY`` =
  mean of the 5 functional scales and 100 - each of the 8 symptom scales FA..DI (Giesinger 2016), computed
  when at least ``settings.c30_summary_min_scales`` (default all 13) of them are scored.
- FACT-E v4: item score = response, or 4 - response for reversed items; subscale = sum * n_items / n_answered,
  valid if more than ``settings.fact_subscale_min_fraction`` (50 %) of its items are answered. FACT_G =
  PWB+SWB+EWB+FWB, FACT_E = FACT_G + ECS, TOI = PWB+FWB+ECS; each total needs all its subscales valid and more
  than ``settings.fact_total_min_fraction`` (80 %) of its items answered.

An out-of-range or non-integer response, an unknown item or a duplicated item raises ValueError naming the
participant, timepoint, item and value.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.clinical_tables import EndpointSettings

C30_FUNCTIONAL = {
    "PF2": (1, 2, 3, 4, 5),
    "RF2": (6, 7),
    "EF": (21, 22, 23, 24),
    "CF": (20, 25),
    "SF": (26, 27),
}
C30_SYMPTOMS = {
    "FA": (10, 12, 18),
    "NV": (14, 15),
    "PA": (9, 19),
    "DY": (8,),
    "SL": (11,),
    "AP": (13,),
    "CO": (16,),
    "DI": (17,),
    "FI": (28,),
}
C30_GLOBAL = {"QL2": (29, 30)}
C30_SCALES = ["QL2", *C30_FUNCTIONAL, *C30_SYMPTOMS]
C30_SUMMARY_SYMPTOMS = ("FA", "NV", "PA", "DY", "SL", "AP", "CO", "DI")

_ECS_ITEMS = (
    "HN1",
    "HN2",
    "HN3",
    "HN4",
    "HN5",
    "HN10",
    "HN7",
    "E1",
    "E2",
    "E3",
    "E4",
    "E5",
    "E6",
    "C6",
    "E7",
    "ACT11",
    "C2",
)
FACT_E_SUBSCALES: dict[str, tuple[str, ...]] = {
    "PWB": tuple(f"GP{i}" for i in range(1, 8)),
    "SWB": tuple(f"GS{i}" for i in range(1, 8)),
    "EWB": tuple(f"GE{i}" for i in range(1, 7)),
    "FWB": tuple(f"GF{i}" for i in range(1, 8)),
    "ECS": _ECS_ITEMS,
}
FACT_E_REVERSED = frozenset(
    [f"GP{i}" for i in range(1, 8)]
    + [f"GE{i}" for i in (1, 3, 4, 5, 6)]
    + ["HN2", "HN3", "E1", "E2", "E3", "E4", "E5", "E7", "ACT11", "C2"]
)
FACT_E_TOTALS = {
    "FACT_G": ("PWB", "SWB", "EWB", "FWB"),
    "FACT_E": ("PWB", "SWB", "EWB", "FWB", "ECS"),
    "TOI": ("PWB", "FWB", "ECS"),
}
_FACT_E_ITEMS = [item for items in FACT_E_SUBSCALES.values() for item in items]
_KEYS = ["participant_id", "timepoint"]


def _select(responses: pd.DataFrame, instrument: str) -> pd.DataFrame:
    wanted = re.sub(r"[\s_]", "", instrument).upper()
    names = responses["instrument"].astype(str).str.replace(r"[\s_]", "", regex=True).str.upper()
    frame = responses[names.str.startswith(wanted)].copy()
    if "date" not in frame.columns:
        frame["date"] = pd.NaT
    frame["date"] = pd.to_datetime(frame["date"])
    frame["participant_id"] = frame["participant_id"].astype(str)
    frame["timepoint"] = frame["timepoint"].astype(str)
    return frame


def _bad(row: pd.Series, item: object, reason: str) -> ValueError:
    return ValueError(
        f"{reason}: participant {row['participant_id']}, timepoint {row['timepoint']}, "
        f"item {item}, value {row['value']!r}"
    )


def _check_values(frame: pd.DataFrame, item_col: str, low: pd.Series, high: pd.Series) -> pd.Series:
    """Return the numeric responses, raising for any that is not an integer within [low, high]."""
    values = pd.to_numeric(frame["value"], errors="coerce")
    given = frame["value"].notna()
    bad = given & ~(values.notna() & (values == np.round(values)) & (values >= low) & (values <= high))
    if bad.any():
        row = frame[bad].iloc[0]
        idx = frame.index[bad][0]
        raise _bad(row, row[item_col], f"response out of range {low[idx]:g}-{high[idx]:g}")
    dup = frame.duplicated([*_KEYS, item_col], keep=False)
    if dup.any():
        row = frame[dup].iloc[0]
        raise _bad(row, row[item_col], "item answered twice")
    return values


def _wide(frame: pd.DataFrame, item_col: str, items: list) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (item matrix by participant x timepoint, first date per participant x timepoint)."""
    wide = frame.pivot(index=_KEYS, columns=item_col, values="score").reindex(columns=items)
    dates = frame.groupby(_KEYS)["date"].min().reindex(wide.index)
    return wide.astype(float), dates


def _item_codes(frame: pd.DataFrame, parse: Callable[[object], object | None], reason: str) -> pd.Series:
    """Return each row's item code, parsing every distinct item once; raise for the first unknown one."""
    codes = {item: parse(item) for item in pd.unique(frame["item"])}
    out = frame["item"].map(codes)
    unknown = out.isna()
    if unknown.any():
        row = frame[unknown].iloc[0]
        raise _bad(row, row["item"], reason)
    return out


def _c30_item(item: object) -> int | None:
    text = str(item).strip().upper().lstrip("Q")
    return int(text) if text.isdigit() and 1 <= int(text) <= 30 else None


def score_qlq_c30(responses: pd.DataFrame, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return QLQ-C30 v3 scale scores and the summary score per participant and timepoint."""
    settings = settings or EndpointSettings()
    frame = _select(responses, "QLQ-C30")
    columns = [*_KEYS, "date", *C30_SCALES, "SUMMARY"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["item_no"] = _item_codes(frame, _c30_item, "unknown QLQ-C30 item").astype(int)
    high = pd.Series(np.where(frame["item_no"] >= 29, 7, 4), index=frame.index)
    frame["score"] = _check_values(frame, "item_no", pd.Series(1, index=frame.index), high)
    wide, dates = _wide(frame, "item_no", list(range(1, 31)))
    out = pd.DataFrame(index=wide.index)
    out["date"] = dates
    for kind, scales in (("global", C30_GLOBAL), ("functional", C30_FUNCTIONAL), ("symptom", C30_SYMPTOMS)):
        for scale, items in scales.items():
            block = wide[list(items)]
            answered = block.notna().sum(axis=1)
            raw = block.mean(axis=1)
            span = 6.0 if kind == "global" else 3.0
            score = (1 - (raw - 1) / span) * 100 if kind == "functional" else (raw - 1) / span * 100
            out[scale] = score.where(2 * answered >= len(items))
    parts = pd.concat([out[list(C30_FUNCTIONAL)], 100 - out[list(C30_SUMMARY_SYMPTOMS)]], axis=1)
    enough = parts.notna().sum(axis=1) >= settings.c30_summary_min_scales
    out["SUMMARY"] = parts.mean(axis=1).where(enough)
    return out.reset_index()[columns]


def _fact_item(item: object) -> str | None:
    code = re.sub(r"\s", "", str(item)).upper()
    return code if code in _FACT_E_ITEMS else None


def score_fact_e(responses: pd.DataFrame, settings: EndpointSettings | None = None) -> pd.DataFrame:
    """Return FACT-E v4 subscales, FACT-G, FACT-E total and TOI per participant and timepoint."""
    settings = settings or EndpointSettings()
    frame = _select(responses, "FACT-E")
    columns = [*_KEYS, "date", *FACT_E_SUBSCALES, *FACT_E_TOTALS]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["code"] = _item_codes(frame, _fact_item, "unknown FACT-E item")
    values = _check_values(frame, "code", pd.Series(0, index=frame.index), pd.Series(4, index=frame.index))
    frame["score"] = values.where(~frame["code"].isin(FACT_E_REVERSED), 4 - values)
    wide, dates = _wide(frame, "code", _FACT_E_ITEMS)
    out = pd.DataFrame(index=wide.index)
    out["date"] = dates
    answered: dict[str, pd.Series] = {}
    for scale, items in FACT_E_SUBSCALES.items():
        block = wide[list(items)]
        answered[scale] = block.notna().sum(axis=1)
        prorated = block.sum(axis=1) * len(items) / answered[scale].replace(0, np.nan)
        out[scale] = prorated.where(answered[scale] > settings.fact_subscale_min_fraction * len(items))
    for total, scales in FACT_E_TOTALS.items():
        n_items = sum(len(FACT_E_SUBSCALES[s]) for s in scales)
        n_answered = sum(answered[s] for s in scales)
        # Sum with min_count so that one invalid subscale leaves the total missing.
        value = out[list(scales)].sum(axis=1, min_count=len(scales))
        out[total] = value.where(n_answered > settings.fact_total_min_fraction * n_items)
    return out.reset_index()[columns]
