"""The k-group log-rank test (as R ``survdiff``), optionally stratified."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis import _coxcore
from analysis._inputs import require_columns, survival_frame
from analysis.survival.timing import Timing, apply_timing

__all__ = ["LogRank", "logrank"]


@dataclass(frozen=True)
class LogRank:
    """A k-group log-rank test: chi2 on df = k-1, p, and ``table`` (group, n, observed, expected)."""

    chi2: float
    df: int
    p: float
    table: pd.DataFrame
    var: np.ndarray
    timing: Timing = field(default_factory=Timing)


def group_levels(frame: pd.DataFrame, group: str) -> list:
    """Sorted levels of ``group`` among the rows; at least two."""
    levels = sorted(frame[group].unique(), key=lambda v: (str(type(v)), v))
    if len(levels) < 2:
        raise ValueError(f"group column {group!r} needs at least 2 groups among complete rows, found "
                         f"{levels}")
    return levels


def logrank(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str,
    strata: str | None = None,
    *,
    post_baseline: Sequence[str] = (),
    landmark: float | None = None,
    draw_day: str | None = None,
    allow_post_baseline: bool = False,
) -> LogRank:
    """Compare survival across the groups of ``group`` (as R ``survdiff``), optionally stratified.

    ``post_baseline``/``landmark``/``draw_day``/``allow_post_baseline``: see ``analysis.survival.timing``.
    """
    others = [group] + ([strata] if strata else [])
    require_columns(df, [time, event, *others])
    data, timing = apply_timing(df, time, event, post_baseline, landmark, draw_day, allow_post_baseline)
    frame = survival_frame(data, time, event).join(data[others]).dropna()
    levels = group_levels(frame, group)
    k = len(levels)
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    labels = frame[strata] if strata else pd.Series(0, index=frame.index)
    for _, part in frame.groupby(labels, sort=True):
        s = _coxcore.sort_times(part[time].to_numpy(), part[event].to_numpy())
        g = part[group].to_numpy()[s.order]
        onehot = np.stack([(g == lv).astype(float) for lv in levels], axis=1)
        at_risk = _coxcore.rcumsum(onehot)[s.start]  # distinct times x k
        d_k = np.add.reduceat(onehot * s.event[:, None], s.start)
        n = at_risk.sum(1)
        d = d_k.sum(1)
        use = d > 0
        n, d, at_risk, d_k = n[use], d[use], at_risk[use], d_k[use]
        frac = at_risk / n[:, None]
        obs += d_k.sum(0)
        exp += (d[:, None] * frac).sum(0)
        scale = np.where(n > 1, d * (n - d) / np.where(n > 1, n - 1, 1), 0.0)
        var += np.einsum("t,tij->ij", scale, frac[:, :, None] * (np.eye(k)[None] - frac[:, None, :]))
    diff = (obs - exp)[:-1]
    chi2 = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    table = pd.DataFrame(
        {
            "group": levels,
            "n": [int((frame[group] == lv).sum()) for lv in levels],
            "observed": obs,
            "expected": exp,
        }
    )
    return LogRank(chi2=chi2, df=k - 1, p=float(stats.chi2.sf(chi2, k - 1)), table=table, var=var,
                   timing=timing)
