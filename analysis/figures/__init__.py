"""Publication figures as matplotlib ``Figure`` objects (no pyplot state, Agg rendering, thread-safe).

One style for all (``style``): readable fonts, the Okabe-Ito colour-blind-safe palette, group names instead of
codes, months on time axes with at-risk and cumulative-event tables under the ticks, PNG at 300 dpi, SVG and
PDF. ``to_bytes(fig, "png"|"svg"|"pdf")`` or ``save(fig, path)`` renders a figure.
"""

from analysis.figures.consort import consort_plot
from analysis.figures.forest import forest_plot, log_ticks
from analysis.figures.km import cif_plot, km_plot
from analysis.figures.markers import marker_by_response, marker_over_time, roc_plot, roc_points, volcano_plot
from analysis.figures.qol import qol_plot
from analysis.figures.style import (
    COLOURS,
    DAYS_PER_MONTH,
    DPI,
    FORMATS,
    PALETTE,
    fmt_p,
    overlapping,
    save,
    tick_label_boxes,
    to_bytes,
)

__all__ = [
    "COLOURS", "DAYS_PER_MONTH", "DPI", "FORMATS", "PALETTE", "cif_plot", "consort_plot", "fmt_p",
    "forest_plot",
    "km_plot", "log_ticks", "marker_by_response", "marker_over_time", "overlapping", "qol_plot", "roc_plot",
    "roc_points", "save", "tick_label_boxes", "to_bytes", "volcano_plot",
]
