"""Label text: every sample type of the protocol on every preset and layout, at every resolution, is inside
the label and no field is cut; the label says what, whose, which visit, where and when (local date); ZPL and
PDF carry the same content; Chinese prints with an embedded font."""

from __future__ import annotations

import math
import re

import numpy as np
import pypdfium2
import pytest

from lims.labels import fonts
from lims.labels.layout import LabelContent, plan
from lims.labels.pdf import label_origin_dots, pdf, sheet_positions
from lims.labels.presets import PRESETS, STOCKS, LabelLayoutError, Stock, roll
from lims.labels.text import Field
from lims.labels.zpl import zpl, zpl_label
from lims.samples.labels import sample_label
from tests.labels.helpers import DPIS, near, rasterise, sample_contents, tube, tube_kinds
from tests.labels.zpl_render import render


def _squash(text: str) -> str:
    """Drop white space; pdfium reports a hyphen that ends a line as \x02."""
    return re.sub(r"\s+", "", text.replace("\x02", "-"))


def test_every_sample_type_of_the_protocol_is_covered() -> None:
    from tests.labels.helpers import protocol

    assert {kind[0] for kind in tube_kinds()} == {t["code"] for t in protocol().sample_types}


def test_the_label_says_container_visit_site_participant_and_local_date() -> None:
    streck = sample_label(tube(("WHOLE_BLOOD", "STRECK", "primary")))
    sst = sample_label(tube(("WHOLE_BLOOD", "SST", "primary")))
    plasma = sample_label(tube(("CTDNA_PLASMA", "STRECK", "derivative")))
    fields = {f.name: f for f in streck.fields}
    assert fields["sample"].text == "Whole blood in Streck cell-free DNA BCT"
    assert fields["sample"].short == "BLD STRECK"
    assert {f.name: f.text for f in sst.fields}["sample"] == "Whole blood in Serum separator tube"
    assert {f.name: f.text
            for f in plasma.fields}["sample"] == ("Plasma for ctDNA (double spun) from Streck cell-free DNA "
                                                  "BCT")
    assert fields["visit"].text == "WZ-0123  BASELINE"
    # Collected 23:30 UTC on 7 January = 07:30 in Shanghai on 8 January: the study's local date.
    assert fields["origin"].text == "WZ  2025-01-08"


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_sample_type_fits_every_layout_whole(name: str, dpi: int) -> None:
    layout = PRESETS[name]
    contents = sample_contents()
    document = pypdfium2.PdfDocument(pdf(contents, layout, dpi))
    points = 72 / dpi
    try:
        for content, (page_no,
                      position) in zip(contents, sheet_positions(len(contents), layout), strict=True):
            planned = plan(content, layout.stock, dpi)
            assert planned.cut == (), f"{content.title}: {planned.cut} cut on {name} at {dpi} dpi"
            page = document[page_no]
            text_page = page.get_textpage()
            page_height = page.get_height()
            x, y = label_origin_dots(layout, position, dpi)
            width, height = layout.stock.dots(dpi)
            box = (x * points, page_height - (y + height) * points, (x + width) * points,
                   page_height - y * points)
            printed = text_page.get_text_bounded(*box)
            # The ID whole, and each field whole (in full or in its short form) where the layout shows fields.
            assert content.title in printed
            shown = planned.shown()
            for field in content.fields if not layout.round else ():
                assert _squash(shown[field.name]) in (_squash(field.text), _squash(field.short or "")), field
                assert _squash(shown[field.name]) in _squash(printed)
            _inside(text_page, box, layout.round)
    finally:
        document.close()


def _inside(text_page: pypdfium2.PdfTextPage, box: tuple[float, ...], round_label: bool) -> None:
    """Every glyph box on the label lies inside it (inside the circle for round labels)."""
    left, bottom, right, top = box
    for i in range(text_page.count_chars()):
        x0, y0, x1, y1 = text_page.get_charbox(i, loose=False)
        if x1 <= left or x0 >= right or y1 <= bottom or y0 >= top:
            continue  # another label's glyph
        assert left <= x0 and x1 <= right and bottom <= y0 and y1 <= top, (i, (x0, y0, x1, y1), box)
        if round_label:
            cx, cy, r = (left + right) / 2, (bottom + top) / 2, (right - left) / 2
            assert all(math.hypot(px - cx, py - cy) <= r for px in (x0, x1) for py in (y0, y1))


@pytest.mark.parametrize("dpi", DPIS)
@pytest.mark.parametrize("name", list(STOCKS))
def test_zpl_and_pdf_carry_the_same_content(name: str, dpi: int) -> None:
    stock = STOCKS[name]
    for content in sample_contents()[:4]:
        planned = plan(content, stock, dpi)
        text = zpl_label(planned)
        (label,) = render(text)
        (page,) = rasterise(pdf([content], roll(stock), dpi), dpi)
        ink = page < 128
        symbols = np.zeros_like(ink)
        m = planned.matrix
        symbols[m.y - m.module:m.y + m.side + m.module, m.x - m.module:m.x + m.side + m.module] = True
        if planned.bars is not None:
            b = planned.bars
            symbols[b.y:b.y + b.height, b.x - 10 * b.module:b.x + (b.code.modules + 10) * b.module] = True
        assert np.array_equal(ink[symbols], label.dots[symbols]), "bars and modules differ"
        assert near(label.dots & ~symbols, ink) > 0.97 and near(ink & ~symbols, label.dots) > 0.97
        comments = [re.sub(r"_([0-9A-F]{2})", lambda mt: chr(int(mt.group(1), 16)), c)
                    for c in label.comments]
        assert [c.split(": ", 1)[1] for c in comments] == [line.text for line in planned.texts]


def test_chinese_text_is_embedded_in_the_pdf_and_drawn_in_the_zpl() -> None:
    content = sample_label(tube(("CTDNA_PLASMA", "STRECK", "derivative"), type_name="血浆（双重离心）"))
    data = pdf([content], PRESETS["roll-38x13"], 300)
    assert b"/FontFile2" in data and b"Helvetica" not in data
    document = pypdfium2.PdfDocument(data)
    try:
        assert "血浆（双重离心）" in document[0].get_textpage().get_text_bounded()
    finally:
        document.close()
    planned = plan(content, STOCKS["38x13"], 300)
    line = next(t for t in planned.texts if t.field == "sample")
    assert line.text.startswith("血浆（双重离心）")
    (label,) = render(zpl([content], STOCKS["38x13"], 300))
    assert any(c.startswith("sample: _E8_A1_80_E6_B5_86") for c in label.comments)
    x0, y0, w, h = label.graphics[1]
    assert label.dots[y0:y0 + h, x0:x0 + w].sum() > 100
    # The same glyphs in both (a font without them would draw empty boxes in the PDF).
    (page,) = rasterise(data, 300)
    assert near(label.dots, page < 128) > 0.97 and near(page < 128, label.dots) > 0.97


def test_characters_the_font_lacks_print_as_question_marks_not_boxes() -> None:
    content = LabelContent("TB-0000042-3", "TB-0000042-3", (Field("sample", "Serum \U0001F9EA"),))
    assert plan(content, STOCKS["50x25"], 300).shown()["sample"] == "Serum ?"


def test_a_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMS_LABEL_FONT", "/nonexistent/font.ttc")
    fonts.font_file.cache_clear()
    try:
        with pytest.raises(fonts.LabelFontError, match=r"LIMS_LABEL_FONT names '/nonexistent/font.ttc'"):
            fonts.font_file("regular")
        monkeypatch.delenv("LIMS_LABEL_FONT")
        monkeypatch.setattr(fonts, "SEARCH", {"regular": ("/nonexistent/a.ttc",), "bold": ()})
        monkeypatch.setattr(fonts.shutil, "which", lambda name: None)
        fonts.font_file.cache_clear()
        with pytest.raises(fonts.LabelFontError,
                           match="install Debian's fonts-noto-cjk, or set LIMS_LABEL_FONT"):
            fonts.font_file("regular")
    finally:
        fonts.font_file.cache_clear()


def test_a_label_too_small_for_the_id_is_refused_with_the_reason() -> None:
    with pytest.raises(LabelLayoutError,
                       match=r"a 8 × 8 mm label cannot hold the DataMatrix of 'TB-0000042-3'"):
        plan(LabelContent("TB-0000042-3", "TB-0000042-3"), Stock("tiny", 8, 8), 203)
    with pytest.raises(LabelLayoutError, match=r"character '\^' at position 3"):
        plan(LabelContent("AB^C", "AB^C"), STOCKS["50x25"], 203)


def test_text_wraps_before_it_shrinks_below_legible_and_is_cut_only_as_a_last_resort() -> None:
    long = "Peripheral blood mononuclear cells from Cell preparation tube, second spin, pooled"
    content = LabelContent("TB-0000042-3", "TB-0000042-3", (Field("sample", long, "PBMC CPT"),
                                                             Field("visit", "WZ-0123  BASELINE")))
    planned = plan(content, STOCKS["38x13"], 300)
    assert planned.cut == ()
    lines = [t for t in planned.texts if t.field == "sample"]
    assert len(lines) >= 2 and _squash(" ".join(t.text for t in lines)) in (_squash(long), "PBMCCPT")
    assert min(t.size for t in planned.texts) * 25.4 / 300 >= 1.4
    crowded = LabelContent("TB-0000042-3", "TB-0000042-3", tuple(Field(f"f{i}", long) for i in range(6)))
    squeezed = plan(crowded, STOCKS["38x13"], 300)
    assert squeezed.cut and squeezed.texts[0].text == "TB-0000042-3"
    assert any(t.text.endswith("…") for t in squeezed.texts)
