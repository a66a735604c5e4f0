"""Spreadsheet-safe files: every CSV and XLSX Trialbank writes goes through here.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is evaluated as a formula
by Excel, LibreOffice and Google Sheets when the file is opened ("CSV injection": a marker code
``=cmd|' /C calc'!A0`` imported from a lab file would run on the reader's machine). The rule, owned here:

- in CSV, such a text cell is written with a leading apostrophe (``'=1+2``), which spreadsheets show as text;
  text that merely spells a number (``-1.5``) and real numbers (negative ones included) are left alone;
- in XLSX, every text cell is a text cell (never a formula), and a neutralised one also carries the
  quote-prefix style, so editing it in Excel does not turn it into a formula either.

:func:`restore` undoes :func:`neutralise` exactly, for readers of files Trialbank wrote (catalogue, tables).
:func:`decode_text` is the one rule for the encodings of text files we are given (CSV exports of Excel, EDCs
and lab instruments).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FIRST = frozenset(("'", *TRIGGERS))
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an XLSX file cannot hold


def needs_neutralising(text: str) -> bool:
    """Tell whether a text cell would be evaluated by a spreadsheet (or is an apostrophe-escaped one)."""
    body = text.lstrip("'")
    if body[:1] not in TRIGGERS:
        return False
    return text[:1] == "'" or not _PLAIN_NUMBER.fullmatch(text)


def neutralise(value: Any) -> Any:
    """Return ``value`` safe for a spreadsheet: text that would start a formula gets a leading apostrophe."""
    if isinstance(value, str) and value and needs_neutralising(value):
        return "'" + value
    return value


def restore(text: str) -> str:
    """Undo :func:`neutralise` (for files Trialbank wrote and reads back)."""
    return text[1:] if text[:1] == "'" and needs_neutralising(text[1:]) else text


def neutralise_series(series: pd.Series) -> pd.Series:
    """Neutralise the text cells of a column (numbers, dates and missing values are left as they are)."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        if categories.dtype == object or pd.api.types.is_string_dtype(categories.dtype):
            return series.cat.rename_categories([neutralise(c) for c in categories])
        return series
    if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
        return series
    values = series.to_numpy(dtype=object)
    mask = np.fromiter((isinstance(v, str) and v[:1] in _FIRST for v in values), dtype=bool,
                       count=len(values))
    if not mask.any():
        return series
    out = values.copy()
    out[mask] = [neutralise(v) for v in values[mask]]
    return pd.Series(out, index=series.index, name=series.name)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and column names are spreadsheet-safe."""
    import pandas as pd

    out = frame.copy(deep=False)
    for i in range(out.shape[1]):
        out.isetitem(i, neutralise_series(out.iloc[:, i]))
    out.columns = [neutralise(str(c)) if isinstance(c, str) else c for c in out.columns]
    if out.index.name is not None:
        out.index = out.index.rename(neutralise(out.index.name))
    if out.index.dtype == object:
        out.index = pd.Index([neutralise(v) for v in out.index], name=out.index.name)
    return out


def frame_csv(frame: pd.DataFrame, **options: Any) -> str:
    """Write a DataFrame as CSV text with spreadsheet-safe cells (``options`` go to ``DataFrame.to_csv``)."""
    options.setdefault("index", False)
    return neutralise_frame(frame).to_csv(**options)


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, lineterminator: str = "\r\n") -> str:
    """Write a header and rows as CSV text with spreadsheet-safe cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([neutralise(c) for c in header])
    writer.writerows([neutralise(c) for c in row] for row in rows)
    return out.getvalue()


def _plain(value: Any) -> Any:
    """Turn a pandas/numpy cell into a value openpyxl writes (None for missing values)."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.replace(tzinfo=None)  # Excel has no time zones; Trialbank stores UTC
    if isinstance(value, (bool, int, float, date, str)):
        return value
    return str(value)


def frame_xlsx(frame: pd.DataFrame, *, sheet: str = "data") -> bytes:
    """Write a DataFrame as an XLSX workbook whose text cells are always text, never formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)

    def cell(value: Any) -> Any:
        value = _plain(value)
        if not isinstance(value, str):
            return value
        text = _XML_ILLEGAL.sub("\ufffd", value)
        out = WriteOnlyCell(ws, value=text)
        out.data_type = "s"  # openpyxl would store text starting with "=" as a formula
        if needs_neutralising(text):
            out.quotePrefix = True
        return out

    ws.append([cell(str(c)) for c in frame.columns])
    for row in frame.itertuples(index=False, name=None):
        ws.append([cell(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class TextError(ValueError):
    """A text file that cannot be decoded: where (line), what (the bytes) and why."""

    def __init__(self, line: int, value: str, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.value = value
        self.reason = reason


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def line_of(data: bytes, offset: int) -> int:
    """Return the line number (from 1; LF, CR LF or CR end a line) of byte ``offset`` of ``data``."""
    prefix = data[:offset]
    lines = len(prefix.splitlines())
    return lines + 1 if not prefix or prefix[-1:] in (b"\n", b"\r") else lines


def _refuse(data: bytes, exc: UnicodeDecodeError, reason: str) -> TextError:
    start = exc.start
    return TextError(line_of(data, start), repr(data[start:start + 4]), reason)


def decode_text(data: bytes) -> str:
    """Decode a text file: UTF-8 (BOM or not), UTF-16 with a BOM, or else Windows-1252/Latin-1.

    A file that declares or mostly is UTF-8 but holds bytes that are not (a Latin-1 cell pasted into a UTF-8
    file) is refused, naming the line: guessing would silently garble the other cells.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _refuse(data, exc,
                          "not valid UTF-16 text, although the file starts with a UTF-16 mark") from None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if body is not data or _UTF8_SEQUENCE.search(body):
            raise TextError(line_of(data, exc.start + len(data) - len(body)),
                            repr(body[exc.start:exc.start + 4]),
                            "not UTF-8: the file mixes encodings (save it again as UTF-8, e.g. 'CSV UTF-8' "
                            "in Excel)") from None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")
