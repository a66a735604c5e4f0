"""ZPL II for Zebra printers: one ``^XA..^XZ`` format per label, drawn from the same plan as the PDF.

- Code 128: ``^BY`` module width in dots, ``^BC`` in mode N with explicit start and code-set invocations,
  so the printer draws exactly the planned symbol; ``^FO`` puts its first bar after the quiet zone.
- DataMatrix: ``^BX`` ECC 200 with the planned module size and the symbol's rows and columns, when even a
  printer that encodes in ASCII mode only fits the value into that size (always for accession IDs); other
  values (long storage barcodes packed in C40 mode) go as a ``^GF`` bitmap of the planned symbol.
- Text: each line as a ``^GF`` bitmap of the label font at the printer's resolution (ASCII hex with ZPL's
  row compression), preceded by a ``^FX`` comment holding the text. No printer font is needed, Chinese
  prints on any Zebra, and the glyphs sit where the PDF puts them.

The output is 7-bit ASCII: comments escape ``^``, ``~``, ``_`` and every non-ASCII byte as ``_XX``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from lims.labels.fonts import label_font
from lims.labels.layout import LabelContent, LabelPlan, TextLine, plan
from lims.labels.presets import Stock

if TYPE_CHECKING:
    import numpy as np


def zpl(labels: Iterable[LabelContent], stock: Stock, dpi: int) -> str:
    """Return ZPL II for ``labels`` on ``stock`` at ``dpi`` (one format per label)."""
    return "".join(zpl_label(plan(label, stock, dpi)) for label in labels)


def zpl_label(item: LabelPlan) -> str:
    """Return the ZPL format of one planned label."""
    import numpy as np

    out = ["^XA", "^CI28", f"^PW{item.width}", f"^LL{item.height}", "^LH0,0"]
    if item.bars is not None:
        b = item.bars
        out.append(f"^FO{b.x},{b.y}^BY{b.module},3,{b.height}^BCN,{b.height},N,N,N,N^FD{b.code.zpl_data()}^FS")
    m = item.matrix
    rows, cols = m.grid.shape
    if ascii_codewords(m.value) <= ECC200_SQUARE_CAPACITY.get(rows, 0):
        out.append(f"^FO{m.x},{m.y}^BXN,{m.module},200,{cols},{rows}^FD{m.value}^FS")
    else:
        modules = np.kron(m.grid, np.ones((m.module, m.module), dtype=bool)).astype(bool)
        out.append(f"^FX{escape(m.value)}: DataMatrix as a bitmap")
        out.append(f"^FO{m.x},{m.y}{graphic_field(modules)}^FS")
    for line in item.texts:
        bitmap, x, y = raster_line(line)
        out.append(f"^FX{escape(line.field)}: {escape(line.text)}")
        out.append(f"^FO{x},{y}{graphic_field(bitmap)}^FS")
    out.extend(["^PQ1", "^XZ"])
    return "\n".join(out) + "\n"


# Data codewords of the square ECC 200 symbols (ISO/IEC 16022, table 7), by rows.
ECC200_SQUARE_CAPACITY = {10: 3, 12: 5, 14: 8, 16: 12, 18: 18, 20: 22, 22: 30, 24: 36, 26: 44, 32: 62, 36: 86,
                          40: 114, 44: 144, 48: 174, 52: 204, 64: 280, 72: 368, 80: 456, 88: 576, 96: 696,
                          104: 816, 120: 1050, 132: 1304, 144: 1558}


def ascii_codewords(value: str) -> int:
    """Return the codewords of ``value`` in DataMatrix ASCII encodation (digit pairs share one)."""
    count, i = 0, 0
    while i < len(value):
        if value[i].isdigit() and i + 1 < len(value) and value[i + 1].isdigit():
            i += 2
        else:
            i += 1
        count += 1
    return count


def raster_line(line: TextLine) -> tuple[np.ndarray, int, int]:
    """Return the line's glyphs as a boolean bitmap (True = dark) and its top-left corner in label dots.

    Each glyph is placed at its unhinted advance position, rounded to the nearest dot, as in the PDF.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    font = label_font("bold" if line.bold else "regular")
    pil = font.pil(line.size)
    positions = []
    x = 0.0
    for ch, advance in zip(line.text, font.advances(line.text, line.size), strict=True):
        positions.append((ch, round(x)))
        x += advance
    # FreeType boxes are whole pixels; Pillow types them as float
    boxes = [(px + int(b[0]), int(b[1]), px + int(b[2]), int(b[3])) for ch, px in positions
             if (b := pil.getbbox(ch, anchor="ls", mode="1"))[2] > b[0]]
    if not boxes:
        return np.zeros((1, 1), dtype=bool), line.x, line.baseline
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    image = Image.new("1", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"
    for ch, px in positions:
        draw.text((px - left, -top), ch, font=pil, fill=1, anchor="ls")
    return np.asarray(image, dtype=bool), line.x + left, line.baseline + top


def graphic_field(bitmap: np.ndarray) -> str:
    """Return ``^GFA`` for a boolean bitmap in ZPL's ASCII compression (repeat counts, ',' fills a row with
    zeros, ':' repeats the row above)."""
    import numpy as np

    height, width = bitmap.shape
    row_bytes = (width + 7) // 8
    packed = np.packbits(bitmap, axis=1)
    rows, previous = [], None
    for row in packed:
        text = row.tobytes().hex().upper()
        if text == previous:
            rows.append(":")
            continue
        previous = text
        stripped = text.rstrip("0")
        rows.append(_runs(stripped) + ("," if len(stripped) < len(text) else ""))
    total = row_bytes * height
    return f"^GFA,{total},{total},{row_bytes},{''.join(rows)}"


def _runs(hex_digits: str) -> str:
    """Compress repeated hex digits with ZPL repeat counts (G..Y = 1..19, g..z = 20..400)."""
    out = []
    i = 0
    while i < len(hex_digits):
        j = i
        while j < len(hex_digits) and hex_digits[j] == hex_digits[i]:
            j += 1
        count = j - i
        while count > 2:
            chunk = min(count, 419)
            tens, ones = divmod(chunk, 20)
            out.append((chr(ord("f") + tens) if tens else "") + (chr(ord("F") + ones) if ones else "")
                       + hex_digits[i])
            count -= chunk
        out.append(hex_digits[i] * count)
        i = j
    return "".join(out)


def escape(text: str) -> str:
    """Escape text for a ZPL comment or ``^FH`` field: ``_XX`` for ^, ~, _ and every non-ASCII byte."""
    out = []
    for ch in text:
        if 32 <= ord(ch) < 127 and ch not in "^~_":
            out.append(ch)
        else:
            out.extend(f"_{byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)
