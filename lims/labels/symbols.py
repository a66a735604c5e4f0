"""Barcodes for the screen (SVG): the same Code 128 and DataMatrix symbols as the printed labels."""

from __future__ import annotations

from html import escape

from lims.labels.code128 import QUIET_MODULES, encode
from lims.labels.layout import datamatrix_grid


def code128_svg(value: str, *, module: float = 2.0, height: float = 60.0, text: bool = True) -> str:
    """Return an SVG of the Code 128 of ``value`` with its quiet zones (and the value as text below)."""
    code = encode(value)
    width = (code.modules + 2 * QUIET_MODULES) * module
    total = height + (22 if text else 0)
    bars = []
    i, pattern = 0, code.pattern
    while i < len(pattern):
        if pattern[i] == "1":
            end = i
            while end < len(pattern) and pattern[end] == "1":
                end += 1
            bars.append(f'<rect x="{(QUIET_MODULES + i) * module:g}" y="0" width="{(end - i) * module:g}" '
                        f'height="{height:g}"/>')
            i = end
        else:
            i += 1
    label = (f'<text x="{width / 2:g}" y="{height + 17:g}" text-anchor="middle" font-family="sans-serif" '
             f'font-size="16">{escape(value)}</text>') if text else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{width:g}" height="{total:g}" viewBox="0 0 {width:g} {total:g}">'
            f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{"".join(bars)}</g>{label}</svg>')


def datamatrix_svg(value: str, *, module: float = 4.0) -> str:
    """Return an SVG of the square DataMatrix of ``value`` with a one-module quiet zone."""
    grid = datamatrix_grid(value)
    size = (grid.shape[0] + 2) * module
    cells = "".join(f'<rect x="{(c + 1) * module:g}" y="{(r + 1) * module:g}" width="{module:g}" '
                    f'height="{module:g}"/>' for r, row in enumerate(grid) for c, dark in enumerate(row)
                    if dark)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            f'width="{size:g}" height="{size:g}" viewBox="0 0 {size:g} {size:g}"><rect width="100%" '
            f'height="100%" fill="#fff"/><g fill="#000">{cells}</g></svg>')
