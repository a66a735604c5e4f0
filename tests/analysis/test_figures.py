"""Every figure renders (PNG at 300 dpi, SVG, PDF) and shows what it claims: at-risk numbers under the ticks,
an AUC equal to the area under the drawn curve, round log ticks, labels and tick labels that do not overlap,
time points in schedule order with gaps, flow boxes with their numbers."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_gbsg2, load_lung
from PIL import Image
from sklearn.datasets import load_breast_cancer

from analysis import competing, figures, screen, survival


def _all_formats(fig) -> None:
    png = figures.to_bytes(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).info["dpi"] == pytest.approx((300, 300), abs=0.5)
    assert b"<svg" in figures.to_bytes(fig, "svg")[:400]
    assert figures.to_bytes(fig, "pdf")[:4] == b"%PDF"


def _no_overlapping_tick_labels(fig) -> None:
    for ax in fig.axes:
        for axis in ("x", "y"):
            boxes = figures.tick_label_boxes(ax, axis)
            assert figures.overlapping(boxes) == [], (ax.get_label(), axis, [t.get_text() for t in (
                ax.get_xticklabels() if axis == "x" else ax.get_yticklabels())])


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_km_tables_sit_under_the_ticks_and_count_right() -> None:
    g = load_gbsg2()
    names = {"no": "No hormone therapy", "yes": "Hormone therapy"}
    fig = figures.km_plot(g, "time", "cens", "horTh", names=names, title="RFS")
    _all_formats(fig)
    _no_overlapping_tick_labels(fig)
    main = fig.axes[0]
    ticks = main.get_xticks()
    assert main.get_xlabel() == "Months" and np.allclose(np.diff(ticks), ticks[1] - ticks[0])
    risk = next(ax for ax in fig.axes if ax.get_label() == "at_risk")
    events = next(ax for ax in fig.axes if ax.get_label() == "events")
    renderer = fig.canvas.get_renderer()
    tick_x = {round(t, 6): main.transData.transform((t, 0))[0] for t in ticks}
    for table, kind in ((risk, "at_risk"), (events, "events")):
        shown = {t.get_gid(): t for t in table.texts if t.get_gid()}
        for lv in ("no", "yes"):
            part = g[g["horTh"] == lv]
            for t in ticks:
                day = t * figures.DAYS_PER_MONTH
                text = shown[f"{kind}:{lv}:{day:g}"]
                expected = (part["time"] >= day).sum() if kind == "at_risk" else part.loc[part["time"] <= day,
                                                                                          "cens"].sum()
                assert int(text.get_text()) == expected
                box = text.get_window_extent(renderer)
                assert (box.x0 + box.x1) / 2 == pytest.approx(tick_x[round(t, 6)], abs=1.0)  # under its tick
    legend = _legend(main)
    assert legend[0].startswith("No hormone therapy (n=440") and not any("yes (" in s for s in legend)
    assert any(f"Log-rank {figures.fmt_p(survival.logrank(g, 'time', 'cens', 'horTh').p)}" == s
               for s in legend)
    assert any(s.startswith("HR Hormone therapy vs No hormone therapy") for s in legend)


def test_km_prints_the_run_p_and_the_caveat() -> None:
    lung = load_lung()
    fig = figures.km_plot(lung, "time", "status", "sex", p_text="Lausen-Schumacher adjusted p = 0.123",
                          caveat="Guarantee-time bias: test")
    assert "Lausen-Schumacher adjusted p = 0.123" in _legend(fig.axes[0])
    assert any(t.get_gid() == "footnote" and "Guarantee-time bias" in t.get_text() for t in fig.texts)


@pytest.mark.parametrize("marker", ["mean radius", "mean fractal dimension", "smoothness error"])
def test_roc_auc_in_the_legend_is_the_area_under_the_drawn_curve(marker: str) -> None:
    d = load_breast_cancer(as_frame=True).frame.assign(malignant=lambda x: 1 - x["target"])
    fig = figures.roc_plot(d, "malignant", marker)
    _all_formats(fig)
    ax = fig.axes[0]
    curve = next(line for line in ax.get_lines() if line.get_gid() == "roc_curve")
    fpr, tpr = curve.get_data()
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    shown = float(re.search(r"AUC (\d\.\d{3})", curve.get_label()).group(1))
    assert shown == pytest.approx(area, abs=5e-4) and shown >= 0.5  # drawn in the direction that predicts


def test_forest_has_round_log_ticks_reference_levels_and_no_overlaps() -> None:
    g = load_gbsg2()
    fit = survival.cox(g, "time", "cens", ["age", "horTh", "tgrade", "pnodes"])
    fig = figures.forest_plot(fit.table, reference=fit.reference, terms=fit.terms, names={"tgrade": "Grade"})
    _all_formats(fig)
    _no_overlapping_tick_labels(fig)
    ax = fig.axes[0]
    ticks = [float(t) for t in ax.get_xticks()]
    assert set(ticks) <= set(figures.forest.NICE) and 1.0 in ticks and len(ticks) <= 7
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{t:g}" for t in ticks]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[:1] == ["age"] and "Grade: I" in labels and "horTh: no" in labels
    assert any(t.get_text() == "1 (reference)" for t in ax.texts)
    res = screen.run(g, ["age", "tsize", "pnodes", "progrec", "estrec"], screen.Survival("time", "cens"),
                     transform="none", cut="median")
    _no_overlapping_tick_labels(figures.forest_plot(res))
    assert figures.log_ticks(0.02, 60) == [0.05, 0.2, 1, 5, 20]  # thinned around 1, never more than 7
    assert figures.log_ticks(0.6, 1.8) == [1]


def test_volcano_labels_do_not_collide_and_units_are_told_apart() -> None:
    rng = np.random.default_rng(0)
    n, m = 150, 400
    x = pd.DataFrame(rng.lognormal(size=(n, m)), columns=[f"M{i:03d}" for i in range(m)])
    t = rng.exponential(365 * np.exp(-0.6 * np.log(x.iloc[:, :12]).sum(1) / np.sqrt(12)), n)
    c = rng.uniform(100, 1500, n)
    x["time"], x["event"] = np.minimum(t, c), (t <= c).astype(float)
    res = screen.run(x, list(x.columns[:m]), screen.Survival("time", "event"))
    units = {mk: ("per doubling" if i % 2 else "per unit") for i, mk in enumerate(res.index)}
    fig = figures.volcano_plot(res, label_top=25, units=units)
    _all_formats(fig)
    _no_overlapping_tick_labels(fig)
    ax = fig.axes[0]
    labels = [t for t in ax.texts if (t.get_gid() or "").startswith("label:")]
    assert len(labels) >= 10
    renderer = fig.canvas.get_renderer()
    assert figures.overlapping([t.get_window_extent(renderer) for t in labels]) == []
    assert "unit per marker" in ax.get_xlabel() and {"per doubling", "per unit"} <= set(_legend(ax))


def test_qol_time_points_in_schedule_order_with_gaps() -> None:
    order = ["BASELINE", "EOT", "CRE1", "FU3M", "CRE2", "FU6M", "CRE3", "FU12M"]
    frame = pd.DataFrame({"timepoint": ["FU12M", "BASELINE", "CRE2", "EOT", "BASELINE", "FU12M", "CRE1"],
                          "stratum": ["A", "A", "A", "A", "B", "B", "B"],
                          "mean": [70.0, 60, 65, 55, 58, 66, 59], "count": [5] * 7})
    fig = figures.qol_plot({"QL2": frame}, order, names={"A": "Surgery", "B": "Watch and wait"})
    _all_formats(fig)
    _no_overlapping_tick_labels(fig)
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_xticklabels()]
    assert shown == ["BASELINE", "EOT", "CRE1", "CRE2", "FU12M"]  # schedule order, only visits with scores
    surgery = ax.get_lines()[0].get_ydata()
    assert np.isnan(surgery[2]) and list(surgery[[0, 1, 3, 4]]) == [60, 55, 65, 70]  # no line across CRE1


def test_cumulative_incidence_panels_show_grays_p() -> None:
    rng = np.random.default_rng(3)
    n = 200
    d = pd.DataFrame({"time": np.ceil(rng.exponential(500, n)), "cause": rng.choice([0, 1, 2, 3], n),
                      "arm": rng.choice(["CCR_WW", "CCR_SURGERY"], n)})
    causes = {1: "Local or regional failure", 2: "Distant disease", 3: "Death without failure"}
    fig = figures.cif_plot(d, "time", "cause", "arm", causes, names={"CCR_WW": "Watch and wait"})
    _all_formats(fig)
    _no_overlapping_tick_labels(fig)
    ci = competing.cuminc(d, "time", "cause", "arm")
    titles = [ax.get_title("left") for ax in fig.axes if ax.get_title("left")]
    for c, label in causes.items():
        assert f"{label}\nGray's test {figures.fmt_p(ci.test.loc[c, 'p'])}" in titles


def test_flow_diagram_boxes_carry_their_numbers_and_do_not_overlap() -> None:
    boxes = [{"key": "enrol", "label": "Enrolled", "n": 120},
             {"key": "gone", "label": "Died before CRE1", "n": 6, "parent": "enrol", "side": True},
             {"key": "cre1", "label": "Assessed at CRE1", "n": 114, "parent": "enrol"},
             {"key": "non", "label": "No cCR: surgery", "n": 53, "parent": "cre1"},
             {"key": "rand", "label": "cCR: randomised", "n": 56, "parent": "cre1"},
             {"key": "na", "label": "Not allocated", "n": 5, "parent": "cre1"},
             {"key": "s", "label": "cCR: surgery", "n": 28, "parent": "rand"},
             {"key": "w", "label": "cCR: watch and wait", "n": 28, "parent": "rand"},
             {"key": "wx", "label": "No DFS follow-up", "n": 1, "parent": "w", "side": True}]
    availability = pd.DataFrame({"SERUM": [110, 100], "CTDNA_PLASMA": [100, 40]}, index=["BASELINE", "EOT"])
    fig = figures.consort_plot(boxes, availability)
    _all_formats(fig)
    flow = next(ax for ax in fig.axes if ax.get_label() == "flow")
    texts = {t.get_gid(): t.get_text() for t in flow.texts}
    for b in boxes:
        assert texts[f"text:{b['key']}"] == f"{b['label']}\nn = {b['n']}"
    renderer = fig.canvas.get_renderer()
    patches = [p.get_window_extent(renderer) for p in flow.patches if (p.get_gid() or "").startswith("box:")]
    assert len(patches) == len(boxes) and figures.overlapping(patches) == []
    svg = figures.to_bytes(fig, "svg").decode()
    assert "n = 114" in svg and "CTDNA_PLASMA" in svg  # text stays text in SVG


def test_marker_figures_carry_units() -> None:
    d = load_breast_cancer(as_frame=True).frame.assign(malignant=lambda x: 1 - x["target"])
    fig = figures.marker_by_response(d, "mean radius", "malignant", unit="mm",
                                     names={0: "benign", 1: "malignant"})
    _all_formats(fig)
    assert fig.axes[0].get_ylabel() == "mean radius (mm)"
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].get_xticklabels()] == ["benign", "malignant"]
    rng = np.random.default_rng(0)
    long = pd.DataFrame({"participant_id": np.repeat([f"P{i}" for i in range(10)], 4),
                         "day": np.tile([-10, 45, 80, 400], 10), "ctdna": rng.lognormal(size=40),
                         "ccr": np.repeat(rng.integers(0, 2, 10), 4)})
    fig = figures.marker_over_time(long, "participant_id", "day", "ctdna", outcome="ccr", log=True,
                                   unit="MTM/mL")
    _all_formats(fig)
    assert fig.axes[0].get_ylabel() == "ctdna (MTM/mL)" and "Months" in fig.axes[0].get_xlabel()
    assert max(line.get_xdata().max() for line in fig.axes[0].get_lines()) == pytest.approx(400 / 30.4375)


def test_bad_format_rejected():
    with pytest.raises(ValueError, match="format"):
        figures.to_bytes(figures.km_plot(load_lung(), "time", "status"), "gif")
