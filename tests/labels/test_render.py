"""Every label preset and layout, at 203, 300 and 600 dpi, as PDF (rasterised) and ZPL (drawn dot for dot):
every barcode decodes with two independent decoders, on a dark background, with whole-dot modules."""

from __future__ import annotations

import numpy as np
import pytest

from lims.labels.layout import LabelContent, plan
from lims.labels.pdf import label_origin_dots, pdf, sheet_positions
from lims.labels.presets import PRESETS, STOCKS
from lims.labels.zpl import zpl
from lims.samples.labels import sample_label
from tests.labels.helpers import DPIS, decode, expected, on_dark, rasterise, tube, tube_kinds
from tests.labels.zpl_render import render, to_image

# Where the Code 128 fits with modules of whole dots >= 0.165 mm and 10-module quiet zones; elsewhere the
# label carries the DataMatrix and the human-readable ID only (cryovial and cap labels always).
CODE128 = {
    "50x25": {203, 300, 600}, "44x17": {203, 300, 600}, "38x21": {300, 600}, "38x13": set(), "cap13": set(),
    "a4-38x21": {300, 600}, "letter-44x17": {203, 300, 600},
}


def labels(count: int) -> list[LabelContent]:
    """Return ``count`` labels of distinct samples, cycling through every kind of tube of the protocol."""
    kinds = tube_kinds()
    return [sample_label(tube(kinds[i % len(kinds)], 1000 + i)) for i in range(count)]


def _code128_expected(layout_name: str, dpi: int) -> bool:
    name = layout_name.removeprefix("roll-")
    return dpi in CODE128[name]


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_pdf_label_decodes_on_a_dark_background(name: str, dpi: int) -> None:
    layout = PRESETS[name]
    start = max(1, layout.per_page - 2)
    items = labels(layout.per_page + 3 if layout.per_page > 1 else 3)
    pages = rasterise(pdf(items, layout, dpi, start_position=start), dpi)
    width, height = layout.stock.dots(dpi)
    cells = [np.zeros(page.shape, dtype=bool) for page in pages]
    for item, (page, position) in zip(items, sheet_positions(len(items), layout, start), strict=True):
        x, y = label_origin_dots(layout, position, dpi)
        crop = pages[page][y:y + height, x:x + width]
        cells[page][y:y + height, x:x + width] = True
        assert plan(item, layout.stock, dpi).bars is not None if _code128_expected(name, dpi) else True
        assert decode(on_dark(crop, dpi)) == expected(item.code,
                                                      _code128_expected(name, dpi)), (page, position)
    for page, inside in zip(pages, cells, strict=True):
        assert (page[~inside] == 255).all(), "ink outside the labels"


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", list(STOCKS))
def test_every_zpl_label_decodes_on_a_dark_background(name: str, dpi: int) -> None:
    items = labels(len(tube_kinds()))
    rendered = render(zpl(items, STOCKS[name], dpi))
    assert len(rendered) == len(items)
    for item, label in zip(items, rendered, strict=True):
        assert label.dots.shape[::-1] == STOCKS[name].dots(dpi)
        assert label.datamatrix == [item.code]
        assert decode(on_dark(to_image(label), dpi)) == expected(item.code, dpi in CODE128[name])


def _runs(row: np.ndarray) -> list[tuple[bool, int]]:
    runs: list[tuple[bool, int]] = []
    for dark in row:
        if runs and runs[-1][0] == dark:
            runs[-1] = (dark, runs[-1][1] + 1)
        else:
            runs.append((bool(dark), 1))
    return runs


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", list(STOCKS))
def test_bars_and_modules_are_whole_dots_with_quiet_zones(name: str, dpi: int) -> None:
    """Measured on the rasterised PDF: every bar and space a whole number of modules of whole dots."""
    item = labels(1)[0]
    stock = STOCKS[name]
    planned = plan(item, stock, dpi)
    (page,) = rasterise(pdf([item], PRESETS[f"roll-{name}"], dpi), dpi)
    dark = page < 128
    if planned.bars is not None:
        b = planned.bars
        assert b.module >= 2 and b.module * 25.4 / dpi >= 0.165
        assert b.height * 25.4 / dpi >= 4.0
        runs = _runs(dark[b.y + b.height // 2])
        assert not runs[0][0] and not runs[-1][0]
        quiet_left, bars, quiet_right = runs[0][1], runs[1:-1], runs[-1][1]
        assert quiet_left >= 10 * b.module and quiet_right >= 10 * b.module
        assert all(length % b.module == 0 for _, length in bars)
        assert sum(length for _, length in bars) == b.code.modules * b.module
        # No other ink in the quiet zones, over the whole bar height.
        left, right = b.x - 10 * b.module, b.x + b.code.modules * b.module + 10 * b.module
        zone = dark[b.y:b.y + b.height]
        assert not zone[:, left:b.x].any() and not zone[:, b.x + b.code.modules * b.module:right].any()
    m = planned.matrix
    assert m.module >= 2 and m.module * 25.4 / dpi >= 0.25
    symbol = dark[m.y:m.y + m.side, m.x:m.x + m.side]
    assert np.array_equal(symbol, np.kron(m.grid, np.ones((m.module, m.module), dtype=bool)))
    around = dark[m.y - m.module:m.y + m.side + m.module, m.x - m.module:m.x + m.side + m.module].copy()
    around[m.module:-m.module, m.module:-m.module] = False
    assert not around.any(), "the DataMatrix needs a one-module quiet zone"


def test_zpl_uses_printer_barcode_commands_with_the_planned_geometry() -> None:
    item = labels(1)[0]
    text = zpl([item], STOCKS["50x25"], 203)
    planned = plan(item, STOCKS["50x25"], 203)
    b, m = planned.bars, planned.matrix
    assert f"^FO{b.x},{b.y}^BY2,3,{b.height}^BCN,{b.height},N,N,N,N^FD>:TB-0>5001000>6-" in text
    assert f"^FO{m.x},{m.y}^BXN,{m.module},200,16,16^FD{item.code}^FS" in text
    assert text.isascii() and text.count("^XA") == text.count("^XZ") == 1
