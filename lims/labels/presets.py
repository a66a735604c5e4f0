"""Label stock (the label itself: size and shape) and PDF layouts (how labels sit on a page).

A Zebra printer takes a stock and a resolution; a sheet or roll printer behind CUPS takes a layout: a grid of
one stock on a page (A4 or US letter sheets), or one label per page (``roll-<stock>``, for label printers
driven through CUPS). Measure your own stock and add it through configuration (``layout_from_mapping``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

DPIS = (203, 300, 600)
MIN_LABEL_MM = 8.0


class LabelLayoutError(ValueError):
    """A label or layout that does not fit its page, or cannot hold the ID and the DataMatrix."""


@dataclass(frozen=True)
class Stock:
    """One label: width and height in millimetres; round labels are circles of that diameter."""

    name: str
    width_mm: float
    height_mm: float
    round: bool = False
    description: str = ""

    def dots(self, dpi: int) -> tuple[int, int]:
        """Return the label's width and height in printer dots."""
        return round(self.width_mm * dpi / 25.4), round(self.height_mm * dpi / 25.4)


STOCKS: dict[str, Stock] = {
    "50x25": Stock("50x25", 50.8, 25.4, description="2 × 1 in roll label (desktop thermal printers)"),
    "44x17": Stock("44x17", 44.45, 16.9, description="1.75 × 0.666 in label"),
    "38x21": Stock("38x21", 38.1, 21.2, description="38.1 × 21.2 mm mini label"),
    "38x13": Stock("38x13", 38.0, 13.0, description="cryovial label (1.5 and 2 ml tubes)"),
    "cap13": Stock("cap13", 12.7, 12.7, round=True, description="round 12.7 mm cap label (1.5 ml tubes)"),
}


@dataclass(frozen=True)
class SheetLayout:
    """A page of labels: page size, grid and label geometry in millimetres (positions counted row by row)."""

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
    round: bool = False

    @property
    def per_page(self) -> int:
        """Return the number of labels on one page."""
        return self.rows * self.columns

    @property
    def stock(self) -> Stock:
        """Return the label this layout holds."""
        return Stock(self.name, self.label_width_mm, self.label_height_mm, round=self.round)

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
        for name in ("label_width_mm", "label_height_mm"):
            if getattr(self, name) < MIN_LABEL_MM:
                raise LabelLayoutError(
                    f"layout {self.name!r}: labels are {getattr(self, name):g} mm "
                    f"{'wide' if name == 'label_width_mm' else 'high'}; at least {MIN_LABEL_MM:g} mm is "
                    "needed for a DataMatrix and the ID"
                )


def roll(stock: Stock) -> SheetLayout:
    """Return the one-label-per-page layout of ``stock`` (label printers driven through CUPS)."""
    return SheetLayout(f"roll-{stock.name}", stock.width_mm, stock.height_mm, rows=1, columns=1,
                       margin_top_mm=0, margin_left_mm=0, label_width_mm=stock.width_mm,
                       label_height_mm=stock.height_mm, round=stock.round)


PRESETS: dict[str, SheetLayout] = {
    # A4, 5 × 13 labels of 38.1 × 21.2 mm (Avery L7651-type "mini labels", also sold as laser cryo labels).
    "a4-38x21": SheetLayout("a4-38x21", 210, 297, rows=13, columns=5, margin_top_mm=10.7, margin_left_mm=4.7,
                            label_width_mm=38.1, label_height_mm=21.2, h_gap_mm=2.5, v_gap_mm=0),
    # US letter, 4 × 15 labels of 1.75 × 0.666 in (44.45 × 16.9 mm; Avery 5195-type return-address labels).
    "letter-44x17": SheetLayout("letter-44x17", 215.9, 279.4, rows=15, columns=4, margin_top_mm=15.7,
                                margin_left_mm=7.6, label_width_mm=44.45, label_height_mm=16.9, h_gap_mm=7.6,
                                v_gap_mm=0.0),
    **{f"roll-{name}": roll(stock) for name, stock in STOCKS.items()},
}
DEFAULT_LAYOUT = "a4-38x21"
DEFAULT_STOCK = "50x25"


def stock_named(name: str) -> Stock:
    """Return the stock called ``name`` or raise LabelLayoutError listing the known ones."""
    try:
        return STOCKS[name]
    except KeyError:
        raise LabelLayoutError(f"unknown label stock {name!r}; known: {', '.join(STOCKS)}") from None


def layout_named(name: str) -> SheetLayout:
    """Return the layout preset called ``name`` or raise LabelLayoutError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise LabelLayoutError(f"unknown label layout preset {name!r}; known: {', '.join(sorted(PRESETS))}") \
            from None


def layout_from_mapping(config: Mapping[str, Any]) -> SheetLayout:
    """Build and validate a SheetLayout from configuration (a preset name and/or explicit fields)."""
    known = {f.name for f in fields(SheetLayout)}
    unknown = sorted(set(config) - known - {"preset"})
    if unknown:
        raise LabelLayoutError(f"unknown label layout settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    if "preset" in config:
        base = layout_named(config["preset"])
        values = {f.name: getattr(base, f.name) for f in fields(SheetLayout)}
    values.update({k: v for k, v in config.items() if k != "preset"})
    missing = sorted(known - set(values) - {"h_gap_mm", "v_gap_mm", "round"})
    if missing:
        raise LabelLayoutError(f"label layout is missing: {', '.join(missing)}")
    try:
        for name in known - {"name", "round"}:
            if name in values:
                values[name] = int(values[name]) if name in ("rows", "columns") else float(values[name])
    except (TypeError, ValueError) as error:
        raise LabelLayoutError(f"label layout setting is not a number: {error}") from None
    values["round"] = bool(values.get("round", False))
    layout = SheetLayout(**values)
    layout.validate()
    return layout


def check_dpi(dpi: int) -> int:
    """Return ``dpi`` if labels can be rendered for it (203, 300 or 600 dots per inch)."""
    if dpi not in DPIS:
        raise LabelLayoutError(f"printer resolution must be one of {', '.join(map(str, DPIS))} dpi, got "
                               f"{dpi}")
    return dpi
