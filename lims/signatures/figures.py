"""Figures of a stored signature run, drawn from its result JSON (so a reopened run draws the same
figures)."""

from __future__ import annotations

import base64
from typing import Any

from lims.core.errors import NotFound

FIGURES = ("calibration", "decision")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def available(result: dict[str, Any] | None) -> list[str]:
    """Return the figures a result can draw (survival results have no calibration points or decision
    curve)."""
    if not result:
        return []
    out = []
    if result.get("calibration", {}).get("points"):
        out.append("calibration")
    if result.get("decision_curve"):
        out.append("decision")
    return out


def render(result: dict[str, Any] | None, name: str, fmt: str) -> bytes:
    """Return figure ``name`` of the result as PNG or SVG bytes."""
    import pandas as pd

    from analysis.signature_figures import calibration_plot, decision_curve_plot

    if name not in available(result) or fmt not in MEDIA_TYPES:
        raise NotFound(f"no {name}.{fmt} figure for this run")
    assert result is not None
    if name == "calibration":
        cal = result["calibration"]
        return calibration_plot(pd.DataFrame(cal["points"]), cal.get("slope"), cal.get("intercept"), fmt=fmt)
    return decision_curve_plot(pd.DataFrame(result["decision_curve"]), fmt=fmt, treat_label="Operate on all")


def data_uri(result: dict[str, Any] | None, name: str) -> str:
    """Return the PNG figure as a data: URI for a self-contained report."""
    return "data:image/png;base64," + base64.b64encode(render(result, name, "png")).decode("ascii")
