"""Publication figures as matplotlib ``Figure`` objects (no pyplot state, Agg rendering, thread-safe).

Every function returns a ``Figure``; ``to_bytes(fig, "png"|"svg"|"pdf")`` or ``save(fig, path)`` renders it.
The Kaplan-Meier figure names its CI transform, shows censor ticks and a numbers-at-risk table whose text
objects carry ``gid="at_risk:<group>:<time>"`` so a test (or a page) can read them back.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis import binary, survival

__all__ = [
    "forest_plot", "km_plot", "marker_by_response", "marker_over_time", "roc_plot", "save", "to_bytes",
    "volcano_plot",
]

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def to_bytes(fig: Figure, fmt: str = "png", dpi: int = 120) -> bytes:
    """Render ``fig`` as PNG, SVG or PDF bytes."""
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"format must be png, svg or pdf, got {fmt!r}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path``; the suffix (.png, .svg, .pdf) picks the format."""
    path = Path(path)
    path.write_bytes(to_bytes(fig, path.suffix.lstrip(".").lower(), dpi))
    return path


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _n_at_risk(table: pd.DataFrame, t: float) -> int:
    later = table[table["time"] >= t]
    return int(later["n_risk"].iloc[0]) if len(later) else 0


def km_plot(
    df: pd.DataFrame,
    time: str,
    event: str,
    group: str | None = None,
    conf_type: str = "log",
    at_risk_times: Sequence[float] | None = None,
    xlabel: str = "Time",
    title: str | None = None,
) -> Figure:
    """Kaplan-Meier curves by group with CI bands, censor ticks, log-rank p/HR and a numbers-at-risk table.

    With two groups the legend gives the Cox HR of the second level versus the first; ``at_risk_times``
    defaults to the x-axis ticks.
    """
    fit = survival.km(df, time, event, group, conf_type=conf_type)
    levels = list(fit.median.index)
    fig = Figure(figsize=(7, 5.2))
    ax = fig.add_axes((0.12, 0.34, 0.83, 0.58))
    risk_ax = fig.add_axes((0.12, 0.05, 0.83, 0.18), sharex=ax, label="at_risk")
    for i, lv in enumerate(levels):
        part = fit.table[fit.table["group"] == lv]
        colour = COLOURS[i % len(COLOURS)]
        t = np.concatenate([[0.0], part["time"].to_numpy()])
        s = np.concatenate([[1.0], part["surv"].to_numpy()])
        lo = np.concatenate([[1.0], part["lower"].to_numpy()])
        hi = np.concatenate([[1.0], part["upper"].to_numpy()])
        med = fit.median.loc[lv]
        label = f"{lv if group else 'All'} (n={int(med['n'])}, events={int(med['events'])})"
        ax.step(t, s, where="post", color=colour, label=label)
        ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.15, linewidth=0)
        cens = part[part["n_censor"] > 0]
        ax.plot(cens["time"], cens["surv"], "|", color=colour, markersize=8)
    if group is not None and len(levels) >= 2:
        lr = survival.logrank(df, time, event, group)
        ax.plot([], [], " ", label=f"log-rank {_fmt_p(lr.p)}")
        if len(levels) == 2:
            sub = df.assign(_second=(df[group] == levels[1]).astype(float).where(df[group].notna()))
            hr = survival.cox(sub, time, event, ["_second"]).table.iloc[0]
            ax.plot([], [], " ", label=f"HR {levels[1]} vs {levels[0]}: {hr['hr']:.2f} "
                                      f"({hr['hr_low']:.2f}-{hr['hr_high']:.2f})")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.set_ylabel("Survival probability")
    ax.set_title(title or f"Kaplan-Meier, 95% CI ({conf_type} transform)", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(xlabel)
    times = list(at_risk_times) if at_risk_times is not None else [
        tk for tk in ax.get_xticks() if 0 <= tk <= fit.table["time"].max()
    ]
    for i, lv in enumerate(levels):
        part = fit.table[fit.table["group"] == lv]
        for t in times:
            risk_ax.text(t, len(levels) - 1 - i, str(_n_at_risk(part, t)), ha="center", va="center",
                         fontsize=8, color=COLOURS[i % len(COLOURS)], gid=f"at_risk:{lv}:{t:g}")
    risk_ax.set_ylim(-0.5, len(levels) - 0.5)
    risk_ax.set_yticks(range(len(levels)), [str(lv) for lv in reversed(levels)] if group else ["All"])
    risk_ax.set_title("Number at risk", fontsize=9, loc="left")
    risk_ax.tick_params(labelbottom=False, bottom=False, left=False)
    for spine in risk_ax.spines.values():
        spine.set_visible(False)
    return fig


def forest_plot(
    table: pd.DataFrame,
    effect: str | None = None,
    lower: str | None = None,
    upper: str | None = None,
    label: str = "HR",
    title: str | None = None,
) -> Figure:
    """Forest plot, one row per index entry: effect with CI on a log axis, a line at 1, n/events, p and q.

    Takes a ``screen.run`` result (effect/lower/upper) or a ``CoxFit.table`` (hr/hr_low/hr_high).
    """
    if effect is None:
        effect, lower, upper = ("hr", "hr_low", "hr_high") if "hr" in table else ("effect", "lower", "upper")
    rows = table.dropna(subset=[effect, lower, upper])
    k = len(rows)
    fig = Figure(figsize=(8, 1.2 + 0.35 * max(k, 1)))
    ax = fig.add_axes((0.25, 0.12, 0.4, 0.8))
    y = np.arange(k)[::-1]
    ax.errorbar(rows[effect], y, xerr=[rows[effect] - rows[lower], rows[upper] - rows[effect]], fmt="s",
                color="black", ecolor="grey", capsize=2, markersize=4)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(y, [str(i) for i in rows.index])
    ax.set_ylim(-0.7, k - 0.3)
    ax.set_xlabel(f"{label} (95% CI, log scale)")
    for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
        parts = []
        if "n" in r and "events" in r:
            parts.append(f"{int(r['n'])}/{int(r['events'])}")
        parts.append(f"{r[effect]:.2f} ({r[lower]:.2f}-{r[upper]:.2f})")
        if "p" in r:
            parts.append(f"p={r['p']:.2g}")
        if "q" in r and pd.notna(r["q"]):
            parts.append(f"q={r['q']:.2g}")
        ax.text(1.03, yi, "   ".join(parts), transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def volcano_plot(result: pd.DataFrame, label_top: int = 5, title: str | None = None) -> Figure:
    """Volcano plot of a screen: log2 effect vs -log10 p, coloured by q (< 0.05, < 0.10, other)."""
    res = result.dropna(subset=["effect", "p"])
    x = np.log2(res["effect"].to_numpy())
    y = -np.log10(np.maximum(res["p"].to_numpy(), 1e-300))
    q = res["q"].to_numpy() if "q" in res else np.ones(len(res))
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for mask, colour, name in [
        (q < 0.05, "#d62728", "q < 0.05"),
        ((q >= 0.05) & (q < 0.10), "#ff7f0e", "q < 0.10"),
        (~(q < 0.10), "#7f7f7f", "q >= 0.10"),
    ]:
        ax.scatter(x[mask], y[mask], s=12, color=colour, label=f"{name} ({int(mask.sum())})")
    for i in np.argsort(-y)[:label_top]:
        ax.annotate(str(res.index[i]), (x[i], y[i]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axvline(0, color="grey", linewidth=0.8)
    effect = result.attrs.get("effect", "effect")
    ax.set_xlabel(f"log2 {effect}")
    ax.set_ylabel("-log10 p")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title or f"{len(res)} markers", fontsize=10)
    return fig


def roc_plot(df: pd.DataFrame, outcome: str, marker: str, title: str | None = None) -> Figure:
    """ROC curve of ``marker`` for a 0/1 ``outcome`` with AUC (DeLong 95% CI) and the Youden point."""
    a = binary.associate(df, outcome, marker)
    sub = df[[outcome, marker]].dropna()
    y = sub[outcome].to_numpy(float)
    s = sub[marker].to_numpy(float) * (1 if a.direction == "higher" else -1)
    cuts = np.concatenate([[np.inf], np.unique(s)[::-1]])
    tpr = [(s[y == 1] >= c).mean() for c in cuts]
    fpr = [(s[y == 0] >= c).mean() for c in cuts]
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, color=COLOURS[0],
            label=f"AUC {a.auc:.3f} ({a.auc_low:.3f}-{a.auc_high:.3f}), n={a.n}, events={a.events}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.plot(1 - a.specificity, a.sensitivity, "o", color=COLOURS[1],
            label=f"Youden {'>=' if a.direction == 'higher' else '<='} {a.youden_cut:.3g}")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("Sensitivity")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_title(title or f"{marker} for {outcome}", fontsize=10)
    return fig


def marker_by_response(df: pd.DataFrame, marker: str, outcome: str, seed: int = 0) -> Figure:
    """Box plot of ``marker`` per outcome level with the individual points (jittered, seeded)."""
    sub = df[[marker, outcome]].dropna()
    levels = sorted(sub[outcome].unique())
    data = [sub.loc[sub[outcome] == lv, marker].to_numpy(float) for lv in levels]
    fig = Figure(figsize=(4.5, 5))
    ax = fig.add_subplot()
    ax.boxplot(data, showfliers=False, widths=0.5)
    rng = np.random.default_rng(seed)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=10, alpha=0.6,
                   color=COLOURS[(i - 1) % len(COLOURS)])
    ax.set_xticks(range(1, len(levels) + 1), [f"{lv}\n(n={len(v)})" for lv, v in zip(levels, data, strict=True)])
    ax.set_xlabel(outcome)
    ax.set_ylabel(marker)
    return fig


def marker_over_time(
    df: pd.DataFrame, participant: str, time: str, marker: str, outcome: str | None = None, log: bool = False
) -> Figure:
    """One line per participant of ``marker`` over ``time``, coloured by ``outcome`` level."""
    sub = df.dropna(subset=[participant, time, marker]).sort_values([participant, time])
    levels = sorted(sub[outcome].dropna().unique()) if outcome else [None]
    colour = {lv: COLOURS[i % len(COLOURS)] for i, lv in enumerate(levels)}
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.add_subplot()
    seen = set()
    for pid, part in sub.groupby(participant, sort=False):
        lv = part[outcome].iloc[0] if outcome else None
        ax.plot(part[time], part[marker], "-o", markersize=3, linewidth=1, alpha=0.7,
                color=colour.get(lv, "#7f7f7f"), label=None if lv in seen else f"{outcome} = {lv}" if outcome
                else None)
        seen.add(lv)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(time)
    ax.set_ylabel(marker)
    if outcome:
        ax.legend(fontsize=8, frameon=False)
    return fig
