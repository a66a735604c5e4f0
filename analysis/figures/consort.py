"""A CONSORT/REMARK flow diagram: participants at each step (boxes with n), exclusions beside the flow, and
the samples available per time point under it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from analysis.figures.style import GREY, new_figure, styled

__all__ = ["consort_plot"]

BOX_W, BOX_H, SLOT, LEVEL = 2.3, 0.78, 2.7, 1.2


def _layout(boxes: Sequence[Mapping]) -> dict[str, tuple[float, float]]:
    """Centres of the boxes: the main flow as a tree (leaves side by side), exclusions half a level lower and
    to the right of their parent."""
    main = [b for b in boxes if not b.get("side")]
    children: dict[str | None, list[str]] = {}
    for b in main:
        children.setdefault(b.get("parent"), []).append(b["key"])
    depth: dict[str, int] = {}
    xs: dict[str, float] = {}
    slot = [0.0]

    def visit(key: str, d: int) -> None:
        depth[key] = d
        kids = children.get(key, [])
        for kid in kids:
            visit(kid, d + 1)
        if kids:
            xs[key] = (xs[kids[0]] + xs[kids[-1]]) / 2
        else:
            xs[key] = slot[0]
            slot[0] += SLOT
    for root in children.get(None, []):
        visit(root, 0)
    out = {k: (xs[k], -depth[k] * LEVEL * 2) for k in xs}
    for b in boxes:
        if b.get("side"):
            px, py = out[b["parent"]]
            out[b["key"]] = (px + SLOT * 0.62 + 0.2, py - LEVEL)
    return out


@styled
def consort_plot(boxes: Sequence[Mapping], availability: pd.DataFrame | None = None,
                 title: str = "Participant flow") -> Figure:
    """Draw the flow: ``boxes`` are mappings with key, label, n, parent (None for the first) and side (an
    exclusion). ``availability`` (index: time point, columns: sample type, values: participants) is drawn as a
    table under the flow (REMARK)."""
    pos = _layout(boxes)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    width_units = max(xs) - min(xs) + BOX_W + 1.2
    height_units = max(ys) - min(ys) + BOX_H + 0.8
    table_rows = 0 if availability is None else len(availability) + 1
    fig_w = max(7.0, width_units * 0.95)
    flow_h = height_units * 0.62
    fig = new_figure((fig_w, flow_h + 0.6 + 0.22 * table_rows + (0.4 if table_rows else 0)))
    top = 0.45 / fig.get_figheight()
    flow_frac = flow_h / fig.get_figheight()
    ax = fig.add_axes((0.02, 1 - top - flow_frac, 0.96, flow_frac), label="flow")
    ax.set_xlim(min(xs) - BOX_W / 2 - 0.3, min(xs) - BOX_W / 2 - 0.3 + width_units)
    ax.set_ylim(min(ys) - BOX_H / 2 - 0.3, max(ys) + BOX_H / 2 + 0.3)
    ax.axis("off")
    for b in boxes:
        x, y = pos[b["key"]]
        parent = b.get("parent")
        if parent is not None:
            px, py = pos[parent]
            if b.get("side"):
                ax.annotate("", (x - BOX_W / 2, y), (px, y), arrowprops={"arrowstyle": "-|>", "color": GREY})
                ax.plot([px, px], [py - BOX_H / 2, y], color=GREY, linewidth=1)
            else:  # elbow: down from the parent, across, down into the child
                mid = y + BOX_H / 2 + 0.2  # just above the child, clear of exclusion boxes beside the parent
                ax.plot([px, px, x], [py - BOX_H / 2, mid, mid], color=GREY, linewidth=1)
                ax.annotate("", (x, y + BOX_H / 2), (x, mid), arrowprops={"arrowstyle": "-|>", "color": GREY})
        patch = FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.02",
                               facecolor="#F3F3F3" if b.get("side") else "white", edgecolor="#333333",
                               linewidth=0.9, gid=f"box:{b['key']}")
        ax.add_patch(patch)
        ax.text(x, y, f"{b['label']}\nn = {b['n']}", ha="center", va="center", fontsize=7.5, wrap=False,
                gid=f"text:{b['key']}")
    fig.suptitle(title, x=0.02, ha="left", y=1 - 0.08 / fig.get_figheight(), va="top", fontsize=10)
    if availability is not None and len(availability):
        width = min(0.9, 1.1 * (len(availability.columns) + 1) / fig_w)
        tab = fig.add_axes((0.1, 0.02, width, (0.22 * table_rows) / fig.get_figheight()),
                           label="availability")
        tab.axis("off")
        cells = [[str(int(v)) for v in row] for row in availability.to_numpy()]
        table = tab.table(cellText=cells, rowLabels=[str(i) for i in availability.index],
                          colLabels=[str(c) for c in availability.columns], loc="center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        tab.set_title("Participants with marker results, per time point and sample type (REMARK)", fontsize=8,
                      loc="left")
    return fig
