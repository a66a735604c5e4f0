"""Shared by the label tests: rasterise PDFs at printer resolution, decode with independent decoders, and
build real label contents for every sample type of the protocol."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

import numpy as np
import pypdfium2
import zxingcpp
from PIL import Image
from pylibdmtx import pylibdmtx
from pyzbar import pyzbar

from lims.config import DEFAULT_PROTOCOL
from lims.labels.layout import LabelContent
from lims.samples.accession import make_accession
from lims.samples.labels import sample_label
from lims.studies.protocol import load_protocol

DPIS = (203, 300, 600)
BORDER_MM = 4
# 23:30 UTC on 7 January is 07:30 on 8 January in Shanghai: the label must say 2025-01-08.
COLLECTED = datetime(2025, 1, 7, 23, 30, tzinfo=UTC)


def rasterise(pdf: bytes, dpi: int) -> list[np.ndarray]:
    """Render every page at ``dpi`` as 8-bit greyscale, one pixel per printer dot."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            # pdfium sizes the bitmap as ceil(page size x scale): a hair under dpi/72 keeps it at whole dots.
            bitmap = page.render(scale=dpi / 72 * (1 - 1e-6), grayscale=True)
            pages.append(np.asarray(bitmap.to_pil()).copy())
            width, height = page.get_size()
            assert pages[-1].shape == (round(height * dpi / 72), round(width * dpi / 72))
        return pages
    finally:
        document.close()


def on_dark(image: np.ndarray, dpi: int, background: int = 0) -> Image.Image:
    """Return the label pasted on a dark surface (a freezer rack, a gloved hand): quiet zones must be on
    it."""
    border = round(BORDER_MM * dpi / 25.4)
    canvas = np.full((image.shape[0] + 2 * border, image.shape[1] + 2 * border), background, dtype=np.uint8)
    canvas[border:border + image.shape[0], border:border + image.shape[1]] = image
    return Image.fromarray(canvas)


def decode(image: Image.Image) -> dict[str, list[str]]:
    """Decode with zxing-cpp, and with ZBar (Code 128) and libdmtx (DataMatrix) independently."""
    zx = zxingcpp.read_barcodes(image,
                                formats=[zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.DataMatrix])
    return {
        "zxing-code128": sorted(r.text for r in zx if r.format == zxingcpp.BarcodeFormat.Code128),
        "zxing-datamatrix": sorted(r.text for r in zx if r.format == zxingcpp.BarcodeFormat.DataMatrix),
        "zbar-code128": sorted(r.data.decode()
                               for r in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.CODE128])),
        "dmtx-datamatrix": sorted(r.data.decode()
                                  for r in pylibdmtx.decode(image, max_count=1, timeout=20000)),
    }


def expected(code: str, code128: bool) -> dict[str, list[str]]:
    """What :func:`decode` must find on a label carrying ``code`` (the Code 128 only on wide labels)."""
    return {"zxing-code128": [code] if code128 else [], "zxing-datamatrix": [code],
            "zbar-code128": [code] if code128 else [], "dmtx-datamatrix": [code]}


@cache
def protocol() -> Any:
    return load_protocol(DEFAULT_PROTOCOL)


def tube_kinds() -> list[tuple[str, str | None, str]]:
    """Return every (sample type, container, derivation) the protocol makes, and each type at least once."""
    kinds: dict[tuple[str, str | None, str], None] = {}
    for timepoint in protocol().timepoints:
        for kit in timepoint.kit:
            kinds[(kit.sample_type, kit.container, "primary")] = None
            for y in kit.yields:
                kinds[(y.sample_type, kit.container, "derivative")] = None
    seen = {k[0] for k in kinds}
    for t in protocol().sample_types:
        if t["code"] not in seen:
            kinds[(t["code"], None, "primary")] = None
    return list(kinds)


def tube(kind: tuple[str, str | None, str], serial: int = 42, *, type_name: str | None = None) -> Any:
    """Return a stand-in sample of ``kind`` with the protocol's longest time point code and a 4-digit
    participant."""
    types = {t["code"]: t for t in protocol().sample_types}
    containers = {c["code"]: c for c in protocol().containers}
    code, container, derivation = kind
    sample_type = SimpleNamespace(code=code, name=type_name or types[code]["name"],
                                  sprec_type=types[code]["sprec_type"])
    timepoint = max((t.code for t in protocol().timepoints), key=len)
    study = SimpleNamespace(settings=dict(protocol().settings))
    participant = SimpleNamespace(code="WZ-0123", site=SimpleNamespace(code="WZ"), study=study)
    return SimpleNamespace(
        accession=make_accession(serial), sample_type=sample_type, derivation=derivation,
        container_type=SimpleNamespace(code=container, name=containers[container]["name"]) if container
        else None,
        participant=participant, visit=SimpleNamespace(timepoint=SimpleNamespace(code=timepoint)),
        collected_at=COLLECTED,
    )


def sample_contents() -> list[LabelContent]:
    """Return the label of every kind of tube the protocol makes."""
    return [sample_label(tube(kind, serial)) for serial, kind in enumerate(tube_kinds(), start=100)]


def near(a: np.ndarray, b: np.ndarray) -> float:
    """Return the share of dark pixels of ``a`` that have a dark pixel of ``b`` within one pixel."""
    padded = np.pad(b, 1)
    grown = np.zeros_like(b)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            grown |= padded[dy:dy + b.shape[0], dx:dx + b.shape[1]]
    return float((a & grown).sum() / max(1, a.sum()))
