"""Input checks shared by the survival, binary and screen modules (private).

Every check raises ``ValueError`` naming the column and the problem, so a researcher in a notebook sees what
to fix. Missing values are not errors: models drop incomplete rows and report how many they used.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise if any of ``columns`` is absent from ``df``."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"column {missing[0]!r} is missing from the data (columns: {list(df.columns)})")


def numeric_column(df: pd.DataFrame, column: str) -> pd.Series:
    """Return ``df[column]`` as float, raising if it is not numeric (booleans count as 0/1)."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if not pd.api.types.is_numeric_dtype(s):
        raise ValueError(f"column {column!r} must be numeric, got dtype {s.dtype}")
    return s.astype(float)


def check_time(time: pd.Series, column: str) -> None:
    """Raise if a (NaN-free) survival time is negative or infinite."""
    if (time < 0).any():
        raise ValueError(f"column {column!r} has negative times (e.g. {time[time < 0].iloc[0]:g})")
    if not np.isfinite(time.to_numpy()).all():
        raise ValueError(f"column {column!r} has infinite times")


def check_binary(values: pd.Series, column: str, what: str = "event") -> None:
    """Raise if a (NaN-free) indicator holds anything other than 0 and 1."""
    bad = ~values.isin([0.0, 1.0])
    if bad.any():
        raise ValueError(f"{what} column {column!r} must be 0/1 (or boolean), found {values[bad].iloc[0]!r}")


def _check_events(event: np.ndarray, column: str) -> None:
    """Raise if there are no events to analyse."""
    if event.sum() == 0:
        raise ValueError(f"event column {column!r} has zero events among the complete rows")


def survival_frame(
    df: pd.DataFrame, time: str, event: str, others: Sequence[str] = (), numeric_others: bool = True,
    check_events: bool = True,
) -> pd.DataFrame:
    """Validate time/event (and other) columns; return the complete rows with time and event as floats.

    Rows with a missing value in any of the named columns are dropped (per model, as R does).
    """
    require_columns(df, [time, event, *others])
    out = pd.DataFrame(index=df.index)
    out[time] = numeric_column(df, time)
    out[event] = numeric_column(df, event)
    for c in others:
        out[c] = numeric_column(df, c) if numeric_others else df[c]
    out = out.dropna()
    if out.empty:
        raise ValueError(f"no complete rows for columns {[time, event, *others]}")
    check_time(out[time], time)
    check_binary(out[event], event)
    if check_events:
        _check_events(out[event].to_numpy(), event)
    return out


def binary_frame(df: pd.DataFrame, outcome: str, others: Sequence[str] = ()) -> pd.DataFrame:
    """Validate a 0/1 outcome (and numeric other columns); return complete rows as floats."""
    require_columns(df, [outcome, *others])
    out = pd.DataFrame(index=df.index)
    out[outcome] = numeric_column(df, outcome)
    for c in others:
        out[c] = numeric_column(df, c)
    out = out.dropna()
    if out.empty:
        raise ValueError(f"no complete rows for columns {[outcome, *others]}")
    check_binary(out[outcome], outcome, what="outcome")
    y = out[outcome].to_numpy()
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError(f"outcome column {outcome!r} needs both 0 and 1 among the complete rows")
    return out
