"""Forest plots: one row per marker or covariate (reference levels included), effect and CI on a log axis with
round ticks, and the numbers beside it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from analysis.figures.style import GREY, footnote, new_figure, styled

__all__ = ["forest_plot", "log_ticks"]

NICE = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def log_ticks(low: float, high: float, most: int = 7) -> list[float]:
    """Round ratios (0.1, 0.2, 0.5, 1, 2, 5, ...) spanning [low, high], thinned to at most ``most``; 1
    kept."""
    ticks = [t for t in NICE if low <= t <= high] or [1.0]
    while len(ticks) > most:
        ones = ticks.index(1) if 1 in ticks else len(ticks) // 2
        ticks = [t for i, t in enumerate(ticks) if (i - ones) % 2 == 0]
    return ticks


def _label(x: float) -> str:
    return f"{x:g}"


def _rows(table: pd.DataFrame, effect: str, lower: str, upper: str, reference: Mapping[str, object] | None,
          terms: Mapping[str, Sequence[str]] | None, names: Mapping[str, str] | None) -> list[dict]:
    """Rows to draw: a covariate's reference level first (no CI), then its other levels, indented."""
    names = dict(names or {})
    reference = dict(reference or {})
    rows: list[dict] = []
    done: set[str] = set()
    for term, columns in (terms or {str(i): [i] for i in table.index}).items():
        present = [c for c in columns if c in table.index]
        if term in reference:
            rows.append({"label": f"{names.get(term, term)}: {reference[term]}", "ref": True})
            for c in present:
                level = str(c)[len(term) + 1:-1] if str(c).startswith(f"{term}[") else str(c)
                rows.append({"label": f"{names.get(term, term)}: {level}", "key": c})
        else:
            rows.extend({"label": names.get(str(c), str(c)), "key": c} for c in present)
        done.update(present)
    rows.extend({"label": names.get(str(c), str(c)), "key": c} for c in table.index if c not in done)
    return rows


def _draw_rows(ax: Axes, table: pd.DataFrame, rows: list[dict], y: np.ndarray, columns: tuple[str, str, str]
               ) -> list[float]:
    """Draw each row's estimate and CI (a reference level as an open diamond at 1); fill the rows' text;
    return the CI limits drawn."""
    effect, lower, upper = columns
    values: list[float] = []
    for yi, row in zip(y, rows, strict=True):
        if row.get("ref"):
            ax.plot([1.0], [yi], marker="D", color=GREY, markersize=4, markerfacecolor="white")
            row["text"] = "1 (reference)"
            continue
        r = table.loc[row["key"]]
        e, lo, hi = (float(r[c]) for c in (effect, lower, upper))
        if np.isfinite(e) and np.isfinite(lo) and np.isfinite(hi) and e > 0:
            ax.plot([lo, hi], [yi, yi], color="#444444", linewidth=1.2)
            ax.plot([e], [yi], marker="s", color="black", markersize=4.5)
            values += [lo, hi]
            row["text"] = f"{e:.2f} ({lo:.2f}-{hi:.2f})"
        else:
            row["text"] = str(r.get("note") or "not estimable") if "note" in r else "not estimable"
        extra = []
        if "n" in r and "events" in r and pd.notna(r["n"]):
            extra.append(f"{int(r['n'])}/{int(r['events'])}")
        if "p" in r and pd.notna(r["p"]):
            extra.append(f"p={r['p']:.2g}")
        if "q" in r and pd.notna(r.get("q")):
            extra.append(f"q={r['q']:.2g}")
        row["extra"] = "   ".join(extra)
    return values


@styled
def forest_plot(
    table: pd.DataFrame,
    effect: str | None = None,
    lower: str | None = None,
    upper: str | None = None,
    label: str = "HR",
    title: str | None = None,
    *,
    reference: Mapping[str, object] | None = None,
    terms: Mapping[str, Sequence[str]] | None = None,
    names: Mapping[str, str] | None = None,
    caveat: str | None = None,
) -> Figure:
    """Forest plot of a ``screen.run`` result (effect/lower/upper) or a ``CoxFit.table`` (hr/hr_low/hr_high).

    With ``reference`` and ``terms`` (from a CoxFit) every categorical covariate shows its reference level.
    Rows with an infinite or missing estimate are listed with the reason in place of the CI.
    """
    if effect is None:
        effect, lower, upper = ("hr", "hr_low", "hr_high") if "hr" in table else ("effect", "lower", "upper")
    if lower is None or upper is None:
        raise ValueError("name the lower and upper columns with the effect column")
    rows = _rows(table, effect, lower, upper, reference, terms, names)
    k = len(rows)
    fig = new_figure((8.2, 1.3 + 0.3 * max(k, 1) + (0.3 if caveat else 0)))
    bottom = (0.55 + (0.3 if caveat else 0)) / fig.get_figheight()
    ax = fig.add_axes((0.3, bottom, 0.36, 1 - bottom - 0.45 / fig.get_figheight()))
    y = np.arange(k)[::-1].astype(float)
    values = _draw_rows(ax, table, rows, y, (effect, lower, upper))
    low, high = (min([*values, 1.0]), max([*values, 1.0])) if values else (0.5, 2.0)
    low, high = min(low, 0.5), max(high, 2.0)  # at least 0.5, 1 and 2 on the axis
    ax.set_xscale("log")
    ax.set_xlim(low / 1.15, high * 1.15)
    ticks = log_ticks(low / 1.15, high * 1.15)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _label(x)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.axvline(1.0, color=GREY, linestyle="--", linewidth=0.9)
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_ylim(-0.7, k - 0.3)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.set_xlabel(f"{label} (95% CI, log scale)")
    ax.text(1.04, k - 0.3, f"{label} (95% CI)", transform=ax.get_yaxis_transform(), fontweight="bold",
            va="bottom")
    ax.text(1.62, k - 0.3, "n/events, p", transform=ax.get_yaxis_transform(), fontweight="bold", va="bottom")
    for yi, row in zip(y, rows, strict=True):
        ax.text(1.04, yi, row.get("text", ""), transform=ax.get_yaxis_transform(), va="center", fontsize=8)
        ax.text(1.62, yi, row.get("extra", ""), transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    if title:
        ax.set_title(title, loc="left", x=-0.7)
    footnote(fig, caveat, warn=True)
    return fig
