"""Marker transforms applied before modelling: ``none``, ``log2``, ``log10`` and ``clr``.

``log2``/``log10`` need positive values; a zero or negative value raises unless a ``pseudocount`` is given
(added to every value before the log). ``clr`` (centred log-ratio) is for compositions such as microbiome
relative abundances: each row is one sample's composition over the given columns,
clr(x)_j = log(x_j + c) - mean_k log(x_k + c), with pseudocount c defaulting to half the smallest positive
value in the table (zeros are common in compositions and log(0) is undefined). A row with any missing part
becomes all-missing, because its composition is unknown.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["TRANSFORMS", "apply", "apply_or_skip", "clr", "log2", "log10", "none"]


def none(values: pd.DataFrame, pseudocount: float | None = None) -> pd.DataFrame:
    """Return the values unchanged (as float)."""
    return values.astype(float)


def _log(values: pd.DataFrame, base: float, pseudocount: float | None) -> pd.DataFrame:
    shifted = values.astype(float) + (pseudocount or 0.0)
    bad = (shifted <= 0).any()
    if bad.any():
        col = bad[bad].index[0]
        raise ValueError(
            f"column {col!r} has zero or negative values: a log transform needs positive values "
            "(pass pseudocount= or transform='none')"
        )
    return np.log(shifted) / np.log(base)


def log2(values: pd.DataFrame, pseudocount: float | None = None) -> pd.DataFrame:
    """Return log2(values + pseudocount); a one-unit effect is then per doubling of the marker."""
    return _log(values, 2.0, pseudocount)


def log10(values: pd.DataFrame, pseudocount: float | None = None) -> pd.DataFrame:
    """Return log10(values + pseudocount); a one-unit effect is per ten-fold change."""
    return _log(values, 10.0, pseudocount)


def clr(values: pd.DataFrame, pseudocount: float | None = None) -> pd.DataFrame:
    """Centred log-ratio per row (natural log), pseudocount default half the smallest positive value."""
    v = values.astype(float)
    if (v < 0).any().any():
        col = (v < 0).any()
        raise ValueError(f"column {col[col].index[0]!r} has negative values: clr needs a composition")
    if pseudocount is None:
        positive = v.to_numpy()[v.to_numpy() > 0]
        if positive.size == 0:
            raise ValueError("clr needs at least one positive value")
        pseudocount = float(positive.min()) / 2
    logs = np.log(v + pseudocount)
    out = logs.sub(logs.mean(axis=1), axis=0)
    out[v.isna().any(axis=1)] = np.nan
    return out


TRANSFORMS: dict[str, Callable[..., pd.DataFrame]] = {"none": none, "log2": log2, "log10": log10, "clr": clr}


def apply(name: str, values: pd.DataFrame, pseudocount: float | None = None) -> pd.DataFrame:
    """Apply the transform called ``name`` (one of ``TRANSFORMS``) to a frame of marker columns."""
    if name not in TRANSFORMS:
        raise ValueError(f"transform must be one of {sorted(TRANSFORMS)}, got {name!r}")
    return TRANSFORMS[name](values, pseudocount)


def apply_or_skip(name: str, values: pd.DataFrame, pseudocount: float | None = None
                  ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Apply ``name``; a log of a column with zero or negative values becomes all-missing with a note.

    Returns the transformed frame (same columns) and {column: why it was skipped}, so one marker with zeros
    does not stop a screen of many.
    """
    if name not in ("log2", "log10"):
        return apply(name, values, pseudocount), {}
    bad = (values.astype(float) + (pseudocount or 0.0) <= 0).any()
    notes = {str(c): f"zero or negative values: {name} needs a pseudocount (skipped)" for c in bad[bad].index}
    good = apply(name, values.loc[:, ~bad.to_numpy()], pseudocount)
    return good.reindex(columns=values.columns), notes
