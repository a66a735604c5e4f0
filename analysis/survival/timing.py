"""Time zero: landmarks, and a refusal to compare groups that are only known after time zero.

A grouping or covariate known only after time zero (cCR status at CRE1, the stratum assigned there, a
post-treatment ctDNA draw) must not be compared from time zero: a participant has to survive until it is
known to be in a "good" group, and that guaranteed time shows up as a spurious benefit (guarantee-time
bias; Anderson, Cain & Gelber 1983). The survival functions take ``post_baseline`` (the columns known only
after time zero) and then need either a ``landmark`` (the analysis starts there, for those still at risk, and
each participant's ``draw_day`` must not be later) or ``allow_post_baseline=True``, an explicit override whose
warning (``Timing.caveat``) every output repeats.

Days are on the scale of the time column (event date - time zero + 1, so time zero is day 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from analysis._inputs import numeric_column, require_columns

__all__ = ["Timing", "apply_timing", "landmark"]


@dataclass(frozen=True)
class Timing:
    """How time zero was handled: the landmark, rows left out for a late draw, and the override's caveat."""

    landmark: float | None = None
    post_baseline: tuple[str, ...] = ()
    late_draws: int = 0
    caveat: str | None = None

    def describe(self) -> str:
        """One sentence for a table footnote or a figure ("" when nothing is post-baseline)."""
        if self.caveat:
            return self.caveat
        if self.landmark is None:
            return ""
        text = f"Landmark at day {self.landmark:g}: participants still at risk then, clock restarted"
        if self.late_draws:
            text += f"; {self.late_draws} left out because their value was known only after the landmark"
        return text + "."


def landmark(df: pd.DataFrame, time: str, event: str, at: float) -> pd.DataFrame:
    """Keep rows still event-free and under follow-up after ``at`` and restart their clock (time - at).

    Use it for a marker measured after baseline (cCR status, post-treatment ctDNA), so the analysis cannot
    borrow the guarantee time of patients who had to survive long enough to be measured.
    """
    require_columns(df, [time, event])
    t = numeric_column(df, time)
    if at < 0:
        raise ValueError(f"landmark must be >= 0, got {at}")
    out = df.loc[t > at].copy()
    out[time] = t[t > at] - at
    return out


def apply_timing(
    df: pd.DataFrame,
    time: str,
    event: str,
    post_baseline: Sequence[str] = (),
    landmark_day: float | None = None,
    draw_day: str | None = None,
    allow_post_baseline: bool = False,
) -> tuple[pd.DataFrame, Timing]:
    """Return the rows to analyse and how time zero was handled (see the module docstring).

    With a landmark, rows still at risk after it are kept with their clock restarted; a row whose
    ``draw_day`` is later than the landmark keeps its outcome but loses its post-baseline values (they were
    not known at the landmark), so it drops out of any model using them.
    """
    post = tuple(post_baseline)
    require_columns(df, [*post, *([draw_day] if draw_day else [])])
    if landmark_day is not None:
        out = landmark(df, time, event, landmark_day)
        late = 0
        if draw_day is not None and post:
            drawn = numeric_column(out, draw_day)
            too_late = drawn > landmark_day
            late = int((too_late & out[list(post)].notna().any(axis=1)).sum())
            if all(pd.api.types.is_numeric_dtype(out[c]) for c in post):
                out.loc[too_late.to_numpy(), list(post)] = float("nan")
            else:
                for c in post:
                    out[c] = out[c].where(~too_late)
        return out, Timing(landmark=landmark_day, post_baseline=post, late_draws=late)
    if not post:
        return df, Timing()
    if not allow_post_baseline:
        raise ValueError(
            f"column(s) {_names(post)} are known only after time zero: comparing them from "
            "time zero gives guarantee-time bias; pass landmark=<day when they are known for everyone> "
            "(with draw_day=<column of each participant's day>), or allow_post_baseline=True to accept the "
            "bias"
        )
    caveat = (f"Guarantee-time bias: {_names(post, quote=False)} known only after time zero but analysed "
              "from time zero (explicit override); estimates favour groups reached by surviving longer.")
    return df, Timing(post_baseline=post, caveat=caveat)


def _names(columns: tuple[str, ...], quote: bool = True, most: int = 5) -> str:
    shown = [repr(c) if quote else str(c) for c in columns[:most]]
    more = f" and {len(columns) - most} more" if len(columns) > most else ""
    return ", ".join(shown) + more
