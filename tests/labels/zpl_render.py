"""A small ZPL II renderer for tests: draws the commands Trialbank emits, dot for dot, as a Zebra would.

It understands ^XA ^XZ ^CI28 ^PW ^LL ^LH ^FO ^BY ^BC (mode N, with start and code-set invocations) ^BX
(ECC 200 with explicit rows and columns) ^GFA (ASCII hex with ',' ':' '!' and repeat-count compression)
^FX ^FD ^FS ^PQ, and refuses anything else, a field drawn outside the label, or a malformed field, so a test
that renders a label also checks that it is a format a printer would print as planned. The Code 128 bar
patterns come from reportlab's table (not the one the app uses), DataMatrix symbols from zxing-cpp.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np
import zxingcpp
from reportlab.graphics.barcode.code128 import _patterns as RL_PATTERNS

_COMMAND = re.compile(r"\^([A-Z]{2}|F[A-Z]|[A-Z][0-9@])")
_WIDTHS = {ch: i + 1 for i, ch in enumerate("ABCD")}


class ZplError(ValueError):
    """ZPL this renderer (and so, probably, the printer) would not print as intended."""


@dataclass
class Label:
    """One rendered ^XA..^XZ format: the dots (True = black) and what its fields said."""

    dots: np.ndarray
    code128: list[str] = field(default_factory=list)
    datamatrix: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    graphics: list[tuple[int, int, int, int]] = field(default_factory=list)  # x, y, width, height


def _tokens(text: str) -> list[tuple[str, str]]:
    if "~" in text:
        raise ZplError("tilde commands are not expected in label formats")
    tokens = []
    starts = [m.start() for m in re.finditer(r"\^", text)] + [len(text)]
    if text[: starts[0]].strip():
        raise ZplError(f"text before the first command: {text[:starts[0]]!r}")
    for start, end in itertools.pairwise(starts):
        chunk = text[start:end]
        match = _COMMAND.match(chunk)
        if match is None:
            raise ZplError(f"unknown command at {chunk[:10]!r}")
        tokens.append((match.group(1), chunk[match.end():].rstrip("\r\n")))
    return tokens


def _code128_values(data: str) -> list[int]:
    """Turn ^BC mode-N field data (with invocation codes) into symbol values, start included."""
    invocations = {"0": 30, "<": 62, "=": 94, "5": 99, "6": 100, "9": 103, ":": 104, ";": 105}
    values: list[int] = []
    subset = "B"
    i = 0
    if data.startswith((">9", ">:", ">;")):
        values.append(invocations[data[1]])
        subset = {">9": "A", ">:": "B", ">;": "C"}[data[:2]]
        i = 2
    else:
        values.append(104)
    while i < len(data):
        if data[i] == ">":
            code = data[i + 1]
            value = invocations[code]
            if subset == "C" and code in "0<=":
                raise ZplError(f"invocation >{code} inside subset C")
            values.append(value)
            subset = {99: "C", 100: "B"}.get(value, subset) if code in "56" else subset
            if subset == "C" and code == "6":
                raise ZplError("bad subset switch")
            i += 2
        elif subset == "C":
            pair = data[i:i + 2]
            if len(pair) != 2 or not pair.isdigit():
                raise ZplError(f"subset C needs digit pairs, got {pair!r}")
            values.append(int(pair))
            i += 2
        else:
            values.append(ord(data[i]) - 32)
            i += 1
    return values


def _code128_modules(values: list[int]) -> list[bool]:
    check = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    modules: list[bool] = []
    for value in [*values, check, 106]:
        for element in RL_PATTERNS[value]:
            modules.extend([element.isupper()] * _WIDTHS[element.upper()])
    return modules


def _graphic(args: str) -> np.ndarray:
    parts = args.split(",", 4)
    if len(parts) != 5 or parts[0] != "A":
        raise ZplError(f"^GF must be ^GFA,b,c,d,data; got {args[:30]!r}")
    total, count, row_bytes = int(parts[1]), int(parts[2]), int(parts[3])
    if total != count or total % row_bytes:
        raise ZplError(f"^GF byte counts disagree: {total}, {count}, {row_bytes}")
    width = 2 * row_bytes
    rows: list[str] = []
    row, data, i = "", parts[4], 0
    while i < len(data):
        ch = data[i]
        repeat = 1
        if "G" <= ch <= "Y" or "g" <= ch <= "z":
            repeat = 0
            while i < len(data) and ("G" <= data[i] <= "Y" or "g" <= data[i] <= "z"):
                c = data[i]
                repeat += ord(c) - ord("F") if c <= "Y" else (ord(c) - ord("f")) * 20
                i += 1
            ch = data[i]
        if ch == ",":
            row = row.ljust(width, "0")
        elif ch == "!":
            row = row.ljust(width, "F")
        elif ch == ":":
            if row or not rows:
                raise ZplError("':' must follow a complete row")
            row = rows[-1]
        elif ch in "0123456789ABCDEF":
            row += ch * repeat
        else:
            raise ZplError(f"bad character {ch!r} in ^GF data")
        if len(row) > width:
            raise ZplError("a ^GF row is longer than its byte count")
        if len(row) == width:
            rows.append(row)
            row = ""
        i += 1
    if row or len(rows) != total // row_bytes:
        raise ZplError(f"^GF holds {len(rows)} rows, expected {total // row_bytes}")
    packed = np.array([list(bytes.fromhex(r)) for r in rows], dtype=np.uint8)
    return np.unpackbits(packed, axis=1).astype(bool)


def _paint(label: Label, x: int, y: int, image: np.ndarray) -> None:
    height, width = image.shape
    if x < 0 or y < 0 or x + width > label.dots.shape[1] or y + height > label.dots.shape[0]:
        raise ZplError(f"a field at ({x},{y}) of {width}x{height} dots runs off the "
                       f"{label.dots.shape[1]}x{label.dots.shape[0]} label")
    label.dots[y:y + height, x:x + width] |= image


def render(text: str) -> list[Label]:
    """Render every ^XA..^XZ format of ``text``."""
    labels: list[Label] = []
    state: dict[str, object] | None = None
    for command, args in _tokens(text):
        if command == "XA":
            if state is not None:
                raise ZplError("^XA inside a format")
            state = {"pw": None, "ll": None, "lh": (0, 0), "fo": None, "by": (2, 3, 10), "field": None,
                     "data": None}
            continue
        if state is None:
            raise ZplError(f"^{command} outside ^XA..^XZ")
        if command == "XZ":
            if state["field"] is not None or state["data"] is not None:
                raise ZplError("^XZ with an open field")
            if "label" not in state:
                raise ZplError("a format without ^PW and ^LL")
            labels.append(state["label"])  # type: ignore[arg-type]
            state = None
        elif command == "CI":
            if args != "28":
                raise ZplError(f"expected ^CI28 (UTF-8), got ^CI{args}")
        elif command in ("PW", "LL"):
            state[command.lower()] = int(args)
            if state["pw"] and state["ll"]:
                state["label"] = Label(np.zeros((state["ll"], state["pw"]), dtype=bool))  # type: ignore[arg-type]
        elif command == "LH":
            state["lh"] = tuple(int(v) for v in args.split(","))
        elif command == "FO":
            x, y = (int(v) for v in args.split(","))
            lh = state["lh"]
            state["fo"] = (lh[0] + x, lh[1] + y)  # type: ignore[index]
        elif command == "BY":
            state["by"] = tuple(int(v) for v in args.split(","))
        elif command in ("BC", "BX"):
            state["field"] = (command, args.split(","))
        elif command == "FX":
            label = state.get("label")
            if label is None:
                raise ZplError("^FX before ^PW/^LL")
            label.comments.append(args)  # type: ignore[attr-defined]
        elif command == "GF":
            state["field"] = ("GF", _graphic(args))
        elif command == "FD":
            if state["data"] is not None:
                raise ZplError("^FD without ^FS")
            state["data"] = args
        elif command == "FS":
            _field(state)
        elif command == "PQ":
            if args != "1":
                raise ZplError(f"expected ^PQ1, got ^PQ{args}")
        else:
            raise ZplError(f"^{command} is not understood")
    if state is not None:
        raise ZplError("^XA without ^XZ")
    return labels


def _field(state: dict[str, object]) -> None:
    label: Label = state["label"]  # type: ignore[assignment]
    if state["fo"] is None or state["field"] is None:
        raise ZplError("^FS without ^FO and a field command")
    x, y = state["fo"]  # type: ignore[misc]
    kind, args = state["field"]  # type: ignore[misc]
    data = state["data"]
    if kind == "GF":
        if data is not None:
            raise ZplError("^GF takes no ^FD")
        _paint(label, x, y, args)
        label.graphics.append((x, y, args.shape[1], args.shape[0]))
    elif kind == "BC":
        orientation, height, line, above, ucc, mode = args
        if (orientation, line, above, ucc, mode) != ("N", "N", "N", "N", "N"):
            raise ZplError(f"unexpected ^BC parameters {args}")
        module = state["by"][0]  # type: ignore[index]
        modules = _code128_modules(_code128_values(data))  # type: ignore[arg-type]
        image = np.repeat(np.array(modules, dtype=bool)[None, :], int(height), axis=0)
        _paint(label, x, y, np.repeat(image, module, axis=1))
        label.code128.append(data)  # type: ignore[arg-type]
    elif kind == "BX":
        orientation, module, quality, columns, rows = args[:5]
        if orientation != "N" or quality != "200":
            raise ZplError(f"unexpected ^BX parameters {args}")
        symbol = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)
        grid = np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128
        if grid.shape != (int(rows), int(columns)):
            raise ZplError(f"^BX asks for {rows}x{columns} modules; {data!r} needs {grid.shape}")
        size = int(module)
        _paint(label, x, y, np.kron(grid, np.ones((size, size), dtype=bool)).astype(bool))
        label.datamatrix.append(data)  # type: ignore[arg-type]
    state["fo"], state["field"], state["data"] = None, None, None


def to_image(label: Label, background: int = 255) -> np.ndarray:
    """Return the label as an 8-bit greyscale array (black dots on white)."""
    return np.where(label.dots, 0, background).astype(np.uint8)
