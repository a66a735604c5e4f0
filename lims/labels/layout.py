"""Plan one label in printer dots: where the text, the Code 128 and the DataMatrix go, at a given resolution.

Everything is a whole number of dots of the printer that will print it (203, 300 or 600 dpi), so bars and
modules never round unevenly: a Code 128 module is 2 or more dots and at least 0.165 mm (6.5 mil), with a
quiet zone of 10 modules on the label on each side; a DataMatrix module is 0.25 to 0.6 mm with a one-module
quiet zone. Three templates, tried in this order:

- **wide** (labels of 15 mm and more whose width holds the Code 128): the ID, the Code 128 across the label
  (4 to 7 mm high), then the fields beside the DataMatrix;
- **compact** (cryovial labels, and any label too narrow for the Code 128 at this resolution): the
  DataMatrix at the left, the ID and the fields beside it;
- **cap** (round labels): the DataMatrix and the ID under it.

The PDF and ZPL writers draw a plan as it is, so both outputs carry the same content in the same places.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from lims.labels.code128 import QUIET_MODULES, Code128, Code128Error, check_value, encode
from lims.labels.fonts import LabelFont, label_font
from lims.labels.presets import LabelLayoutError, Stock, check_dpi
from lims.labels.text import Block, Field, fit, fit_cut

if TYPE_CHECKING:
    import numpy as np

EDGE_MM = 0.5  # text and symbols keep this far from the label edge
ROUND_EDGE_MM = 0.4
GAP_MM = 0.4
CODE128_MODULE_MM = (0.165, 0.33)
CODE128_MIN_DOTS = 2
BAR_HEIGHTS_MM = (7.0, 6.0, 5.0, 4.5, 4.0)
WIDE_MIN_HEIGHT_MM = 15.0
DM_MODULE_MM = (0.25, 0.6)
DM_MIN_DOTS = 2
TITLE_EM_MM = (3.0, 1.6)
CAP_TITLE_EM_MM = (2.0, 1.1)
FIELD_EM_MM = (2.4, 1.8, 1.4)  # largest, comfortable, smallest legible
WIDE_TITLE_SHARE = 0.14  # the ID's em size in the wide template, at most this share of the label height
# Search order: full text at a comfortable size, then down to the smallest legible size, then short forms.
_PASSES = ((False, FIELD_EM_MM[1]), (False, FIELD_EM_MM[2]), (True, FIELD_EM_MM[1]), (True, FIELD_EM_MM[2]))


@dataclass(frozen=True)
class LabelContent:
    """What one label says: the code in every symbol, the human-readable ID and the lines of fields."""

    code: str
    title: str
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True)
class TextLine:
    """One line of text: left end of the baseline, em size (dots), weight, text and the field it shows."""

    x: int
    baseline: int
    size: int
    bold: bool
    text: str
    field: str


@dataclass(frozen=True)
class Bars:
    """A Code 128 symbol: top-left of the first bar, module width and bar height in dots."""

    x: int
    y: int
    module: int
    height: int
    code: Code128

    def runs(self) -> Iterator[tuple[int, int]]:
        """Yield (x, width) in dots of each bar, left to right."""
        pattern = self.code.pattern
        i = 0
        while i < len(pattern):
            if pattern[i] == "1":
                end = pattern.index("0", i) if "0" in pattern[i:] else len(pattern)
                yield self.x + i * self.module, (end - i) * self.module
                i = end
            else:
                i += 1


@dataclass(frozen=True, eq=False)
class Matrix:
    """A DataMatrix: top-left of the symbol (quiet zone outside), module size in dots and the module grid."""

    x: int
    y: int
    module: int
    grid: np.ndarray
    value: str

    @property
    def side(self) -> int:
        """Return the symbol's side in dots."""
        return self.grid.shape[0] * self.module


@dataclass(frozen=True, eq=False)
class LabelPlan:
    """One label laid out in dots for one printer resolution."""

    stock: Stock
    dpi: int
    width: int
    height: int
    template: str
    content: LabelContent
    matrix: Matrix
    texts: tuple[TextLine, ...]
    bars: Bars | None = None
    shortened: tuple[str, ...] = ()
    cut: tuple[str, ...] = field(default=())

    def shown(self) -> dict[str, str]:
        """Return the text printed for each field (wrapped lines joined with spaces)."""
        out: dict[str, list[str]] = {}
        for line in self.texts:
            out.setdefault(line.field, []).append(line.text)
        return {name: " ".join(lines) for name, lines in out.items()}


@lru_cache(maxsize=4096)
def datamatrix_grid(value: str) -> np.ndarray:
    """Return the square ECC 200 DataMatrix of ``value`` as a boolean module grid (True = dark)."""
    import numpy as np
    import zxingcpp

    symbol = zxingcpp.create_barcode(value, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    grid = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128
    grid.flags.writeable = False
    return grid


class _Geometry:
    """Sizes in dots for one resolution."""

    def __init__(self, dpi: int) -> None:
        self.dpi = dpi
        self.per_mm = dpi / 25.4

    def dots(self, mm: float) -> int:
        return round(mm * self.per_mm)

    def sizes(self, largest_mm: float, smallest_mm: float) -> list[int]:
        return list(range(self.dots(largest_mm), max(self.dots(smallest_mm), 8) - 1, -1))

    def modules(self, low_mm: float, high_mm: float, min_dots: int) -> list[int]:
        high = max(min_dots, math.floor(high_mm * self.per_mm))
        low = max(min_dots, math.ceil(low_mm * self.per_mm - 1e-9))
        return list(range(high, low - 1, -1))


def _title(font: LabelFont, content: LabelContent, width: int, g: _Geometry,
           ems: tuple[float, float]) -> Block | None:
    """Fit the ID: one line at the largest size that fits, wrapped only if even the smallest is too wide."""
    if width <= 0:
        return None
    block = fit(font, [Field("id", content.title)], width, 10**6, g.sizes(*ems))
    return block if block is not None and len(block.lines) <= 2 else None


def _texts(block: Block, x: int, top: int, bold: bool) -> list[TextLine]:
    return [TextLine(x, top + baseline, block.size, bold, text, name)
            for (name, text), baseline in zip(block.lines, block.baselines, strict=True)]


def _compact(content: LabelContent, stock: Stock, g: _Geometry, width: int, height: int) -> LabelPlan | None:
    regular, bold = label_font("regular"), label_font("bold")
    grid = datamatrix_grid(content.code)
    edge, gap = g.dots(EDGE_MM), g.dots(GAP_MM)
    for short, smallest in _PASSES:
        for module in g.modules(*DM_MODULE_MM, DM_MIN_DOTS):
            side, inset = grid.shape[0] * module, max(edge, module)
            if side > height - 2 * inset:
                continue
            text_x = inset + side + max(gap, module)
            text_w = width - edge - text_x
            if text_w <= 0:
                continue
            title = _title(bold, content, text_w, g, TITLE_EM_MM)
            if title is None:
                continue
            room = height - 2 * edge - title.height - (gap if content.fields else 0)
            block = fit(regular, content.fields, text_w, room, g.sizes(FIELD_EM_MM[0], smallest), short=short)
            if block is None:
                continue
            used = title.height + (gap + block.height if content.fields else 0)
            top = edge + (height - 2 * edge - used) // 2
            texts = _texts(title, text_x, top, True) + _texts(block, text_x, top + title.height + gap, False)
            matrix = Matrix(inset, (height - side) // 2, module, grid, content.code)
            return LabelPlan(stock, g.dpi, width, height, "compact", content, matrix, tuple(texts),
                             shortened=block.shortened)
    return None


def _code128_module(code: Code128, width: int, g: _Geometry) -> int | None:
    for module in g.modules(*CODE128_MODULE_MM, CODE128_MIN_DOTS):
        if (code.modules + 2 * QUIET_MODULES) * module <= width:
            return module
    return None


def _wide(content: LabelContent, stock: Stock, g: _Geometry, width: int, height: int) -> LabelPlan | None:
    if stock.height_mm < WIDE_MIN_HEIGHT_MM:
        return None
    try:
        code = encode(content.code)
    except Code128Error:
        return None
    bar_module = _code128_module(code, width, g)
    if bar_module is None:
        return None
    regular, bold = label_font("regular"), label_font("bold")
    grid = datamatrix_grid(content.code)
    edge, gap = g.dots(EDGE_MM), g.dots(GAP_MM)
    title_em = min(TITLE_EM_MM[0], WIDE_TITLE_SHARE * stock.height_mm)
    title = _title(bold, content, width - 2 * edge, g, (title_em, TITLE_EM_MM[1]))
    if title is None:
        return None
    bars_y = edge + title.height + gap
    for short, smallest in _PASSES:
        for bar_mm in BAR_HEIGHTS_MM:
            lower = bars_y + g.dots(bar_mm)
            for module in g.modules(*DM_MODULE_MM, DM_MIN_DOTS):
                side, inset = grid.shape[0] * module, max(edge, module)
                top = lower + max(gap, module)
                if top + side > height - inset:
                    continue
                text_w = width - edge - inset - side - max(gap, module)
                block = fit(regular, content.fields, text_w, height - edge - top,
                            g.sizes(FIELD_EM_MM[0], smallest), short=short)
                if block is None:
                    continue
                bars = Bars((width - code.modules * bar_module) // 2, bars_y, bar_module, lower - bars_y,
                            code)
                matrix = Matrix(width - inset - side, top, module, grid, content.code)
                texts = _texts(title, edge, edge, True) + _texts(block, edge, top, False)
                return LabelPlan(stock, g.dpi, width, height, "wide", content, matrix, tuple(texts),
                                 bars=bars,
                                 shortened=block.shortened)
    return None


def _inside_circle(points: Sequence[tuple[float, float]], centre: float, radius: float) -> bool:
    return all((x - centre) ** 2 + (y - centre) ** 2 <= radius**2 for x, y in points)


def _cap(content: LabelContent, stock: Stock, g: _Geometry, width: int, height: int) -> LabelPlan | None:
    bold = label_font("bold")
    grid = datamatrix_grid(content.code)
    centre, radius = width / 2, width / 2 - g.dots(ROUND_EDGE_MM)
    gap = g.dots(GAP_MM / 2)
    for module in g.modules(*DM_MODULE_MM, DM_MIN_DOTS):
        side = grid.shape[0] * module
        for size in g.sizes(*CAP_TITLE_EM_MM):
            line_w = math.ceil(bold.width(content.title, size))
            above, below = (math.ceil(v) for v in bold.extent(content.title, size))
            total = side + 2 * module + gap + above + below
            for shift in range(height // 2):
                top = round(centre - total / 2) - shift
                dm_box = [(centre + dx, top + dy) for dx in (-side / 2 - module, side / 2 + module)
                          for dy in (0, side + 2 * module)]
                text_top = top + side + 2 * module + gap
                text_box = [(centre + dx, text_top + dy) for dx in (-line_w / 2, line_w / 2)
                            for dy in (0, above + below)]
                if not _inside_circle(dm_box, centre, radius):
                    break
                if _inside_circle(text_box, centre, radius):
                    matrix = Matrix(round(centre - side / 2), top + module, module, grid, content.code)
                    line = TextLine(round(centre - line_w / 2), text_top + above, size, True, content.title,
                                    "id")
                    return LabelPlan(stock, g.dpi, width, height, "cap", content, matrix, (line,))
    return None


def _cut(content: LabelContent, stock: Stock, g: _Geometry, width: int, height: int) -> LabelPlan:
    """Last resort for a rectangular label: the smallest DataMatrix, the ID whole, the fields cut to fit."""
    regular, bold = label_font("regular"), label_font("bold")
    grid = datamatrix_grid(content.code)
    edge, gap = g.dots(EDGE_MM), g.dots(GAP_MM)
    module = g.modules(*DM_MODULE_MM, DM_MIN_DOTS)[-1]
    side, inset = grid.shape[0] * module, max(edge, module)
    text_x = inset + side + max(gap, module)
    title = _title(bold, content, width - edge - text_x, g, TITLE_EM_MM)
    if side > height - 2 * inset or title is None:
        raise LabelLayoutError(
            f"a {stock.width_mm:g} × {stock.height_mm:g} mm label cannot hold the DataMatrix of "
            f"{content.code!r} and its ID at {g.dpi} dpi"
        )
    block = fit_cut(regular, content.fields, width - edge - text_x, height - 2 * edge - title.height - gap,
                    g.sizes(FIELD_EM_MM[2], FIELD_EM_MM[2])[0])
    texts = _texts(title, text_x, edge, True) + _texts(block, text_x, edge + title.height + gap, False)
    matrix = Matrix(inset, (height - side) // 2, module, grid, content.code)
    return LabelPlan(stock, g.dpi, width, height, "compact", content, matrix, tuple(texts),
                     shortened=block.shortened, cut=block.cut)


def printable(content: LabelContent) -> LabelContent:
    """Return ``content`` with characters the label font lacks replaced by '?' (never printed as boxes)."""
    font = label_font("regular")
    return LabelContent(content.code, font.printable(content.title),
                        tuple(Field(f.name, font.printable(f.text),
                                    font.printable(f.short) if f.short else None)
                              for f in content.fields))


def plan(content: LabelContent, stock: Stock, dpi: int) -> LabelPlan:
    """Lay out one label for ``stock`` at ``dpi``; raise LabelLayoutError if the ID and DataMatrix cannot
    fit."""
    check_dpi(dpi)
    g = _Geometry(dpi)
    content = printable(content)
    try:
        check_value(content.code)
    except Code128Error as exc:
        raise LabelLayoutError(str(exc)) from None
    try:
        datamatrix_grid(content.code)
    except ValueError as exc:  # zxing-cpp: too long for any DataMatrix
        raise LabelLayoutError(f"{content.code!r} cannot be encoded as a DataMatrix: {exc}") from None
    width, height = stock.dots(dpi)
    if stock.round:
        found = _cap(content, stock, g, width, height)
        if found is None:
            raise LabelLayoutError(f"a round {stock.width_mm:g} mm label cannot hold the DataMatrix of "
                                   f"{content.code!r} and its ID at {dpi} dpi")
        return found
    return (_wide(content, stock, g, width, height) or _compact(content, stock, g, width, height)
            or _cut(content, stock, g, width, height))
