"""Figures of the results pages as PNG, SVG or PDF bytes (drawn by ``analysis.figures``)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis import figures

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
REPORT_FIGURES = {"km": "Kaplan-Meier by the run's groups", "roc": "ROC curve", "response": "Marker by response",
                  "trajectory": "Marker over time", "forest": "Multivariable Cox model"}
FOREST_ROWS = 30


def render(fig: Figure, fmt: str) -> bytes:
    """Return the figure in ``fmt`` (png, svg or pdf)."""
    return figures.to_bytes(fig, fmt)


def readout_curve(frame: pd.DataFrame, title: str) -> Figure:
    """KM curves by stratum (or arm) with numbers at risk."""
    return figures.km_plot(frame, "time", "event", "stratum", xlabel="Days", title=title)


def qol_over_time(qol: dict[str, pd.DataFrame], order: dict[str, int]) -> Figure:
    """Mean QoL scale score per time point, one line per arm, one panel per scale."""
    fig = Figure(figsize=(10, 2.6 * max(1, (len(qol) + 1) // 2)))
    for i, (label, frame) in enumerate(qol.items()):
        ax = fig.add_subplot(max(1, (len(qol) + 1) // 2), 2, i + 1)
        timepoints = sorted(frame["timepoint"].unique(), key=lambda tp: (order.get(tp, 10**6), tp))
        position = {tp: k for k, tp in enumerate(timepoints)}
        for j, (stratum, part) in enumerate(frame.groupby("stratum", sort=True)):
            part = part.sort_values("timepoint", key=lambda s: s.map(position))
            ax.plot(part["timepoint"].map(position), part["mean"], "-o", markersize=3, linewidth=1,
                    color=figures.COLOURS[j % len(figures.COLOURS)], label=str(stratum))
        ax.set_xticks(range(len(timepoints)), timepoints, rotation=60, fontsize=7)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("mean score", fontsize=8)
        if i == 0:
            ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def volcano(result: pd.DataFrame, title: str) -> Figure:
    """Volcano plot of a saved run's result."""
    return figures.volcano_plot(result, title=title)


def forest(result: pd.DataFrame, title: str) -> Figure:
    """Forest plot of the run's markers with the smallest p (at most ``FOREST_ROWS``)."""
    top = result.dropna(subset=["p"]).sort_values("p").head(FOREST_ROWS)
    return figures.forest_plot(top, label=str(result.attrs.get("effect") or "effect"), title=title)


def report_figure(kind: str, report: dict[str, Any], trajectory: pd.DataFrame | None = None) -> Figure:
    """One figure of a marker report (``REPORT_FIGURES``); ValueError if it does not apply to the outcome."""
    frame, spec, marker = report["frame"], report["spec"], report["marker"]
    if kind == "km":
        if spec.kind != "survival":
            raise ValueError(f"a Kaplan-Meier plot needs a survival outcome, not {spec.label}")
        split = "the run's optimal cut" if report.get("cut_kind") == "optimal" else "median split"
        return figures.km_plot(frame, "time", "event", "group", xlabel="Days",
                               title=f"{spec.label} by {marker} ({split})")
    if kind == "roc":
        if spec.kind != "binary":
            raise ValueError(f"a ROC curve needs a binary outcome, not {spec.label}")
        return figures.roc_plot(frame, "outcome", "value", title=f"{marker} for {spec.label}")
    if kind == "response":
        if spec.kind == "binary":
            labelled = frame.assign(response=frame["outcome"].map({1.0: f"{spec.label}", 0.0: f"no {spec.label}"}))
        else:
            labelled = frame.assign(response=frame["event"].map({1.0: "event", 0.0: "censored"}))
        fig = figures.marker_by_response(labelled, "value", "response")
        fig.axes[0].set_ylabel(f"{marker} (transformed)")
        return fig
    if kind == "trajectory":
        if trajectory is None:
            raise ValueError("no trajectory data")
        fig = figures.marker_over_time(trajectory.rename(columns={"value": marker, "day": "study day"}),
                                       "participant_id", "study day", marker, "status",
                                       log=bool((trajectory["value"] > 0).all()) and len(trajectory) > 0)
        return fig
    if kind == "forest":
        if "cox" not in report:
            raise ValueError("no multivariable Cox model for this marker")
        table = report["cox"].table.rename(index={"value": marker})
        return figures.forest_plot(table, label="HR", title=f"{spec.label}: {marker} adjusted")
    raise ValueError(f"unknown figure {kind!r}; use {', '.join(REPORT_FIGURES)}")
