"""The label font: found at run time, measured in printer dots, embedded in PDFs, rasterised for ZPL.

Labels carry Chinese as well as Latin text, so the font must have CJK glyphs: Noto Sans CJK (Debian's
``fonts-noto-cjk``, the Simplified Chinese face of its collection) unless ``LIMS_LABEL_FONT`` (and
``LIMS_LABEL_FONT_BOLD``) name another ``.ttf``, ``.otf`` or ``.ttc`` file. One font serves both outputs:
the layout measures with its advance widths and glyph bounds (unhinted, in font units), the PDF embeds a
subset of it, and ZPL labels carry its glyphs as printer-resolution bitmaps (``^GF``), so a Zebra without
downloaded fonts prints Chinese and both outputs put every glyph in the same place.

reportlab embeds only TrueType outlines; Noto CJK has PostScript (CFF) outlines, so the glyphs a document
uses are subset with fontTools and converted to quadratic outlines first (a few hundred milliseconds,
cached per character set).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont
    from PIL import ImageFont

SEARCH = {
    "regular": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    "bold": ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
             "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc"),
}
ENVIRONMENT = {"regular": "LIMS_LABEL_FONT", "bold": "LIMS_LABEL_FONT_BOLD"}
FALLBACK_CHARACTER = "?"
# Characters every document's font subset holds, so that most documents share one cached subset.
_COMMON = "".join(chr(c) for c in range(32, 127)) + "°µ×›·…–—‘’“”äöüÄÖÜß"


class LabelFontError(RuntimeError):
    """No usable label font: what was looked for and how to install one."""


@dataclass(frozen=True)
class FontFile:
    """A font file and the face to use in it (collections hold several)."""

    path: str
    index: int = 0


def _face_index(path: str) -> int:
    """Return the Simplified Chinese face of a collection (Noto CJK 'SC'), or its first face."""
    from fontTools.ttLib import TTCollection

    if not path.lower().endswith(".ttc"):
        return 0
    collection = TTCollection(path, lazy=True)
    try:
        names = [f["name"].getDebugName(1) or "" for f in collection.fonts]
    finally:
        collection.close()
    for i, name in enumerate(names):
        if name.endswith(" SC") and "Mono" not in name:
            return i
    return 0


def _fc_match(weight: str) -> str | None:
    if shutil.which("fc-match") is None:
        return None
    pattern = "Noto Sans CJK SC:bold" if weight == "bold" else "Noto Sans CJK SC"
    found = subprocess.run(["fc-match", "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10,
                           check=False).stdout.strip()
    return found if "CJK" in found and Path(found).is_file() else None


@cache
def font_file(weight: str = "regular") -> FontFile:
    """Return the label font file for ``weight`` ('regular' or 'bold'), or raise LabelFontError."""
    configured = os.environ.get(ENVIRONMENT[weight], "").strip()
    if configured:
        if not Path(configured).is_file():
            raise LabelFontError(f"{ENVIRONMENT[weight]} names {configured!r}, which is not a file")
        return FontFile(configured, _face_index(configured))
    for candidate in SEARCH[weight]:
        if Path(candidate).is_file():
            return FontFile(candidate, _face_index(candidate))
    found = _fc_match(weight)
    if found:
        return FontFile(found, _face_index(found))
    raise LabelFontError(
        f"no label font with Chinese glyphs found (looked for {', '.join(SEARCH[weight])} and asked "
        f"fc-match): install Debian's fonts-noto-cjk, or set {ENVIRONMENT[weight]} to a .ttf, .otf or .ttc "
        "file"
    )


class LabelFont:
    """One face of the label font, measured in printer dots at a given em size (font size in dots)."""

    def __init__(self, file: FontFile) -> None:
        from fontTools.ttLib import TTFont

        self.file = file
        font = TTFont(file.path, fontNumber=file.index, lazy=True)
        self._cmap = font.getBestCmap()
        self._hmtx = font["hmtx"]
        self._glyphs = font.getGlyphSet()
        self.units = font["head"].unitsPerEm
        self._advance: dict[str, float] = {}
        self._bounds: dict[str, tuple[float, float]] = {}

    def has(self, ch: str) -> bool:
        """Tell whether the font has a glyph for ``ch``."""
        return ord(ch) in self._cmap

    def printable(self, text: str) -> str:
        """Return ``text`` with characters the font lacks replaced by '?' (never a box)."""
        return "".join(ch if self.has(ch) or ch in "\n" else FALLBACK_CHARACTER for ch in text)

    def _metrics(self, ch: str) -> None:
        from fontTools.pens.boundsPen import BoundsPen

        name = self._cmap.get(ord(ch)) or self._cmap[ord(FALLBACK_CHARACTER)]
        self._advance[ch] = self._hmtx[name][0] / self.units
        pen = BoundsPen(self._glyphs)
        self._glyphs[name].draw(pen)
        low, high = (pen.bounds[1], pen.bounds[3]) if pen.bounds else (0, 0)
        self._bounds[ch] = (high / self.units, -low / self.units)

    def advances(self, text: str, size: float) -> list[float]:
        """Return each character's advance width in dots at em size ``size``."""
        for ch in text:
            if ch not in self._advance:
                self._metrics(ch)
        return [self._advance[ch] * size for ch in text]

    def width(self, text: str, size: float) -> float:
        """Return the advance width of ``text`` in dots."""
        return sum(self.advances(text, size))

    def extent(self, text: str, size: float) -> tuple[float, float]:
        """Return how far the ink of ``text`` rises above and falls below the baseline, in dots."""
        self.advances(text, size)
        if not text:
            return 0.0, 0.0
        return (max(self._bounds[ch][0] for ch in text) * size,
                max(self._bounds[ch][1] for ch in text) * size)

    def pil(self, size: int) -> ImageFont.FreeTypeFont:
        """Return the face as a Pillow font of ``size`` pixels per em (ZPL bitmaps)."""
        return _pil_font(self.file.path, self.file.index, size)

    def pdf_name(self, chars: str) -> str:
        """Register a subset holding ``chars`` (plus common Latin) with reportlab and return its name."""
        return _pdf_font(self.file.path, self.file.index, frozenset(chars) | frozenset(_COMMON))


@cache
def label_font(weight: str = "regular") -> LabelFont:
    """Return the label font for ``weight`` ('regular' or 'bold'), loaded once per process."""
    return LabelFont(font_file(weight))


@lru_cache(maxsize=64)
def _pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(path, size=size, index=index, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=32)
def _pdf_font(path: str, index: int, chars: frozenset[str]) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont as ReportlabFont

    data = truetype_subset(path, index, "".join(sorted(chars)))
    name = "TBLabel-" + hashlib.sha256(data).hexdigest()[:12]
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(ReportlabFont(name, io.BytesIO(data)))
    return name


def truetype_subset(path: str, index: int, chars: str) -> bytes:
    """Return a TrueType-outline font holding the glyphs of ``chars`` from face ``index`` of ``path``."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        return _subset(font, chars)


def _subset(font: TTFont, chars: str) -> bytes:
    from fontTools import subset

    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    if "CFF " in font:
        _cff_to_truetype(font)
    # reportlab shares one font object among all fonts of the same PostScript name: give each subset its own.
    tag = hashlib.sha256(chars.encode("utf-8")).hexdigest()[:8]
    for record in font["name"].names:
        if record.nameID == 6:
            record.string = f"{record.toUnicode()[:50]}-{tag}"
    buffer = io.BytesIO()
    font.save(buffer)
    return buffer.getvalue()


def _cff_to_truetype(font: TTFont) -> None:
    """Replace PostScript (CFF) outlines with quadratic TrueType outlines, as reportlab needs."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(None)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    for name, glyph in glyphs.items():
        font["hmtx"][name] = (font["hmtx"][name][0], getattr(glyph, "xMin", 0))
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"
