"""Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis._inputs import require_columns, survival_frame
from analysis.survival.km import km

__all__ = ["FollowUp", "followup"]


@dataclass(frozen=True)
class FollowUp:
    """Median follow-up per group: ``table`` indexed by group with n, censored, median, lower, upper."""

    table: pd.DataFrame
    conf_type: str
    conf_level: float


def followup(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> FollowUp:
    """Median follow-up: the Kaplan-Meier median with censoring as the event and events as censored.

    As R ``survfit(Surv(time, 1 - status) ~ group)``; the potential follow-up of a participant who had the
    event is censored at the event. NaN when more than half are still followed at the last time.
    """
    frame = survival_frame(df, time, event, check_events=False)
    if group is not None:
        require_columns(df, [group])
        frame = frame.join(df[[group]]).dropna()
    reverse = frame.assign(**{event: 1.0 - frame[event]})
    if reverse[event].sum() == 0:
        raise ValueError(f"event column {event!r}: nobody is censored, so follow-up has no estimate")
    fit = km(reverse, time, event, group, conf_type=conf_type, conf_level=conf_level)
    table = fit.median.rename(columns={"events": "censored"})[["n", "censored", "median", "lower", "upper"]]
    return FollowUp(table=table, conf_type=conf_type, conf_level=conf_level)
