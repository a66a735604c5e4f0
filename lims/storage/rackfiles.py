"""Read the files 2D rack readers write: FluidX/Brooks, Thermo VisionMate, Micronic and Ziath DataPaq.

The format is recognised from the file itself, never from its name:

- **FluidX / Brooks** (IntelliCode, Perception): no header; ``A01,FX05653780`` per line, or with the rack
  barcode first, ``SA00012345,A01,FX05653780``. Readers write the positions column by column (A1, B1, C1 ...).
- **Thermo VisionMate**: a header naming ``LocationRow``, ``LocationColumn`` and ``TubeCode`` (a
  ``LocationCell`` such as ``A01``, the rack barcode, date and time may come with them).
- **Micronic** (code readers, Traxcer): a first line with the rack barcode (``Rack ID: 1234567890``, or the
  barcode alone), then a header with ``Position`` and ``Tube ID``.
- **Ziath DataPaq**: the columns are configurable; a header naming the tube barcode and the position (or the
  row and the column), optionally the rack barcode and a status.

Positions may be written ``A1``, ``A01`` or as a running number; running numbers go row by row (A1, A2 ...)
unless the reader numbers column by column (A1, B1 ...), which the caller says. Racks are 96 (8 x 12) or 48
(6 x 8) tubes: the caller passes the box's grid and every position must fall in it. A tube a reader could not
decode reads ``NO READ`` (also ``NOREAD``, ``No Read``, ``ERROR``); an empty position reads ``NO TUBE``,
``EMPTY`` or nothing. A file that cannot be read is refused with the line, the field and the reason.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

MAX_BYTES = 1_000_000
MAX_LINES = 5000
NO_READ = frozenset({"NO READ", "NOREAD", "NO_READ", "NO-READ", "ERROR", "FAILED", "UNREADABLE", "?"})
EMPTY = frozenset({"", "NO TUBE", "NOTUBE", "NO_TUBE", "EMPTY", "NONE", "-"})
NUMBERINGS = ("row", "column")
_CELL = re.compile(r"^([A-Za-z])\s*0*(\d{1,2})$")
_RACK_LINE = re.compile(
    r"^\s*(?:rack(?:\s*(?:id|barcode|code))?\s*[:=,;\t]\s*)?([A-Za-z0-9_\-]{3,40})\s*[,;\t]*\s*$",
                        re.IGNORECASE)


class RackFileError(ValueError):
    """A rack file that cannot be read: names the line, the field and the reason."""

    def __init__(self, reason: str, *, line: int | None = None, field: str | None = None) -> None:
        where = f"line {line}" if line is not None else "file"
        super().__init__(f"{where}{f', {field}' if field else ''}: {reason}")
        self.line, self.field, self.reason = line, field, reason


@dataclass(frozen=True)
class RackCell:
    """One position of a scanned rack: a tube code, a no-read, or empty."""

    row: int
    col: int
    state: str  # "tube", "no_read" or "empty"
    code: str | None
    line: int


@dataclass
class RackFile:
    """A rack reader's file, read: which reader wrote it, the rack barcode and every position it reported."""

    vendor: str
    rows: int
    cols: int
    rack_barcode: str | None = None
    cells: dict[tuple[int, int], RackCell] = field(default_factory=dict)

    @property
    def tubes(self) -> dict[str, RackCell]:
        return {c.code: c for c in self.cells.values() if c.state == "tube" and c.code}


# Header names, lower-cased and without spaces or underscores.
_TUBE = ("tubecode", "tubebarcode", "tubeid", "tube", "barcode", "tubebc", "sampleid", "code")
_POSITION = ("position", "tubeposition", "locationcell", "well", "cell", "location", "pos", "coordinate")
_ROW = ("locationrow", "tuberow", "row")
_COLUMN = ("locationcolumn", "tubecolumn", "column", "col")
_RACK = ("rackbarcode", "rackid", "tuberackbarcode", "rack", "rackcode", "racknumber")
_STATUS = ("status", "tubestatus", "result")


def _key(name: str) -> str:
    return re.sub(r"[\s_\-.]", "", name.strip().lower())


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    keys = [_key(h) for h in header]
    for name in names:
        if name in keys:
            return keys.index(name)
    return None


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RackFileError(f"the file is {len(data)} bytes; a rack file is at most {MAX_BYTES}")
    if b"\x00" in data:
        raise RackFileError("this is not a text file (it contains NUL bytes): export the scan as CSV or text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _rows(text: str) -> list[tuple[int, list[str]]]:
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise RackFileError(f"the file has {len(lines)} lines; a rack file has at most {MAX_LINES}")
    sample = "\n".join(line for line in lines[:20] if line.strip())
    delimiter = max((",", ";", "\t"), key=sample.count) if sample else ","
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))
        except csv.Error as exc:
            raise RackFileError(f"not a CSV line: {exc}", line=number, field="format") from None
        out.append((number, [f.strip() for f in fields]))
    if not out:
        raise RackFileError("the file is empty")
    return out


class _Grid:
    def __init__(self, rows: int, cols: int, numbering: str) -> None:
        if numbering not in NUMBERINGS:
            raise RackFileError(f"numbering must be one of {', '.join(NUMBERINGS)}, got {numbering!r}")
        self.rows, self.cols, self.numbering = rows, cols, numbering

    def last(self) -> str:
        return f"{chr(64 + self.rows)}{self.cols}"

    def position(self, text: str, line: int, name: str = "position") -> tuple[int, int]:
        value = text.strip()
        if value.isdigit():
            n = int(value)
            if not 1 <= n <= self.rows * self.cols:
                raise RackFileError(f"position {n} is outside a {self.rows} x {self.cols} rack "
                                    f"(1 to {self.rows * self.cols})", line=line, field=name)
            if self.numbering == "column":
                return (n - 1) % self.rows + 1, (n - 1) // self.rows + 1
            return (n - 1) // self.cols + 1, (n - 1) % self.cols + 1
        match = _CELL.match(value)
        if match is None:
            raise RackFileError(f"{value!r} is not a rack position (A1, A01 or a number)", line=line,
                                field=name)
        return self.check(ord(match.group(1).upper()) - 64, int(match.group(2)), line, value, name)

    def check(self, row: int, col: int, line: int, shown: str, name: str) -> tuple[int, int]:
        if not (1 <= row <= self.rows and 1 <= col <= self.cols):
            raise RackFileError(f"position {shown} is outside a {self.rows} x {self.cols} rack (A1 to "
                                f"{self.last()})",
                                line=line, field=name)
        return row, col

    def row_col(self, row_text: str, col_text: str, line: int) -> tuple[int, int]:
        r = row_text.strip().upper()
        if len(r) == 1 and r.isalpha():
            row = ord(r) - 64
        elif r.isdigit():
            row = int(r)
        else:
            raise RackFileError(f"{row_text!r} is not a row (a letter such as C, or a number)", line=line,
                                field="row")
        if not col_text.strip().isdigit():
            raise RackFileError(f"{col_text!r} is not a column number", line=line, field="column")
        return self.check(row, int(col_text), line, f"{r}{int(col_text)}", "row/column")


def _state(raw: str, status: str | None = None) -> tuple[str, str | None]:
    text = raw.strip()
    upper = " ".join(text.upper().split())
    if status is not None and _key(status) in ("noread", "error", "failed", "unreadable"):
        return "no_read", None
    if upper in NO_READ:
        return "no_read", None
    if upper in EMPTY or (status is not None and _key(status) in ("empty", "notube")):
        return "empty", None
    return "tube", text


def _add(rack: RackFile, row: int, col: int, raw: str, line: int, status: str | None = None) -> None:
    state, code = _state(raw, status)
    if (row, col) in rack.cells:
        earlier = rack.cells[(row, col)].line
        raise RackFileError(f"position {chr(64 + row)}{col} is listed twice (also on line {earlier})",
                            line=line, field="position")
    if code is not None:
        other = rack.tubes.get(code)
        if other is not None:
            raise RackFileError(f"tube {code} is read at two positions ({chr(64 + other.row)}{other.col} on "
                                f"line {other.line}, and here)", line=line, field="tube")
    rack.cells[(row, col)] = RackCell(row, col, state, code, line)


def _rack_barcode(rack: RackFile, value: str, line: int) -> None:
    value = value.strip()
    if not value:
        return
    if rack.rack_barcode is None:
        rack.rack_barcode = value
    elif rack.rack_barcode != value:
        raise RackFileError(f"rack barcode {value!r} differs from {rack.rack_barcode!r} on the lines before: "
                            "one file holds one rack", line=line, field="rack")


def _headed(rows: list[tuple[int, list[str]]], grid: _Grid, vendor: str) -> RackFile:
    (header_line, header), body = rows[0], rows[1:]
    rack = RackFile(vendor=vendor, rows=grid.rows, cols=grid.cols)
    tube, pos = _find(header, _TUBE), _find(header, _POSITION)
    row_i, col_i = _find(header, _ROW), _find(header, _COLUMN)
    rack_i, status_i = _find(header, _RACK), _find(header, _STATUS)
    if tube is None:
        raise RackFileError(f"the header names no tube column ({', '.join(header)}); expected e.g. TubeCode, "
                            "Tube ID or Tube Barcode", line=header_line, field="header")
    if pos is None and (row_i is None or col_i is None):
        raise RackFileError(f"the header names no position column ({', '.join(header)}); expected Position "
                            "or LocationRow and LocationColumn", line=header_line, field="header")
    width = len(header)
    for line, fields in body:
        if len(fields) < width:
            fields = fields + [""] * (width - len(fields))
        if len(fields) > width and any(fields[width:]):
            raise RackFileError(f"{len(fields)} fields where the header has {width}", line=line,
                                field="columns")
        if row_i is not None and col_i is not None:
            row, col = grid.row_col(fields[row_i], fields[col_i], line)
        else:
            assert pos is not None
            row, col = grid.position(fields[pos], line)
        if rack_i is not None:
            _rack_barcode(rack, fields[rack_i], line)
        _add(rack, row, col, fields[tube], line, fields[status_i] if status_i is not None else None)
    return rack


def _fluidx(rows: list[tuple[int, list[str]]], grid: _Grid) -> RackFile:
    rack = RackFile(vendor="FluidX / Brooks", rows=grid.rows, cols=grid.cols)
    for line, fields in rows:
        if len(fields) == 3 and fields[2] == "" and _looks_like_position(fields[0]):
            fields = fields[:2]  # "A01,FX123," : a trailing comma, not a rack barcode
        if len(fields) == 2:
            position, tube = fields
        elif len(fields) == 3:
            _rack_barcode(rack, fields[0], line)
            position, tube = fields[1], fields[2]
        else:
            raise RackFileError(f"expected 'position,tube' or 'rack,position,tube', got {len(fields)} fields",
                                line=line, field="columns")
        row, col = grid.position(position, line)
        _add(rack, row, col, tube, line)
    return rack


def _looks_like_position(text: str) -> bool:
    return bool(_CELL.match(text.strip())) or text.strip().isdigit()


def parse_rack_file(data: bytes, *, rows: int, cols: int, numbering: str = "row") -> RackFile:
    """Read a rack reader's file for a rack of ``rows`` x ``cols``; raise RackFileError naming line and
    field."""
    grid = _Grid(rows, cols, numbering)
    table = _rows(_decode(data))
    first_line, first = table[0]
    keys = {_key(f) for f in first}
    if {"locationrow", "locationcolumn", "tubecode"} <= keys:
        return _headed(table, grid, "Thermo VisionMate")
    if len(table) > 1 and _find(table[1][1], _TUBE) is not None and (
            len([f for f in first if f]) == 1 or _key(first[0]).startswith("rack")):
        match = _RACK_LINE.match(",".join(first))
        if match is None:
            raise RackFileError(f"{','.join(first)!r} is not a rack barcode: a Micronic file starts with the "
                                "rack barcode, then a header with Position and Tube ID", line=first_line,
                                field="rack")
        rack = _headed(table[1:], grid, "Micronic")
        rack.rack_barcode = match.group(1)
        return rack
    if _find(first, _TUBE) is not None and (_find(first, _POSITION) is not None
                                            or (_find(first, _ROW) is not None
                                                and _find(first, _COLUMN) is not None)):
        return _headed(table, grid, "Ziath DataPaq")
    if len(first) in (2, 3) and _looks_like_position(first[-2]):
        return _fluidx(table, grid)
    raise RackFileError("not a rack-reader file: expected lines like 'A01,FX12345678' (FluidX), or a header "
                        "naming the position and tube columns (VisionMate, Micronic, Ziath DataPaq)",
                        line=first_line,
                        field="format")
