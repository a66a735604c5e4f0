"""PDF label pages for sheet and roll printers: every label planned in the printer's dots, fonts embedded.

Print these at 100 % (no "fit to page"): a bar is a whole number of printer dots only at the resolution the
PDF was made for; the page and every label on it start on whole dots.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lims.labels.fonts import label_font
from lims.labels.layout import LabelContent, LabelPlan, plan
from lims.labels.presets import LabelLayoutError, SheetLayout, check_dpi

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

INSET = 0.01


def sheet_positions(count: int, layout: SheetLayout, start_position: int = 1) -> list[tuple[int, int]]:
    """Return (page index, position) for each of ``count`` labels as :func:`pdf` places them."""
    result = []
    page, position = 0, start_position
    for _ in range(count):
        if position > layout.per_page:
            page, position = page + 1, 1
        result.append((page, position))
        position += 1
    return result


def label_origin_dots(layout: SheetLayout, position: int, dpi: int) -> tuple[int, int]:
    """Return the top-left corner of ``position`` on the page, rounded to whole printer dots."""
    x, y = layout.label_origin_mm(position)
    return round(x * dpi / 25.4), round(y * dpi / 25.4)


def pdf(labels: Sequence[LabelContent], layout: SheetLayout, dpi: int, start_position: int = 1,
        title: str = "Labels") -> bytes:
    """Return a PDF of ``labels`` on ``layout`` for a ``dpi`` printer, filling from ``start_position``."""
    from reportlab.pdfgen.canvas import Canvas

    layout.validate()
    check_dpi(dpi)
    if not 1 <= start_position <= layout.per_page:
        raise LabelLayoutError(f"start position must be between 1 and {layout.per_page}, got "
                               f"{start_position}")
    plans = [plan(label, layout.stock, dpi) for label in labels]
    fonts = _fonts(plans)
    buffer = io.BytesIO()
    points = 72 / dpi
    # The page is a whole number of printer dots (within half a dot of its nominal size), so a renderer that
    # fits the page to whole pixels keeps every bar and module on the dot grid.
    width, height = (round(mm * dpi / 25.4) for mm in (layout.page_width_mm, layout.page_height_mm))
    page_height = height * points
    canvas = Canvas(buffer, pagesize=(width * points, page_height), pageCompression=1,
                    # a font name, which types-reportlab types as a float
                    initialFontName=fonts[False],  # type: ignore[arg-type]
                    initialFontSize=8)
    canvas.setTitle(f"{title} ({layout.name}, {dpi} dpi)")
    canvas.setCreator("Trialbank")
    current = 0
    for item, (page,
               position) in zip(plans, sheet_positions(len(plans), layout, start_position), strict=True):
        while current < page:
            canvas.showPage()
            current += 1
        x, y = label_origin_dots(layout, position, dpi)
        _draw(canvas, item, fonts, x, y, points, page_height)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _fonts(plans: Sequence[LabelPlan]) -> dict[bool, str]:
    chars = {bold: "".join({ch for p in plans for line in p.texts if line.bold == bold for ch in line.text})
             for bold in (False, True)}
    return {bold: label_font("bold" if bold else "regular").pdf_name(chars[bold]) for bold in (False, True)}


def _draw(canvas: Canvas, item: LabelPlan, fonts: dict[bool, str], x0: int, y0: int, points: float,
          page_height: float) -> None:
    """Draw one plan with its top-left corner at dot (x0, y0) of the page."""

    def box(x: int, y: int, w: int, h: int) -> None:
        # Inset by 1/100 dot: a renderer that snaps rectangles outwards must not grow a bar by a dot because
        # 85 dots came out as 84.99999 after the conversion to points and back.
        canvas.rect((x0 + x + INSET) * points, page_height - (y0 + y + h - INSET) * points,
                    (w - 2 * INSET) * points,
                    (h - 2 * INSET) * points, stroke=0, fill=1)

    canvas.setFillColorRGB(0, 0, 0)
    if item.bars is not None:
        for x, w in item.bars.runs():
            box(x, item.bars.y, w, item.bars.height)
    matrix = item.matrix
    for row, cells in enumerate(matrix.grid):
        col = 0
        while col < len(cells):
            if cells[col]:
                end = col
                while end < len(cells) and cells[end]:
                    end += 1
                box(matrix.x + col * matrix.module, matrix.y + row * matrix.module,
                    (end - col) * matrix.module,
                    matrix.module)
                col = end
            else:
                col += 1
    for line in item.texts:
        canvas.setFont(fonts[line.bold], line.size * points)
        canvas.drawString((x0 + line.x) * points, page_height - (y0 + line.baseline) * points, line.text)
