"""Figures of the results pages as PNG (300 dpi), SVG or PDF bytes, drawn by ``analysis.figures`` in its one
style: arm names instead of codes, months on time axes, units, the run's own cut and p, caveats printed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
REPORT_FIGURES = {"km": "Kaplan-Meier by the run's groups", "roc": "ROC curve",
                  "response": "Marker by response",
                  "trajectory": "Marker over time", "forest": "Multivariable Cox model"}
FOREST_ROWS = 30
UNITS = {"log2": "per doubling", "log10": "per ten-fold", "none": "per unit", "clr": "per unit of clr"}


SCREEN_DPI = 144  # pictures on the page; a download is the 300 dpi publication file


def render(fig: Figure, fmt: str, publication: bool = True) -> bytes:
    """Return the figure in ``fmt`` (png, svg or pdf): PNG at 300 dpi for publication, lighter on the page."""
    from analysis import figures

    return figures.to_bytes(fig, fmt, dpi=figures.DPI if publication else SCREEN_DPI)


def readout_curve(frame: pd.DataFrame, title: str, names: dict[str, str], origin: str) -> Figure:
    """KM curves by stratum (or arm) with the at-risk and cumulative-event tables, time in months."""
    from analysis import figures

    return figures.km_plot(frame, "time", "event", "stratum", names=names, title=title,
                           xlabel=f"Months since {origin}")


def qol_over_time(qol: dict[str, pd.DataFrame], order: list[str], names: dict[str, str]) -> Figure:
    """Mean QoL scale score per visit (schedule order, gaps where an arm has none), one line per arm."""
    from analysis import figures

    return figures.qol_plot(qol, order, names=names)


def cumulative_incidence(frame: pd.DataFrame, names: dict[str, str]) -> Figure:
    """Cumulative incidence of local/regional failure, distant disease and death by arm, with Gray's p."""
    from analysis import figures
    from analysis.readout import CAUSES

    causes = {c: label for c, label in CAUSES.items() if c in set(frame["cause"])}
    return figures.cif_plot(frame, "time", "cause", "stratum", causes, names=names,
                            title="First failure by cause and arm, from randomisation (competing risks)")


def flow(boxes: list[dict], availability: pd.DataFrame) -> Figure:
    """The CONSORT/REMARK participant flow with the samples available per time point."""
    from analysis import figures

    return figures.consort_plot(boxes, availability if len(availability) else None)


def arm_forest(fit: Any, names: dict[str, str], covariates: dict[str, str]) -> Figure:
    """Forest plot of the multivariable Cox model of DFS by arm, reference levels shown."""
    from analysis import figures

    table = fit.table.rename(index={f"arm[{code}]": f"arm[{name}]" for code, name in names.items()})
    terms = {t: [c if not c.startswith("arm[") else f"arm[{names.get(c[4:-1], c[4:-1])}]" for c in cols]
             for t, cols in fit.terms.items()}
    reference = {k: names.get(str(v), v) for k, v in fit.reference.items()}
    return figures.forest_plot(table, reference=reference, terms=terms, names={"arm": "Arm", **covariates},
                               title="DFS by arm, randomised participants (multivariable Cox)")


def units(result: pd.DataFrame, params: dict[str, Any]) -> dict[str, str]:
    """Each marker's effect unit in a run: high vs low for a cut, else per its transform's unit."""
    if params.get("cut", "none") != "none":
        return dict.fromkeys(result.index, "high vs low")
    chosen = params.get("marker_transforms") or {}
    return {m: UNITS.get(chosen.get(m, "none") if params["transform"] == "catalogue" else params["transform"],
                         "per unit") for m in result.index}


def volcano(result: pd.DataFrame, title: str, params: dict[str, Any]) -> Figure:
    """Volcano plot of a saved run's result."""
    from analysis import figures

    return figures.volcano_plot(result, title=title, units=units(result, params),
                                caveat=result.attrs.get("caveat"))


def forest(result: pd.DataFrame, title: str) -> Figure:
    """Forest plot of the run's markers with the smallest p (at most ``FOREST_ROWS``)."""
    from analysis import figures

    top = result.dropna(subset=["p"]).sort_values("p").head(FOREST_ROWS)
    return figures.forest_plot(top, label=str(result.attrs.get("effect") or "effect"), title=title,
                               caveat=result.attrs.get("caveat"))


def report_figure(kind: str, report: dict[str, Any], trajectory: pd.DataFrame | None = None) -> Figure:
    """One figure of a marker report (``REPORT_FIGURES``); ValueError if it does not apply to the outcome."""
    from analysis import figures

    frame, spec, marker, unit = report["frame"], report["spec"], report["marker"], report.get("unit")
    caveat = report.get("caveat")
    if kind == "km":
        if spec.kind != "survival":
            raise ValueError(f"a Kaplan-Meier plot needs a survival outcome, not {spec.label}")
        row = report["row"]
        optimal = report.get("cut_kind") == "optimal"
        p_text = f"Lausen-Schumacher adjusted {figures.fmt_p(row['p'])}" if optimal else None
        split = "the run's maximally selected cut" if optimal else "median split"
        return figures.km_plot(frame, "time", "event", "group", title=f"{spec.label} by {marker} ({split})",
                               xlabel="Months since the time origin"
                               + (" (landmark)" if report["timing"].landmark
                                                                        is not None else ""),
                               p_text=p_text, caveat=caveat)
    if kind == "roc":
        if spec.kind != "binary":
            raise ValueError(f"a ROC curve needs a binary outcome, not {spec.label}")
        return figures.roc_plot(frame, "outcome", "value", title=f"{marker} for {spec.label}",
                                outcome_label=spec.label, marker_label=marker)
    if kind == "response":
        column, labels = (("outcome", {1.0: spec.label, 0.0: f"no {spec.label}"}) if spec.kind == "binary"
                          else ("event", {1.0: "event", 0.0: "censored"}))
        return figures.marker_by_response(frame, "value", column, names=labels,
                                          ylabel=f"{marker}, transformed"
                                          + (f" (from {unit})" if unit else ""))
    if kind == "trajectory":
        if trajectory is None:
            raise ValueError("no trajectory data")
        log = bool((trajectory["value"] > 0).all()) and len(trajectory) > 0
        return figures.marker_over_time(trajectory.rename(columns={"value": marker}), "participant_id", "day",
                                        marker, "status", log=log, unit=unit)
    if kind == "forest":
        if "cox" not in report:
            raise ValueError("no multivariable Cox model for this marker")
        fit = report["cox"]
        return figures.forest_plot(fit.table.rename(index={"value": marker}), reference=fit.reference,
                                   terms={(marker if t == "value"
                                           else t): [marker if c == "value" else c for c in cs]
                                          for t, cs in fit.terms.items()},
                                   title=f"{spec.label}: {marker} adjusted", caveat=caveat)
    raise ValueError(f"unknown figure {kind!r}; use {', '.join(REPORT_FIGURES)}")
