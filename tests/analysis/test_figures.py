"""Every figure renders; the KM at-risk table shows the km.table numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_gbsg2, load_lung
from sklearn.datasets import load_breast_cancer

from analysis import figures, screen, survival


def _png(fig) -> bytes:
    data = figures.to_bytes(fig, "png", dpi=50)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    return data


def test_km_figure_at_risk_numbers_equal_km_table():
    g = load_gbsg2()
    times = [0, 500, 1000, 1500, 2000, 2500]
    fig = figures.km_plot(g, "time", "cens", group="horTh", at_risk_times=times)
    _png(fig)
    fit = survival.km(g, "time", "cens", group="horTh")
    risk_ax = next(ax for ax in fig.axes if ax.get_label() == "at_risk")
    shown = {t.get_gid(): int(t.get_text()) for t in risk_ax.texts}
    for lv in ["no", "yes"]:
        tab = fit.table[fit.table.group == lv]
        for t in times:
            later = tab[tab.time >= t]
            expected = int(later.n_risk.iloc[0]) if len(later) else 0
            assert shown[f"at_risk:{lv}:{t:g}"] == expected == (g[g.horTh == lv].time >= t).sum()
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    lr = survival.logrank(g, "time", "cens", "horTh")
    assert any(f"p = {lr.p:.3f}" in s for s in legend)
    assert any(s.startswith("HR yes vs no") for s in legend)


def test_km_figure_default_ticks_single_group_and_formats(tmp_path):
    fig = figures.km_plot(load_lung(), "time", "status")
    assert figures.to_bytes(fig, "svg").lstrip().startswith(b"<?xml")
    assert figures.to_bytes(fig, "pdf")[:4] == b"%PDF"
    assert figures.save(fig, tmp_path / "km.png").stat().st_size > 0


def test_forest_volcano_roc_and_marker_figures():
    g = load_gbsg2()
    res = screen.run(g, ["age", "tsize", "pnodes", "progrec", "estrec"], screen.Survival("time", "cens"),
                     transform="none", cut="median")
    _png(figures.forest_plot(res))
    _png(figures.forest_plot(survival.cox(g, "time", "cens", ["age", "horTh"]).table))
    _png(figures.volcano_plot(res))
    d = load_breast_cancer(as_frame=True).frame
    d = d.assign(malignant=1 - d["target"])
    _png(figures.roc_plot(d, "malignant", "mean radius"))
    _png(figures.marker_by_response(d, "mean radius", "malignant"))
    rng = np.random.default_rng(0)
    long = pd.DataFrame({
        "participant_id": np.repeat([f"P{i}" for i in range(10)], 4),
        "day": np.tile([0, 30, 90, 180], 10),
        "ctdna": rng.lognormal(size=40),
        "ccr": np.repeat(rng.integers(0, 2, 10), 4),
    })
    _png(figures.marker_over_time(long, "participant_id", "day", "ctdna", outcome="ccr", log=True))


def test_bad_format_rejected():
    with pytest.raises(ValueError, match="format"):
        figures.to_bytes(figures.km_plot(load_lung(), "time", "status"), "gif")
