"""Kaplan-Meier and cumulative-incidence figures with at-risk and cumulative-event tables under the ticks.

Time is drawn in months (input in days); the tables under the plot give, at every tick, the number still at
risk and the cumulative number of events per group, in the group's colour, so each number sits exactly
under its tick. Their text objects carry ``gid="at_risk:<group>:<day>"`` and ``gid="events:<group>:<day>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import offset_copy

from analysis import competing, survival
from analysis.figures.style import (
    DAYS_PER_MONTH,
    colour,
    fmt_p,
    footnote,
    month_ticks,
    name,
    new_figure,
    styled,
)

__all__ = ["cif_plot", "km_plot"]


def _scale(display: str) -> float:
    if display not in ("months", "days"):
        raise ValueError(f"display must be 'months' or 'days', got {display!r}")
    return DAYS_PER_MONTH if display == "months" else 1.0


ROW_IN = 0.18  # height of one table row, inches


def _layout(fig_w: float, plot_h: float, rows: int, caveat: bool, top: float = 0.45
            ) -> tuple[Figure, float, float, float]:
    """A figure holding a plot of ``plot_h`` inches over ``rows`` table rows; returns it with the plot's
    bottom, height and the tables' bottom (figure fractions)."""
    axis_label, foot = 0.55, 0.12 + (0.3 if caveat else 0.0)
    tables = rows * ROW_IN
    height = top + plot_h + axis_label + tables + foot
    fig = new_figure((fig_w, height))
    return fig, (foot + tables + axis_label) / height, plot_h / height, foot / height


def _tables(fig: Figure, ax: Axes, frame: pd.DataFrame, time: str, event: str | None, group: str,
            levels: list, names: Mapping | None, ticks_days: np.ndarray, scale: float, bottom: float) -> None:
    """Draw the at-risk and cumulative-event tables under ``ax`` (shared x, so numbers sit under the
    ticks)."""
    box = ax.get_position()
    row = ROW_IN / fig.get_figheight()
    kinds = [("Number at risk", "at_risk")] + ([("Cumulative events", "events")] if event else [])
    for k, (title, kind) in enumerate(reversed(kinds)):
        height = row * (len(levels) + 1)
        tab = fig.add_axes((box.x0, bottom + k * (height + 0.4 * row), box.width, height), sharex=ax,
                           label=kind)
        tab.set_ylim(-0.5, len(levels) + 0.5)
        left = offset_copy(tab.get_yaxis_transform(), fig=fig, x=-18, units="points")
        tab.text(0, len(levels), title, transform=left, fontsize=8, fontweight="bold", va="center",
                 ha="right")
        for i, lv in enumerate(levels):
            part = frame[frame[group] == lv]
            y = len(levels) - 1 - i
            tab.text(0, y, name(lv, names), transform=left, ha="right", va="center", fontsize=8,
                     color=colour(i))
            for t in ticks_days:
                value = int((part[time] >= t).sum()) if kind == "at_risk" else int(
                    part.loc[part[time] <= t, event].sum())
                tab.text(t / scale, y, str(value), ha="center", va="center", fontsize=8, color=colour(i),
                         gid=f"{kind}:{lv}:{t:g}")
        tab.axis("off")


def _levels(frame: pd.DataFrame, group: str) -> list:
    return sorted(frame[group].unique(), key=lambda v: (str(type(v)), v))


def _curves(ax: Axes, fit: survival.KaplanMeier, scale: float, names: Mapping | None) -> None:
    """Step curves with CI bands and censor ticks, labelled with n and events."""
    for i, lv in enumerate(fit.median.index):
        part = fit.table[fit.table["group"] == lv]
        t = np.concatenate([[0.0], part["time"].to_numpy()]) / scale
        s = np.concatenate([[1.0], part["surv"].to_numpy()])
        lo = np.concatenate([[1.0], part["lower"].to_numpy()])
        hi = np.concatenate([[1.0], part["upper"].to_numpy()])
        med = fit.median.loc[lv]
        ax.step(t, s, where="post", color=colour(i),
                label=f"{name(lv, names)} (n={int(med['n'])}, events={int(med['events'])})")
        ax.fill_between(t, lo, hi, step="post", color=colour(i), alpha=0.12, linewidth=0)
        cens = part[part["n_censor"] > 0]
        ax.plot(cens["time"] / scale, cens["surv"], "|", color=colour(i), markersize=7, markeredgewidth=1.1)


def _comparison(ax: Axes, frame: pd.DataFrame, time: str, event: str, group: str, levels: list,
                names: Mapping | None, p_text: str | None) -> None:
    """The log-rank p (or the caller's p) and, for two groups, the Cox HR, as legend lines."""
    if frame[event].sum() == 0:
        ax.plot([], [], " ", label="No events yet: no comparison")
        return
    ax.plot([], [], " ", label=p_text or f"Log-rank {fmt_p(survival.logrank(frame, time, event, group).p)}")
    if len(levels) == 2:
        fitted = survival.cox(frame.assign(_second=(frame[group] == levels[1]).astype(float)), time, event,
                              ["_second"])
        hr = fitted.table.iloc[0]
        if fitted.converged:
            ax.plot([], [], " ", label=f"HR {name(levels[1], names)} vs {name(levels[0], names)}: "
                                      f"{hr['hr']:.2f} (95% CI {hr['hr_low']:.2f}-{hr['hr_high']:.2f})")


@styled
def km_plot(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    conf_type: str = "log",
    at_risk_times: Sequence[float] | None = None,
    xlabel: str | None = None,
    title: str | None = None,
    *,
    names: Mapping | None = None,
    display: str = "months",
    p_text: str | None = None,
    caveat: str | None = None,
    ylabel: str = "Survival probability",
) -> Figure:
    """Kaplan-Meier curves by group with CI bands, censor ticks, log-rank p (or ``p_text``) and HR, and the
    at-risk / cumulative-event tables.

    ``names`` maps group values to display names (arm names instead of codes); ``at_risk_times`` (in days)
    default to the axis ticks; ``caveat`` is printed under the figure.
    """
    scale = _scale(display)
    frame = df.assign(_all="All") if group is None else df
    group_col = "_all" if group is None else group
    frame = frame.dropna(subset=[time, event, group_col])
    fit = survival.km(frame, time, event, group_col, conf_type=conf_type)
    levels = list(fit.median.index)
    k = len(levels)
    fig, plot_bottom, plot_height, bottom = _layout(7.0, 3.2, 2 * (k + 1) + 1, bool(caveat))
    ax = fig.add_axes((0.27, plot_bottom, 0.69, plot_height))
    _curves(ax, fit, scale, names if group else {"all": "All"})
    if group is not None and k >= 2:
        _comparison(ax, frame, time, event, group, levels, names, p_text)
    max_days = float(frame[time].max())
    ticks = np.asarray(at_risk_times, float) / scale if at_risk_times is not None else (
        month_ticks(max_days / scale) if display == "months" else None)
    if ticks is None:
        ticks = np.array([tk for tk in ax.get_xticks() if 0 <= tk <= max_days])
    ax.set_xticks(ticks)
    ax.set_xlim(0, max(ticks.max(), max_days / scale) * 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel or ("Months" if display == "months" else "Days"))
    ax.set_title(title or "Kaplan-Meier estimate", loc="left")
    ax.plot([], [], " ", label=f"Shaded: 95% CI ({conf_type} transform); |: censored")
    ax.legend(loc="best", frameon=False)
    _tables(fig, ax, frame, time, event, group_col, levels, names if group else {"All": "All"},
            ticks * scale, scale, bottom)
    footnote(fig, caveat, warn=True)
    return fig


@styled
def cif_plot(
    df: pd.DataFrame,
    time: str,
    cause: str,
    group: str | None = None,
    causes: Mapping[Any, str] | None = None,
    *,
    names: Mapping | None = None,
    display: str = "months",
    title: str | None = None,
    caveat: str | None = None,
) -> Figure:
    """Cumulative incidence of each cause (Aalen-Johansen, as R cmprsk) by group, one panel per cause with
    Gray's p, and the at-risk table under each panel."""
    scale = _scale(display)
    frame = df.assign(_all="All") if group is None else df
    group_col = "_all" if group is None else group
    frame = frame.dropna(subset=[time, cause, group_col])
    ci = competing.cuminc(frame, time, cause, group_col)
    shown = [c for c in (causes or {c: str(c) for c in ci.causes}) if c in ci.causes]
    levels = list(ci.groups)
    k = len(levels)
    fig, plot_bottom, plot_height, bottom = _layout(3.3 * len(shown) + 1.6, 2.8, k + 1, bool(caveat),
                                                    top=0.85)
    ymax = max(0.05, min(1.0, 1.15 * float(ci.table.loc[ci.table["cause"].isin(shown), "estimate"].max())))
    ticks = month_ticks(frame[time].max() / scale) if display == "months" else None
    left, width = 1.5 / fig.get_figwidth(), 3.3 / fig.get_figwidth()
    for j, c in enumerate(shown):
        ax = fig.add_axes((left + j * width, plot_bottom, width * 0.82, plot_height))
        for i, lv in enumerate(levels):
            part = ci.table[(ci.table["group"] == lv) & (ci.table["cause"] == c)]
            t = np.concatenate([[0.0], part["time"].to_numpy(), [ci.last[lv]]]) / scale
            est = np.concatenate([[0.0], part["estimate"].to_numpy(),
                                  part["estimate"].to_numpy()[-1:] if len(part)
                                  else [0.0]])
            ax.step(t, est, where="post", color=colour(i), label=name(lv, names) if group else None)
        p = ci.test.loc[c, "p"] if c in ci.test.index else None
        label = (causes or {}).get(c, str(c))
        ax.set_title(f"{label}" + (f"\nGray's test {fmt_p(p)}" if p is not None else ""), loc="left",
                     fontsize=9)
        if ticks is not None:
            ax.set_xticks(ticks)
        ax.set_xlim(0, frame[time].max() / scale * 1.02)
        ax.set_ylim(0, ymax)  # one scale for every cause, so the panels compare
        ax.set_xlabel("Months" if display == "months" else "Days")
        if j == 0:
            ax.set_ylabel("Cumulative incidence")
            if group is not None:
                fig.legend(*ax.get_legend_handles_labels(), loc="upper right", ncol=k, frameon=False,
                           bbox_to_anchor=(0.99, 0.995))
        if j == 0:
            _tables(fig, ax, frame, time, None, group_col, levels, names if group else {"All": "All"},
                    ax.get_xticks() * scale, scale, bottom)
    fig.suptitle(title or "Cumulative incidence by cause (competing risks)", x=0.01, y=0.985, ha="left",
                 va="top",
                 fontsize=10)
    footnote(fig, caveat, warn=True)
    return fig
