"""One style for every publication figure: fonts, a colour-blind-safe palette, months on time axes, output.

Figures are ``matplotlib.figure.Figure`` objects built without pyplot (thread-safe, Agg). Every drawing
function runs inside ``styled()`` so fonts and line widths are the same everywhere; ``to_bytes`` renders PNG
at 300 dpi (and SVG/PDF as vectors) inside the same style.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler
from matplotlib.transforms import Bbox
from matplotlib.typing import RcKeyType

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency, and in grey.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
COLOURS = PALETTE
GREY = "#7F7F7F"
DAYS_PER_MONTH = 365.25 / 12
DPI = 300
FORMATS = ("png", "svg", "pdf")

STYLE: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9.5,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": cycler(color=PALETTE),
    "svg.fonttype": "none",  # text stays text in SVG (searchable, editable)
    "pdf.fonttype": 42,  # TrueType in PDF, as journals ask
    "savefig.dpi": DPI,
}

F = TypeVar("F", bound=Callable[..., Figure])


def styled(func: F) -> F:
    """Build the figure inside the house style."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure with an Agg canvas (so text can be measured while it is laid out)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def to_bytes(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """Render ``fig`` as PNG (``dpi``, 300 by default), SVG or PDF bytes."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be png, svg or pdf, got {fmt!r}")
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None  # no timestamp: the same figure gives the same bytes
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return buf.getvalue()


def save(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path``; the suffix (.png, .svg, .pdf) picks the format."""
    path = Path(path)
    path.write_bytes(to_bytes(fig, path.suffix.lstrip(".").lower(), dpi))
    return path


def colour(i: int) -> str:
    """The i-th colour of the palette."""
    return PALETTE[i % len(PALETTE)]


def name(value: object, names: Mapping[Any, str] | None) -> str:
    """A group's display name (an arm's name instead of its code)."""
    return str((names or {}).get(value, value))


def fmt_p(p: float) -> str:
    """p as journals print it."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def month_ticks(max_months: float) -> np.ndarray:
    """Round tick positions in months: every 3, 6, 12 or 24 months, depending on the follow-up."""
    for step in (1, 3, 6, 12, 24, 60):
        if max_months / step <= 8:
            return np.arange(0, max_months + 1e-9, step)
    return np.arange(0, max_months + 1e-9, 120)


def footnote(fig: Figure, text: str | None, warn: bool = False) -> None:
    """Print a note under the figure (the guarantee-time caveat is printed in red)."""
    if text:
        fig.text(0.01, 0.005, text, fontsize=7.5, ha="left", va="bottom", wrap=True,
                 color="#B00000" if warn else "#333333", gid="footnote")


def overlapping(boxes: Iterable[Bbox], pad: float = 0.0) -> list[tuple[int, int]]:
    """Pairs of boxes (display coordinates) that overlap by more than ``pad`` pixels."""
    items = list(boxes)
    pairs = []
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            a, b = items[i], items[j]
            if (min(a.x1, b.x1) - max(a.x0, b.x0) > pad) and (min(a.y1, b.y1) - max(a.y0, b.y0) > pad):
                pairs.append((i, j))
    return pairs


def tick_label_boxes(ax: Any, axis: str = "x") -> list[Bbox]:
    """Display boxes of the visible tick labels of one axis (for overlap checks)."""
    renderer = ax.figure.canvas.get_renderer()
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]
