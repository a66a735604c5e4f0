"""Quality of life over the visit schedule: mean score per time point and arm, time points in schedule order,
lines broken where an arm has no score at a visit (never drawn across a missing visit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures.style import colour, name, new_figure, styled

__all__ = ["qol_plot"]


@styled
def qol_plot(summaries: Mapping[str, pd.DataFrame], order: Sequence[str], *, names: Mapping | None = None,
             ylabels: Mapping[str, str] | None = None) -> Figure:
    """One panel per scale (``summaries``: label -> frame with timepoint, stratum, mean, count).

    ``order`` is the schedule order of the time points; time points not in it come last, alphabetically.
    """
    present = {tp for frame in summaries.values() for tp in frame["timepoint"]}
    rank = {tp: i for i, tp in enumerate(order)}
    timepoints = sorted(present, key=lambda tp: (rank.get(tp, len(rank)), tp))
    strata = sorted({s for frame in summaries.values() for s in frame["stratum"]})
    ncol = 2 if len(summaries) > 1 else 1
    nrow = max(1, (len(summaries) + 1) // 2)
    fig = new_figure((5.2 * ncol, 3.3 * nrow + 0.5))
    for i, (label, frame) in enumerate(summaries.items()):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        for j, stratum in enumerate(strata):
            part = frame[frame["stratum"] == stratum].set_index("timepoint")["mean"]
            y = part.reindex(timepoints).to_numpy(float)  # NaN at a visit without scores: the line breaks
            ax.plot(np.arange(len(timepoints)), y, "-o", markersize=3.5, color=colour(j),
                    label=name(stratum, names) if i == 0 else None)
        ax.set_xticks(range(len(timepoints)), timepoints, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_xlim(-0.5, len(timepoints) - 0.5)
        ax.set_title(label, loc="left")
        ax.set_ylabel((ylabels or {}).get(label, "Mean score"))
        ax.set_xlabel("Visit (schedule order)")
    handles, labels = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
    fig.legend(handles, labels, loc="upper right", ncol=max(1, len(labels)), frameon=False,
               bbox_to_anchor=(1, 1))
    fig.subplots_adjust(top=1 - 0.55 / fig.get_figheight(), hspace=0.75, wspace=0.3,
                        bottom=0.95 / fig.get_figheight())
    return fig
