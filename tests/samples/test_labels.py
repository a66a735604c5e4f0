"""Labels: every symbol the module produces decodes to exactly its accession ID; ZPL is well formed."""

from __future__ import annotations

import io
import re
from datetime import date

import cairosvg
import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from lims.samples.accession import AccessionError, make_accession
from lims.samples.labels import (
    PRESETS,
    LabelData,
    LabelLayoutError,
    SheetLayout,
    ZplLayout,
    code128_png,
    code128_svg,
    datamatrix_png,
    datamatrix_svg,
    layout_from_mapping,
    pdf_sheet,
    sheet_positions,
    zpl,
)

RENDER_DPI = 600
CODE128 = zxingcpp.BarcodeFormat.Code128
DATAMATRIX = zxingcpp.BarcodeFormat.DataMatrix


def label(serial: int) -> LabelData:
    return LabelData(make_accession(serial), participant="ESCC-01-0007", timepoint="CRE1",
                     sample_type="PL2 ctDNA plasma", collected=date(2026, 3, 2))


def decode(image: Image.Image, fmt: zxingcpp.BarcodeFormat) -> list[str]:
    if image.mode in ("RGBA", "LA"):
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    return [r.text for r in zxingcpp.read_barcodes(image, formats=fmt)]


ACCESSIONS = [make_accession(s) for s in (1, 42, 999, 1234567, 9999999)] + [make_accession(7, "ZQ")]


@pytest.mark.parametrize("accession", ACCESSIONS)
def test_code128_svg_rasterised_decodes(accession: str) -> None:
    svg = code128_svg(accession)
    assert svg.lstrip().startswith("<?xml")
    png = cairosvg.svg2png(bytestring=svg.encode(), dpi=RENDER_DPI)
    assert decode(Image.open(io.BytesIO(png)), CODE128) == [accession]


@pytest.mark.parametrize("dpi", [203, 300, 600])
@pytest.mark.parametrize("accession", ACCESSIONS[:3])
def test_code128_png_decodes_and_is_dpi_tagged(accession: str, dpi: int) -> None:
    image = Image.open(io.BytesIO(code128_png(accession, dpi=dpi)))
    assert round(image.info["dpi"][0]) == dpi
    assert decode(image, CODE128) == [accession]


@pytest.mark.parametrize("accession", ACCESSIONS)
def test_datamatrix_png_is_square_and_decodes(accession: str) -> None:
    image = Image.open(io.BytesIO(datamatrix_png(accession)))
    assert image.width == image.height
    assert decode(image, DATAMATRIX) == [accession]


@pytest.mark.parametrize("accession", ACCESSIONS[:2])
def test_datamatrix_svg_rasterised_decodes(accession: str) -> None:
    png = cairosvg.svg2png(bytestring=datamatrix_svg(accession).encode(), scale=4)
    assert decode(Image.open(io.BytesIO(png)), DATAMATRIX) == [accession]


def test_symbols_refuse_an_invalid_accession() -> None:
    for make in (code128_svg, code128_png, datamatrix_png, datamatrix_svg):
        with pytest.raises(AccessionError, match="check character"):
            make("TB-0000042-8")


def test_symbols_normalise_scanned_input() -> None:
    assert decode(Image.open(io.BytesIO(datamatrix_png("tb00000423\r\n"))), DATAMATRIX) == ["TB-0000042-3"]


def render_pages(pdf: bytes) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=RENDER_DPI / 72, grayscale=True).to_pil() for page in document]
    finally:
        document.close()


def crop_label(page: Image.Image, layout: SheetLayout, position: int) -> Image.Image:
    px = RENDER_DPI / 25.4
    x, y = layout.label_origin_mm(position)
    return page.crop((round(x * px), round(y * px),
                      round((x + layout.label_width_mm) * px), round((y + layout.label_height_mm) * px)))


@pytest.mark.parametrize(("preset", "start", "has_datamatrix"), [("a4-38x21", 60, False), ("letter-44x17", 55, True)])
def test_every_label_of_a_multipage_sheet_decodes_to_its_own_id(preset: str, start: int, has_datamatrix: bool) -> None:
    layout = PRESETS[preset]
    labels = [label(serial) for serial in range(100, 100 + layout.per_page + 12)]
    pages = render_pages(pdf_sheet(labels, layout, start_position=start))
    placements = sheet_positions(len(labels), layout, start_position=start)
    assert len(pages) == placements[-1][0] + 1 == 3
    for item, (page, position) in zip(labels, placements, strict=True):
        cell = crop_label(pages[page], layout, position)
        assert decode(cell, CODE128) == [item.accession], (page, position)
        if has_datamatrix:
            assert decode(cell, DATAMATRIX) == [item.accession], (page, position)
    # Positions before the start on page 1 stay blank (a partly used sheet).
    blank = crop_label(pages[0], layout, start - 1)
    assert blank.getextrema() == (255, 255)


def test_sheet_positions_wrap_to_the_next_page() -> None:
    layout = PRESETS["a4-38x21"]
    assert sheet_positions(3, layout, start_position=64) == [(0, 64), (0, 65), (1, 1)]


def test_start_position_out_of_range() -> None:
    with pytest.raises(LabelLayoutError, match="start position must be between 1 and 65, got 66"):
        pdf_sheet([label(1)], PRESETS["a4-38x21"], start_position=66)


def test_presets_are_valid() -> None:
    for layout in PRESETS.values():
        layout.validate()


def test_layout_too_wide_says_by_how_much() -> None:
    wide = SheetLayout("wide", 210, 297, rows=10, columns=5, margin_top_mm=10, margin_left_mm=8,
                       label_width_mm=40, label_height_mm=20, h_gap_mm=2)
    with pytest.raises(LabelLayoutError) as error:
        wide.validate()
    assert str(error.value) == (
        "layout 'wide' is 6.0 mm too wide: left margin 8 + 5 columns × 40 mm + 4 gaps × 2 mm = 216.0 mm, "
        "page width 210 mm"
    )


def test_layout_too_tall_says_by_how_much() -> None:
    tall = SheetLayout("tall", 210, 297, rows=14, columns=5, margin_top_mm=10.7, margin_left_mm=4.7,
                       label_width_mm=38.1, label_height_mm=21.2, h_gap_mm=2.5)
    with pytest.raises(LabelLayoutError, match=r"layout 'tall' is 10\.5 mm too tall: top margin 10\.7 \+ 14 rows"):
        tall.validate()


def test_label_too_narrow_for_the_barcode() -> None:
    narrow = SheetLayout("narrow", 210, 297, rows=10, columns=8, margin_top_mm=10, margin_left_mm=5,
                         label_width_mm=25, label_height_mm=12, h_gap_mm=0)
    with pytest.raises(LabelLayoutError, match=r"labels are 25 mm wide but the Code128 .* needs 35\.4 mm .*10\.4 mm more"):
        narrow.validate()


def test_layout_from_mapping() -> None:
    layout = layout_from_mapping({"preset": "a4-38x21", "margin_top_mm": "11.0"})
    assert layout.margin_top_mm == 11.0 and layout.rows == 13
    custom = layout_from_mapping({"name": "lab", "page_width_mm": 210, "page_height_mm": 297, "rows": 10,
                                  "columns": 4, "margin_top_mm": 10, "margin_left_mm": 10,
                                  "label_width_mm": 45, "label_height_mm": 25})
    assert custom.h_gap_mm == 0 and custom.per_page == 40
    with pytest.raises(LabelLayoutError, match="unknown label layout preset 'avery'; known: a4-38x21, letter-44x17"):
        layout_from_mapping({"preset": "avery"})
    with pytest.raises(LabelLayoutError, match="unknown label layout settings: colums"):
        layout_from_mapping({"preset": "a4-38x21", "colums": 3})
    with pytest.raises(LabelLayoutError, match="label layout is missing: label_height_mm, label_width_mm"):
        layout_from_mapping({"name": "x", "page_width_mm": 210, "page_height_mm": 297, "rows": 1, "columns": 1,
                             "margin_top_mm": 0, "margin_left_mm": 0})
    with pytest.raises(LabelLayoutError, match="too wide"):
        layout_from_mapping({"preset": "a4-38x21", "columns": 6})


# --- ZPL --------------------------------------------------------------------------------------------------


def parse_zpl(text: str) -> list[list[tuple[str, str]]]:
    """Split ZPL into labels of (command, argument) pairs, checking ^XA/^XZ and ^FD/^FS pairing."""
    labels: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] | None = None
    in_field = False
    for match in re.finditer(r"\^([A-Z@][A-Z0-9@]?)([^\^]*)", text):
        command, argument = match.group(1), match.group(2).rstrip("\n")
        if command == "XA":
            assert current is None, "^XA inside an open label"
            current = []
            continue
        assert current is not None, f"^{command} outside ^XA..^XZ"
        if command == "XZ":
            assert not in_field, "^XZ with an open ^FD"
            labels.append(current)
            current = None
            continue
        if command == "FD":
            assert not in_field, "^FD without ^FS"
            in_field = True
        elif command == "FS":
            assert in_field, "^FS without ^FD"
            in_field = False
        current.append((command, argument))
    assert current is None, "^XA without ^XZ"
    assert "~" not in text
    return labels


def fields_after(commands: list[tuple[str, str]], symbol: str) -> list[str]:
    result = []
    for i, (command, _) in enumerate(commands):
        if command == symbol:
            result.append(next(arg for cmd, arg in commands[i:] if cmd == "FD"))
    return result


def unhex(field: str) -> str:
    return re.sub(rb"_([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), field.encode()).decode("utf-8")


@pytest.mark.parametrize("dpi", [203, 300, 600])
def test_zpl_one_well_formed_block_per_label(dpi: int) -> None:
    items = [label(s) for s in (1, 2, 3)]
    parsed = parse_zpl(zpl(items, ZplLayout(width_mm=50.8, height_mm=25.4, dpi=dpi)))
    assert len(parsed) == 3
    for commands, item in zip(parsed, items, strict=True):
        assert fields_after(commands, "BC") == [item.accession]
        assert fields_after(commands, "BX") == [item.accession]
        texts = [unhex(arg) for cmd, arg in commands if cmd == "FD"]
        assert item.accession in texts
        assert "ESCC-01-0007 · CRE1" in texts
        assert "PL2 ctDNA plasma · 2026-03-02" in texts
        width = int(next(arg for cmd, arg in commands if cmd == "PW"))
        assert width == round(50.8 * dpi / 25.4)


def test_zpl_escapes_caret_tilde_and_underscore() -> None:
    item = LabelData(make_accession(5), participant="P^XZ~JA_1", timepoint="wk 3", sample_type="血浆")
    text = zpl([item], ZplLayout())
    (commands,) = parse_zpl(text)
    fds = [arg for cmd, arg in commands if cmd == "FD"]
    assert "P_5EXZ_7EJA_5F1 _C2_B7 wk 3" in fds
    assert unhex(fds[2]) == "P^XZ~JA_1 · wk 3"
    assert unhex(fds[3]) == "血浆"
    assert all(cmd != "FD" or "^" not in arg for cmd, arg in commands)


def test_zpl_code128_fits_the_label_width() -> None:
    for dpi in (203, 300, 600):
        layout = ZplLayout(dpi=dpi)
        g = layout.geometry()
        assert 2 * g["margin"] + (11 * 14 + 13 + 20) * g["module"] <= g["width"]
        assert g["module"] * 25.4 / dpi >= 0.19


def test_zpl_rejects_bad_layouts() -> None:
    with pytest.raises(LabelLayoutError, match="ZPL dpi must be one of 203, 300, 600, got 400"):
        zpl([label(1)], ZplLayout(dpi=400))
    with pytest.raises(LabelLayoutError, match=r"ZPL label is 30 mm wide but the Code128 .* needs 4\d\.\d mm"):
        zpl([label(1)], ZplLayout(width_mm=30, dpi=300))
    with pytest.raises(LabelLayoutError, match="ZPL label is 12 mm high: too short"):
        zpl([label(1)], ZplLayout(height_mm=12, dpi=300))


def test_zpl_empty() -> None:
    assert zpl([], ZplLayout()) == ""
