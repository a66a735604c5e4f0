"""Sample labels: Code128 and DataMatrix images, PDF label sheets and ZPL for Zebra printers.

Every symbol encodes the printed accession ID (``TB-0000042-3``), which :func:`validate` checks first, so a
label can never carry an ID that fails its check character.

PDF sheets draw both symbols as vectors (reportlab's Code128, the DataMatrix module grid from zxing-cpp), so
they stay sharp at any printer resolution.  The Code128 module width is the widest that fits the label, at
most 0.30 mm and at least :data:`MIN_MODULE_MM` (0.19 mm, 7.5 mil, a common floor for laser-printed and
thermal-transfer cryo labels); a layout whose labels cannot hold the barcode at that floor is rejected.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import barcode
import numpy as np
import zxingcpp
from barcode.writer import ImageWriter, SVGWriter
from PIL import Image, ImageDraw, ImageFont
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from lims.samples.accession import validate

MIN_MODULE_MM = 0.19
MAX_MODULE_MM = 0.30
DM_MODULES_MM = (0.5, 0.4, 0.33)
QUIET_MODULES = 10  # Code128 quiet zone on each side (ISO/IEC 15417)
LABEL_PADDING_MM = 1.0
ZPL_DPIS = (203, 300, 600)
_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"


class LabelLayoutError(ValueError):
    """A label layout that does not fit its page or cannot hold the barcode."""


@dataclass(frozen=True)
class LabelData:
    """What goes on one sample label."""

    accession: str
    participant: str = ""
    timepoint: str = ""
    sample_type: str = ""
    collected: date | None = None

    def lines(self) -> tuple[str, str]:
        """Return the two small text lines under the barcode."""
        first = " · ".join(part for part in (self.participant, self.timepoint) if part)
        second = " · ".join(
            part for part in (self.sample_type, self.collected.isoformat() if self.collected else "") if part
        )
        return first, second


# --- single symbols ---------------------------------------------------------------------------------------


def code128_svg(accession: str, module_mm: float = 0.25) -> str:
    """Return an SVG Code128 of the accession ID with the ID as text below it."""
    value = validate(accession)
    svg = barcode.Code128(value, writer=SVGWriter()).render(
        writer_options={"module_width": module_mm, "module_height": 8.0, "quiet_zone": QUIET_MODULES * module_mm,
                        "font_size": 8, "text_distance": 3.0}
    )
    return svg.decode("utf-8")


def code128_png(accession: str, dpi: int = 600) -> bytes:
    """Return a PNG Code128 of the accession ID, bars a whole number of printer dots wide, DPI tagged."""
    value = validate(accession)
    # Drawn from python-barcode's module pattern rather than its ImageWriter: the writer converts mm to
    # pixels in floating point and at 203 dpi produced 2- and 3-pixel modules that zxing could not decode.
    pattern = barcode.Code128(value).build()[0]
    dots = max(1, round(0.25 * dpi / 25.4))
    quiet = QUIET_MODULES * dots
    bar_h = round(8 * dpi / 25.4)
    font = ImageFont.truetype(ImageWriter().font_path, max(8, round(8 * 0.3528 * dpi / 25.4)))
    text_h = font.getbbox(value)[3] + round(dpi / 25.4)
    image = Image.new("L", (len(pattern) * dots + 2 * quiet, bar_h + text_h + 2 * dots), 255)
    draw = ImageDraw.Draw(image)
    for i, module in enumerate(pattern):
        if module == "1":
            draw.rectangle((quiet + i * dots, dots, quiet + (i + 1) * dots - 1, dots + bar_h - 1), fill=0)
    draw.text((image.width // 2, dots + bar_h + round(dpi / 25.4)), value, font=font, fill=0, anchor="mt")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi))
    return buffer.getvalue()


def datamatrix_modules(accession: str) -> np.ndarray:
    """Return the square DataMatrix of the accession ID as a boolean module grid (True = dark)."""
    symbol = zxingcpp.create_barcode(validate(accession), zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def datamatrix_png(accession: str, scale: int = 8) -> bytes:
    """Return a PNG of the square DataMatrix (tube tops) with a quiet zone, ``scale`` pixels per module."""
    symbol = zxingcpp.create_barcode(validate(accession), zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(symbol.to_image(scale=scale))).save(buffer, format="PNG")
    return buffer.getvalue()


def datamatrix_svg(accession: str, scale: int = 4) -> str:
    """Return an SVG of the square DataMatrix."""
    symbol = zxingcpp.create_barcode(validate(accession), zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
    return symbol.to_svg(scale=scale)


# --- PDF label sheets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetLayout:
    """A label sheet: page size, grid and label geometry in millimetres (positions counted row by row)."""

    name: str
    page_width_mm: float
    page_height_mm: float
    rows: int
    columns: int
    margin_top_mm: float
    margin_left_mm: float
    label_width_mm: float
    label_height_mm: float
    h_gap_mm: float = 0.0
    v_gap_mm: float = 0.0

    @property
    def per_page(self) -> int:
        """Return the number of labels on one sheet."""
        return self.rows * self.columns

    def label_origin_mm(self, position: int) -> tuple[float, float]:
        """Return the top-left corner (x from left, y from top) of 1-based ``position``."""
        row, column = divmod(position - 1, self.columns)
        return (
            self.margin_left_mm + column * (self.label_width_mm + self.h_gap_mm),
            self.margin_top_mm + row * (self.label_height_mm + self.v_gap_mm),
        )

    def validate(self) -> None:
        """Raise LabelLayoutError saying what does not fit, and by how much."""
        for name in ("rows", "columns"):
            if getattr(self, name) < 1:
                raise LabelLayoutError(f"layout {self.name!r}: {name} must be at least 1")
        for name in ("page_width_mm", "page_height_mm", "label_width_mm", "label_height_mm"):
            if getattr(self, name) <= 0:
                raise LabelLayoutError(f"layout {self.name!r}: {name} must be positive")
        for name in ("margin_top_mm", "margin_left_mm", "h_gap_mm", "v_gap_mm"):
            if getattr(self, name) < 0:
                raise LabelLayoutError(f"layout {self.name!r}: {name} must not be negative")
        width = self.margin_left_mm + self.columns * self.label_width_mm + (self.columns - 1) * self.h_gap_mm
        if width > self.page_width_mm + 1e-9:
            raise LabelLayoutError(
                f"layout {self.name!r} is {width - self.page_width_mm:.1f} mm too wide: left margin "
                f"{self.margin_left_mm:g} + {self.columns} columns × {self.label_width_mm:g} mm + "
                f"{self.columns - 1} gaps × {self.h_gap_mm:g} mm = {width:.1f} mm, page width "
                f"{self.page_width_mm:g} mm"
            )
        height = self.margin_top_mm + self.rows * self.label_height_mm + (self.rows - 1) * self.v_gap_mm
        if height > self.page_height_mm + 1e-9:
            raise LabelLayoutError(
                f"layout {self.name!r} is {height - self.page_height_mm:.1f} mm too tall: top margin "
                f"{self.margin_top_mm:g} + {self.rows} rows × {self.label_height_mm:g} mm + "
                f"{self.rows - 1} gaps × {self.v_gap_mm:g} mm = {height:.1f} mm, page height "
                f"{self.page_height_mm:g} mm"
            )
        needed = _min_code128_width_mm() + 2 * LABEL_PADDING_MM
        if self.label_width_mm < needed:
            raise LabelLayoutError(
                f"layout {self.name!r}: labels are {self.label_width_mm:g} mm wide but the Code128 of an "
                f"accession ID needs {needed:.1f} mm at the minimum {MIN_MODULE_MM} mm module "
                f"({needed - self.label_width_mm:.1f} mm more)"
            )
        if self.label_height_mm < 10:
            raise LabelLayoutError(
                f"layout {self.name!r}: labels are {self.label_height_mm:g} mm high; at least 10 mm is needed "
                f"for the ID, a 4 mm barcode and two text lines"
            )


# Examples of common layouts; measure your own stock and add it through configuration (layout_from_mapping).
PRESETS: dict[str, SheetLayout] = {
    # A4, 5 × 13 labels of 38.1 × 21.2 mm (Avery L7651-type "mini labels", also sold as laser cryo labels).
    "a4-38x21": SheetLayout("a4-38x21", 210, 297, rows=13, columns=5, margin_top_mm=10.7, margin_left_mm=4.7,
                            label_width_mm=38.1, label_height_mm=21.2, h_gap_mm=2.5, v_gap_mm=0),
    # US letter, 4 × 15 labels of 1.75 × 0.666 in (44.45 × 16.9 mm; Avery 5195-type return-address labels).
    "letter-44x17": SheetLayout("letter-44x17", 215.9, 279.4, rows=15, columns=4, margin_top_mm=15.7,
                                margin_left_mm=7.6, label_width_mm=44.45, label_height_mm=16.9, h_gap_mm=7.6,
                                v_gap_mm=0.0),
}


def layout_from_mapping(config: Mapping[str, Any]) -> SheetLayout:
    """Build and validate a SheetLayout from configuration (a preset name and/or explicit fields)."""
    known = {f.name for f in fields(SheetLayout)}
    unknown = sorted(set(config) - known - {"preset"})
    if unknown:
        raise LabelLayoutError(f"unknown label layout settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if "preset" in config:
        try:
            base = PRESETS[config["preset"]]
        except KeyError:
            raise LabelLayoutError(
                f"unknown label layout preset {config['preset']!r}; known: {', '.join(sorted(PRESETS))}"
            ) from None
        values = {f.name: getattr(base, f.name) for f in fields(SheetLayout)}
    values.update({k: v for k, v in config.items() if k != "preset"})
    missing = sorted(known - set(values) - {"h_gap_mm", "v_gap_mm"})
    if missing:
        raise LabelLayoutError(f"label layout is missing: {', '.join(missing)}")
    try:
        for name in known - {"name"}:
            if name in values:
                values[name] = int(values[name]) if name in ("rows", "columns") else float(values[name])
    except (TypeError, ValueError) as error:
        raise LabelLayoutError(f"label layout setting is not a number: {error}") from None
    layout = SheetLayout(**values)
    layout.validate()
    return layout


def pdf_sheet(labels: Sequence[LabelData], layout: SheetLayout, start_position: int = 1) -> bytes:
    """Return a PDF of label sheets, filling from ``start_position`` (1-based, row by row) on the first page."""
    layout.validate()
    if not 1 <= start_position <= layout.per_page:
        raise LabelLayoutError(f"start position must be between 1 and {layout.per_page}, got {start_position}")
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=(layout.page_width_mm * mm, layout.page_height_mm * mm))
    canvas.setTitle(f"Sample labels ({layout.name})")
    position = start_position
    for label in labels:
        if position > layout.per_page:
            canvas.showPage()
            position = 1
        x, y_top = layout.label_origin_mm(position)
        _draw_label(canvas, label, x, layout.page_height_mm - y_top - layout.label_height_mm,
                    layout.label_width_mm, layout.label_height_mm)
        position += 1
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def sheet_positions(count: int, layout: SheetLayout, start_position: int = 1) -> list[tuple[int, int]]:
    """Return (page index, position) for each of ``count`` labels as pdf_sheet places them."""
    result = []
    page, position = 0, start_position
    for _ in range(count):
        if position > layout.per_page:
            page, position = page + 1, 1
        result.append((page, position))
        position += 1
    return result


def _draw_label(canvas: Canvas, label: LabelData, x_mm: float, y_mm: float, w_mm: float, h_mm: float) -> None:
    value = validate(label.accession)
    pad = LABEL_PADDING_MM
    inner_w, inner_h = w_mm - 2 * pad, h_mm - 2 * pad
    text_pt = min(6.0, inner_h * 0.16 / 0.3528)
    line_mm = text_pt * 0.3528 * 1.15
    id_pt = min(8.0, text_pt * 1.3)
    id_mm = id_pt * 0.3528 * 1.1
    bar_h = inner_h - id_mm - 2 * line_mm - 0.8
    dm = datamatrix_modules(value)
    code_modules = _code128_modules(value)
    # The DataMatrix goes beside the barcode only if the Code128 keeps at least the minimum module width;
    # its own modules (one-module quiet zone on the label) shrink down to 0.33 mm to make room.
    with_dm, dm_module, dm_side = False, 0.0, 0.0
    for dm_module in DM_MODULES_MM:
        dm_side = (dm.shape[0] + 2) * dm_module
        if dm_side <= inner_h and (inner_w - dm_side - pad) / code_modules >= MIN_MODULE_MM:
            with_dm = True
            break
    code_w = inner_w - (dm_side + pad if with_dm else 0)
    module = min(MAX_MODULE_MM, code_w / code_modules)
    left = x_mm + pad
    top = y_mm + h_mm - pad
    canvas.setFont(_FONT_BOLD, id_pt)
    canvas.drawString((left + QUIET_MODULES * module) * mm, (top - id_pt * 0.3528) * mm, value)
    symbol = Code128(value, barWidth=module * mm, barHeight=bar_h * mm, quiet=1,
                     lquiet=QUIET_MODULES * module * mm, rquiet=QUIET_MODULES * module * mm, humanReadable=False)
    symbol.drawOn(canvas, left * mm, (top - id_mm - bar_h) * mm)
    canvas.setFont(_FONT, text_pt)
    for i, line in enumerate(label.lines()):
        text = _fit(line, _FONT, text_pt, code_w if with_dm else inner_w)
        canvas.drawString((left + QUIET_MODULES * module) * mm,
                          (top - id_mm - bar_h - 0.6 - (i + 1) * line_mm + 0.3) * mm, text)
    if with_dm:
        dm_x = x_mm + w_mm - pad - dm_side + dm_module
        dm_y = y_mm + (h_mm - dm_side) / 2 + dm_module
        _draw_modules(canvas, dm, dm_x, dm_y, dm_module)


def _draw_modules(canvas: Canvas, grid: np.ndarray, x_mm: float, y_mm: float, module_mm: float) -> None:
    size = grid.shape[0]
    canvas.setFillColorRGB(0, 0, 0)
    for row in range(size):
        # One rectangle per horizontal run of dark modules: fewer path operations, no hairline seams.
        col = 0
        while col < grid.shape[1]:
            if grid[row, col]:
                end = col
                while end < grid.shape[1] and grid[row, end]:
                    end += 1
                canvas.rect((x_mm + col * module_mm) * mm, (y_mm + (size - 1 - row) * module_mm) * mm,
                            (end - col) * module_mm * mm, module_mm * mm, stroke=0, fill=1)
                col = end
            else:
                col += 1


def _fit(text: str, font: str, size: float, width_mm: float) -> str:
    if stringWidth(text, font, size) <= width_mm * mm:
        return text
    while text and stringWidth(text + "…", font, size) > width_mm * mm:
        text = text[:-1]
    return text + "…"


def _code128_modules(value: str) -> int:
    """Return the Code128 width of ``value`` in modules, quiet zones included, as reportlab encodes it."""
    return round(Code128(value, barWidth=1, quiet=0, humanReadable=False).width) + 2 * QUIET_MODULES


def _min_code128_width_mm() -> float:
    # Widest case for a valid ID: prefix letters and hyphens in set B, serial digits partly in set C.
    return _code128_modules("TB-0000042-3") * MIN_MODULE_MM


# --- ZPL --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ZplLayout:
    """A Zebra label: size in millimetres and printer resolution (203, 300 or 600 dpi)."""

    width_mm: float = 50.8
    height_mm: float = 25.4
    dpi: int = 300

    @property
    def dots_per_mm(self) -> float:
        """Return printer dots per millimetre."""
        return self.dpi / 25.4

    def validate(self) -> None:
        """Raise LabelLayoutError if the resolution is unknown or the symbols do not fit, saying by how much."""
        if self.dpi not in ZPL_DPIS:
            raise LabelLayoutError(f"ZPL dpi must be one of {', '.join(map(str, ZPL_DPIS))}, got {self.dpi}")
        if self.width_mm <= 0 or self.height_mm <= 0:
            raise LabelLayoutError("ZPL label width and height must be positive")
        dot = 25.4 / self.dpi
        min_dots = math.ceil(MIN_MODULE_MM / dot - 1e-9)
        needed = (_ZPL_CODE128_MODULES * min_dots + 2 * round(self.dots_per_mm)) * dot
        if self.width_mm < needed - 1e-9:
            raise LabelLayoutError(
                f"ZPL label is {self.width_mm:g} mm wide but the Code128 of an accession ID needs {needed:.1f} mm "
                f"at {self.dpi} dpi ({needed - self.width_mm:.1f} mm more)"
            )
        g = self.geometry()
        if g["bar_h"] < 4 * self.dots_per_mm:
            short = (4 * self.dots_per_mm - g["bar_h"]) * dot
            raise LabelLayoutError(
                f"ZPL label is {self.height_mm:g} mm high: too short for the ID, a 4 mm barcode and the "
                f"DataMatrix ({short:.1f} mm more needed)"
            )

    def geometry(self) -> dict[str, int]:
        """Return the label's element positions and sizes in printer dots."""
        dpmm = self.dots_per_mm
        width, height = round(self.width_mm * dpmm), round(self.height_mm * dpmm)
        margin = round(dpmm)
        dot = 25.4 / self.dpi
        min_dots = math.ceil(MIN_MODULE_MM / dot - 1e-9)
        module = max(min_dots, min((width - 2 * margin) // _ZPL_CODE128_MODULES, round(MAX_MODULE_MM * dpmm)))
        quiet = QUIET_MODULES * module
        id_h = max(18, round(2.4 * dpmm))
        text_h = max(14, round(1.9 * dpmm))
        dm_module = max(2, round(0.33 * dpmm))
        dm_side = 18 * dm_module  # up to 16 x 16 modules (a 12-character ID) plus a one-module quiet zone
        bar_top = margin + id_h + round(0.5 * dpmm)
        lower = max(dm_side, 2 * text_h + 4)
        bar_h = height - bar_top - round(0.5 * dpmm) - lower - margin
        return {
            "width": width, "height": height, "margin": margin, "module": module, "quiet": quiet,
            "id_h": id_h, "text_h": text_h, "bar_top": bar_top, "bar_h": bar_h,
            "text_top": bar_top + bar_h + round(0.5 * dpmm), "dm_module": dm_module,
            "dm_x": width - margin - dm_side,
        }


# Printer-side encoding can differ from reportlab's, so size for the longest case: all set B.
_ZPL_CODE128_MODULES = 11 * (12 + 2) + 13 + 2 * QUIET_MODULES


def zpl(labels: Iterable[LabelData], layout: ZplLayout) -> str:
    """Return ZPL II with one ^XA..^XZ block per label: ID text, ^BC Code128, ^BX DataMatrix, two text lines."""
    layout.validate()
    g = layout.geometry()
    blocks = []
    for label in labels:
        value = validate(label.accession)
        first, second = label.lines()
        text_x = g["margin"] + g["quiet"]
        text_w = g["dm_x"] - text_x - g["margin"]
        text_font = f"^A0N,{g['text_h']},{g['text_h']}^FB{text_w},1,0,L,0"
        second_y = g["text_top"] + g["text_h"] + 4
        dm_at = f"^FO{g['dm_x'] + g['dm_module']},{g['text_top'] + g['dm_module']}"
        block = [
            "^XA",
            "^CI28",  # UTF-8 field data
            f"^PW{g['width']}",
            f"^LL{g['height']}",
            "^LH0,0",
            f"^FO{text_x},{g['margin']}^A0N,{g['id_h']},{g['id_h']}^FD{value}^FS",
            f"^FO{g['margin']},{g['bar_top']}^BY{g['module']},3,{g['bar_h']}^BCN,{g['bar_h']},N,N,N,A^FD{value}^FS",
            f"^FO{text_x},{g['text_top']}{text_font}^FH^FD{_zpl_escape(first)}^FS",
            f"^FO{text_x},{second_y}{text_font}^FH^FD{_zpl_escape(second)}^FS",
            f"{dm_at}^BXN,{g['dm_module']},200,0,0,6^FD{value}^FS",
            "^PQ1",
            "^XZ",
        ]
        blocks.append("\n".join(block))
    return "\n".join(blocks) + ("\n" if blocks else "")


def _zpl_escape(text: str) -> str:
    """Hex-escape (^FH, indicator "_") every byte that is not plain printable ASCII or is ^, ~ or _."""
    out = []
    for ch in text:
        if 32 <= ord(ch) < 127 and ch not in "^~_":
            out.append(ch)
        else:
            out.extend(f"_{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)
