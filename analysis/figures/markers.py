"""Marker figures: volcano plot with labels that do not collide, ROC whose curve and AUC agree, marker by
response and marker over time (with units)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from analysis import binary
from analysis.figures.style import (
    DAYS_PER_MONTH,
    GREY,
    colour,
    footnote,
    name,
    new_figure,
    overlapping,
    styled,
)

__all__ = ["marker_by_response", "marker_over_time", "roc_plot", "roc_points", "volcano_plot"]

# candidate label offsets (points) around a point: close ones first, then further out with a leader line
OFFSETS = [(5, 5, "left", "bottom"), (5, -5, "left", "top"), (-5, 5, "right", "bottom"),
           (-5, -5, "right", "top"),
           (0, 9, "center", "bottom"), (0, -9, "center", "top"), (12, 0, "left", "center"),
           (-12, 0, "right", "center")]
OFFSETS += [(dx * 3, dy * 3, ha, va) for dx, dy, ha, va in OFFSETS]
MARKERS = ["o", "s", "^", "D", "v", "P"]


def place_labels(ax: Axes, x: np.ndarray, y: np.ndarray, texts: list[str]) -> list:
    """Annotate points in order, each at the first candidate offset whose box stays inside the axes and clear
    of the labels already placed; a label with no free place is left out. Returns the placed annotations."""
    canvas = ax.figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # figures are made by new_figure
    renderer = canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list = []
    boxes: list[Bbox] = []
    for xi, yi, text in zip(x, y, texts, strict=True):
        for dx, dy, ha, va in OFFSETS:
            far = abs(dx) > 12 or abs(dy) > 12
            note = ax.annotate(text, (xi, yi), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=7, gid=f"label:{text}",
                               arrowprops={"arrowstyle": "-", "color": GREY, "lw": 0.6} if far else None)
            box = note.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not overlapping([*boxes, box], pad=0.5):
                placed.append(note)
                boxes.append(box)
                break
            note.remove()
    return placed


@styled
def volcano_plot(result: pd.DataFrame, label_top: int = 10, title: str | None = None, *,
                 units: Mapping[str, str] | None = None, caveat: str | None = None) -> Figure:
    """Volcano plot of a screen: log2 effect vs -log10 p, coloured by q (< 0.05, < 0.10, other).

    ``units`` gives each marker's effect unit ("per doubling", "per unit", "high vs low"): markers of
    different units get different symbols, so effects on different scales are not read as one. Infinite or
    missing estimates are not drawn (counted under the plot).
    """
    effect = str(result.attrs.get("effect", "effect"))
    finite = result[np.isfinite(result["effect"].astype(float)) & (result["effect"] > 0) & result["p"]
                    .notna()]
    hidden = len(result) - len(finite)
    x = np.log2(finite["effect"].to_numpy(float))
    y = -np.log10(np.maximum(finite["p"].to_numpy(float), 1e-300))
    q = finite["q"].to_numpy(float) if "q" in finite else np.ones(len(finite))
    unit_of = pd.Series({m: (units or {}).get(m, "") for m in finite.index}, dtype=object)
    kinds = sorted(set(unit_of)) or [""]
    fig = new_figure((6.4, 5.2))
    ax = fig.add_axes((0.12, 0.14 + (0.04 if caveat else 0), 0.84, 0.74))
    for cls, col, label in ((q < 0.05, colour(1), "q < 0.05"),
                            ((q >= 0.05) & (q < 0.10), colour(4), "q < 0.10"),
                            (~(q < 0.10), GREY, "q >= 0.10")):
        for j, kind in enumerate(kinds):
            mask = cls & (unit_of.to_numpy() == kind)
            ax.scatter(x[mask], y[mask], s=16, color=col, marker=MARKERS[j % len(MARKERS)], alpha=0.85,
                       label=f"{label} ({int(cls.sum())})" if j == 0 else None, linewidths=0)
    for j, kind in enumerate(kinds if len(kinds) > 1 else []):
        ax.scatter([], [], marker=MARKERS[j % len(MARKERS)], color="black", s=16,
                   label=kind or "unit not given")
    ax.axvline(0, color=GREY, linewidth=0.8)
    span = max(1.0, float(np.max(np.abs(x)))) * 1.15 if len(x) else 1.0
    ax.set_xlim(-span, span)
    ax.set_ylim(0, max(1.0, float(y.max()) if len(y) else 1.0) * 1.18)
    unit = kinds[0] if len(kinds) == 1 and kinds[0] else "unit per marker: see the symbols"
    ax.set_xlabel(f"log2 {effect} ({unit})")
    ax.set_ylabel("-log10 p")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(title or f"{len(result)} markers", loc="left")
    order = np.argsort(-y)[:label_top]
    place_labels(ax, x[order], y[order], [str(finite.index[i]) for i in order])
    notes = [f"{hidden} marker(s) without a finite estimate not shown." if hidden else "", caveat or ""]
    footnote(fig, " ".join(n for n in notes if n), warn=bool(caveat))
    return fig


def roc_points(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates calling score >= c positive, for every threshold c from high to low."""
    y = np.asarray(y, float)
    score = np.asarray(score, float)
    cuts = np.concatenate([[np.inf], np.unique(score)[::-1]])
    tpr = np.array([(score[y == 1] >= c).mean() for c in cuts])
    fpr = np.array([(score[y == 0] >= c).mean() for c in cuts])
    return fpr, tpr


@styled
def roc_plot(df: pd.DataFrame, outcome: str, marker: str, title: str | None = None, *,
             outcome_label: str | None = None, marker_label: str | None = None) -> Figure:
    """ROC curve of ``marker`` for a 0/1 ``outcome`` in the direction that predicts it, with the AUC of that
    very curve (DeLong 95% CI) and the Youden point."""
    a = binary.associate(df, outcome, marker)
    sub = df[[outcome, marker]].dropna()
    higher = a.direction == "higher"
    fpr, tpr = roc_points(sub[outcome].to_numpy(float), sub[marker].to_numpy(float) * (1 if higher else -1))
    auc, low, high = (a.auc, a.auc_low, a.auc_high) if higher else (1 - a.auc, 1 - a.auc_high, 1 - a.auc_low)
    what, who = outcome_label or outcome, marker_label or marker
    fig = new_figure((5.2, 5.2))
    ax = fig.add_axes((0.14, 0.12, 0.8, 0.76))
    ax.plot(fpr, tpr, color=colour(0), gid="roc_curve",
            label=f"AUC {auc:.3f} (95% CI {low:.3f}-{high:.3f})\nn={a.n}, {what}={a.events}")
    ax.plot([0, 1], [0, 1], color=GREY, linestyle="--", linewidth=0.8)
    ax.plot(1 - a.specificity, a.sensitivity, "o", color=colour(1),
            label=f"Youden cut {'>=' if higher else '<='} {a.youden_cut:.3g}: sens {a.sensitivity:.2f}, "
                  f"spec {a.specificity:.2f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.plot([], [], " ", label=f"{'higher' if higher else 'lower'} {who} predicts {what}")
    ax.legend(loc="lower right", frameon=False)
    ax.set_title(title or f"{who} for {what}", loc="left")
    return fig


@styled
def marker_by_response(df: pd.DataFrame, marker: str, outcome: str, seed: int = 0, *, unit: str | None = None,
                       names: Mapping | None = None, ylabel: str | None = None, log: bool = False) -> Figure:
    """Box plot of ``marker`` per outcome level with the individual points (jittered, seeded), with its
    unit."""
    sub = df[[marker, outcome]].dropna()
    levels = sorted(sub[outcome].unique(), key=lambda v: (str(type(v)), v))
    data = [sub.loc[sub[outcome] == lv, marker].to_numpy(float) for lv in levels]
    fig = new_figure((4.6, 4.8))
    ax = fig.add_axes((0.18, 0.14, 0.76, 0.76))
    ax.boxplot(data, showfliers=False, widths=0.5, medianprops={"color": "black"})
    rng = np.random.default_rng(seed)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=11, alpha=0.7, color=colour(i - 1),
                   linewidths=0)
    ax.set_xticks(range(1, len(levels) + 1),
                  [f"{name(lv, names)}\n(n={len(v)})" for lv, v in zip(levels, data,
                                                                                                strict=True)])
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel or (f"{marker} ({unit})" if unit else marker))
    return fig


@styled
def marker_over_time(df: pd.DataFrame, participant: str, time: str, marker: str, outcome: str | None = None,
                     log: bool = False, *, unit: str | None = None, display: str = "months",
                     xlabel: str | None = None, caveat: str | None = None) -> Figure:
    """One line per participant of ``marker`` over ``time`` (days; drawn in months), coloured by
    ``outcome``."""
    sub = df.dropna(subset=[participant, time, marker]).sort_values([participant, time])
    scale = DAYS_PER_MONTH if display == "months" else 1.0
    levels = sorted(sub[outcome].dropna().unique()) if outcome else [None]
    colours = {lv: colour(i) for i, lv in enumerate(levels)}
    fig = new_figure((6.6, 4.6))
    ax = fig.add_axes((0.13, 0.14 + (0.04 if caveat else 0), 0.83, 0.76))
    seen: set = set()
    for _pid, part in sub.groupby(participant, sort=False):
        lv = part[outcome].iloc[0] if outcome else None
        ax.plot(part[time] / scale, part[marker], "-o", markersize=3, linewidth=0.9, alpha=0.75,
                color=colours.get(lv, GREY), label=None if lv in seen or lv is None else str(lv))
        seen.add(lv)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel or ("Months from enrolment" if display == "months" else "Days from enrolment"))
    ax.set_ylabel(f"{marker} ({unit})" if unit else marker)
    if outcome:
        ax.legend(frameon=False)
    footnote(fig, caveat, warn=True)
    return fig
