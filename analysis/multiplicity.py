"""Multiple-testing adjustment over a declared family of p-values (NaN entries are left out and stay NaN)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bh", "by"]


def _step_up(p: Sequence[float] | np.ndarray, dependence_factor: bool) -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    pv = arr[ok]
    if pv.size == 0:
        return out
    if ((pv < 0) | (pv > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    m = pv.size
    order = np.argsort(pv)
    scale = m / np.arange(1, m + 1)
    if dependence_factor:
        scale = scale * np.sum(1.0 / np.arange(1, m + 1))
    q = np.minimum.accumulate((pv[order] * scale)[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(q, 1.0)
    out[ok] = adjusted
    return out


def bh(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (FDR under independence or positive dependence), as ``fdr_bh``."""
    return _step_up(p, dependence_factor=False)


def by(p: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Yekutieli q-values (FDR under arbitrary dependence), as statsmodels ``fdr_by``."""
    return _step_up(p, dependence_factor=True)
