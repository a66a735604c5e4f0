"""Code 128 encoding (shortest symbol, ZPL invocation codes), screen symbols, layouts and presets."""

from __future__ import annotations

import io
import itertools

import cairosvg
import numpy as np
import pytest
import zxingcpp
from PIL import Image
from pyzbar import pyzbar

from lims.labels.code128 import Code128Error, encode
from lims.labels.layout import LabelContent, plan
from lims.labels.pdf import sheet_positions
from lims.labels.presets import PRESETS, STOCKS, LabelLayoutError, SheetLayout, layout_from_mapping
from lims.labels.symbols import code128_svg, datamatrix_svg
from lims.samples.accession import make_accession
from tests.labels.zpl_render import _code128_values

VALUES = [make_accession(s)
          for s in (1, 42, 999, 1234567, 9999999)] + [make_accession(7, "ZQ"), "ZJ-FRZ1-R2-B003",
                                                                      "12", "1234567890", "A1B22C333D4444",
                                                                        "a > b"]


def _image(value: str, module: int = 3) -> Image.Image:
    code = encode(value)
    row = np.array([c == "1" for c in "0" * 10 + code.pattern + "0" * 10])
    return Image.fromarray(np.where(np.repeat(np.repeat(row[None, :], 60, 0), module, 1), 0, 255)
                           .astype(np.uint8))


@pytest.mark.parametrize("value", VALUES)
def test_code128_round_trips_through_two_decoders(value: str) -> None:
    image = _image(value)
    assert [r.text
            for r in zxingcpp.read_barcodes(image, formats=[zxingcpp.BarcodeFormat.Code128])] == [value]
    assert [r.data.decode() for r in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.CODE128])] == [value]


def _shortest(value: str) -> int:
    """Symbol count of the shortest B/C encoding, by trying every way to cut the value into runs."""
    best = 10**9
    n = len(value)
    for cuts in itertools.product((False, True), repeat=n - 1):
        runs, start = [], 0
        for i, cut in enumerate(cuts, start=1):
            if cut:
                runs.append(value[start:i])
                start = i
        runs.append(value[start:])
        count = 0
        for run in runs:  # each run costs its start or code change, then its data (pairs in set C)
            count += 1 + (len(run) // 2 if run.isdigit() and len(run) % 2 == 0 else len(run))
        best = min(best, count)
    return best + 1  # check symbol


@pytest.mark.parametrize("value", ["TB-0000042-3", "1234", "12345", "A1234B", "AB12CD3456", "9", "00-00"])
def test_code128_is_the_shortest_b_and_c_encoding(value: str) -> None:
    assert len(encode(value).symbols) == _shortest(value)


def test_code128_zpl_field_data_matches_the_symbols() -> None:
    for value in VALUES:
        code = encode(value)
        assert _code128_values(code.zpl_data()) == list(code.symbols[:-1])
    assert encode("TB-0000042-3").zpl_data() == ">:TB-0>5000042>6-3"
    assert encode("a > b").zpl_data() == ">:a >0 b"


def test_code128_refuses_what_a_label_cannot_carry() -> None:
    for bad in ("", "TB^XZ", "a~b", "血浆", "tab\there"):
        with pytest.raises(Code128Error):
            encode(bad)


def test_screen_symbols_decode() -> None:
    png = cairosvg.svg2png(bytestring=code128_svg("TB-0000042-3").encode(), dpi=300)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == ["TB-0000042-3"]
    png = cairosvg.svg2png(bytestring=datamatrix_svg("TB-0000042-3").encode(), scale=3)
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))] == ["TB-0000042-3"]


def test_every_preset_holds_a_sample_id_and_its_datamatrix_at_every_resolution() -> None:
    content = LabelContent(make_accession(9999999, "ZZ"), make_accession(9999999, "ZZ"))
    for stock in [*STOCKS.values(), *(layout.stock for layout in PRESETS.values())]:
        for dpi in (203, 300, 600):
            planned = plan(content, stock, dpi)
            assert planned.matrix.value == content.code and planned.texts[0].text == content.title


def test_sheet_positions_wrap_to_the_next_page() -> None:
    assert sheet_positions(3, PRESETS["a4-38x21"], start_position=64) == [(0, 64), (0, 65), (1, 1)]


def test_layout_errors_say_by_how_much() -> None:
    wide = SheetLayout("wide", 210, 297, rows=10, columns=5, margin_top_mm=10, margin_left_mm=8,
                       label_width_mm=40, label_height_mm=20, h_gap_mm=2)
    with pytest.raises(LabelLayoutError) as error:
        wide.validate()
    assert str(error.value) == ("layout 'wide' is 6.0 mm too wide: left margin 8 + 5 columns × 40 mm + "
                                "4 gaps × 2 mm = 216.0 mm, page width 210 mm")
    tall = SheetLayout("tall", 210, 297, rows=14, columns=5, margin_top_mm=10.7, margin_left_mm=4.7,
                       label_width_mm=38.1, label_height_mm=21.2, h_gap_mm=2.5)
    with pytest.raises(LabelLayoutError, match=r"layout 'tall' is 10\.5 mm too tall"):
        tall.validate()


def test_layout_from_mapping() -> None:
    layout = layout_from_mapping({"preset": "a4-38x21", "margin_top_mm": "11.0"})
    assert layout.margin_top_mm == 11.0 and layout.rows == 13
    custom = layout_from_mapping({"name": "lab", "page_width_mm": 210, "page_height_mm": 297, "rows": 10,
                                  "columns": 4, "margin_top_mm": 10, "margin_left_mm": 10,
                                  "label_width_mm": 45, "label_height_mm": 25})
    assert custom.h_gap_mm == 0 and custom.per_page == 40 and not custom.round
    with pytest.raises(LabelLayoutError, match="unknown label layout preset 'avery'; known: a4-38x21, "):
        layout_from_mapping({"preset": "avery"})
    with pytest.raises(LabelLayoutError, match="unknown label layout settings: colums"):
        layout_from_mapping({"preset": "a4-38x21", "colums": 3})
    with pytest.raises(LabelLayoutError, match="too wide"):
        layout_from_mapping({"preset": "a4-38x21", "columns": 6})


def test_a_datamatrix_a_zebra_might_not_fit_goes_as_a_bitmap() -> None:
    from lims.labels.zpl import ascii_codewords, zpl
    from tests.labels.helpers import decode, expected, on_dark
    from tests.labels.zpl_render import render, to_image

    assert ascii_codewords("TB-0000042-3") == 9 and ascii_codewords("ABCDEFGHIJKLMNOPQRST") == 20
    long_box = "ABCDEFGHIJKLMNOPQRST"  # C40 packs it into 18 x 18; ASCII mode needs 20 x 20
    text = zpl([LabelContent(long_box, long_box)], STOCKS["38x13"], 300)
    assert "^BX" not in text and f"^FX{long_box}: DataMatrix as a bitmap" in text
    (label,) = render(text)
    assert decode(on_dark(to_image(label), 300)) == expected(long_box, code128=False)
    assert ",200,16,16^FDTB-0000042-3^FS" in zpl([LabelContent("TB-0000042-3", "TB-0000042-3")],
                                               STOCKS["38x13"], 300)
