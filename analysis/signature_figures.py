"""Figures for a signature run: calibration plot and decision curve (matplotlib Agg → PNG or SVG bytes)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def _render(fig: plt.Figure, fmt: str) -> bytes:
    if fmt not in ("png", "svg"):
        raise ValueError(f"format {fmt!r}: choose 'png' or 'svg'")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150, bbox_inches="tight",
                metadata={"Date": None} if fmt == "svg" else None)
    plt.close(fig)
    return buf.getvalue()


def calibration_plot(points: pd.DataFrame, slope: float | None = None, intercept: float | None = None,
                     *, title: str = "Calibration (cross-validated)", fmt: str = "png") -> bytes:
    """Observed vs mean predicted risk per group with Wilson 95% CIs, the ideal diagonal and
    slope/intercept."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="ideal")
    err = [(points["observed"] - points["observed_ci_low"]).clip(lower=0),
           (points["observed_ci_high"] - points["observed"]).clip(lower=0)]
    ax.errorbar(points["predicted"], points["observed"], yerr=err, fmt="o", color="C0", capsize=3,
                label="groups (95% CI)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Observed proportion")
    if slope is not None and intercept is not None:
        ax.text(0.03, 0.95, f"slope {slope:.2f}\nintercept {intercept:.2f}", va="top", transform=ax.transAxes)
    ax.set_title(title)
    ax.legend(loc="lower right", frameon=False)
    return _render(fig, fmt)


def decision_curve_plot(curve: pd.DataFrame, *, title: str = "Decision curve", fmt: str = "png",
                        treat_label: str = "Treat all") -> bytes:
    """Net benefit of the model against treat-all and treat-none over the threshold probabilities."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    t = curve["threshold"]
    ax.plot(t, curve["net_benefit_model"], color="C0", lw=2, label="Model")
    ax.plot(t, curve["net_benefit_all"], color="C1", lw=1, label=treat_label)
    ax.plot(t, curve["net_benefit_none"], color="black", lw=1, label="Treat none")
    top = max(curve["net_benefit_model"].max(), curve["net_benefit_all"].max(), 0.01)
    ax.set_ylim(-0.05 * top - 0.02, top * 1.1)
    ax.set_xlim(t.min(), t.max())
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel("Net benefit")
    ax.set_title(title)
    ax.legend(frameon=False)
    return _render(fig, fmt)
