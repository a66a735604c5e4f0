"""Read a results file (CSV or XLSX) into text-valued DataFrame chunks, or say exactly why it cannot be read.

The format is decided by the content, not the name: a zip archive is a workbook, anything else is CSV text
(a text file named ``.xlsx`` is refused). CSV is streamed with Arrow (comma, semicolon with decimal commas,
or tab; LF, CR LF or CR line ends; UTF-8, or else the encodings :func:`lims.core.spreadsheet.decode_text`
accepts). Every chunk carries ``_row``: the line (CSV) or row (XLSX) number of each record, header = 1.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from lims.core.spreadsheet import TextError, decode_text, line_of

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

BLOCK_BYTES = 16 << 20  # CSV read in blocks of this size (streamed, never the whole file as text)
MAX_CELL = 32_768  # characters in one cell (Excel's own limit); no lab value comes near it
MAX_WORKBOOK_BYTES = 512 << 20  # uncompressed size of a workbook's parts (a zip bomb is refused)
SAMPLE_ALIASES = ("sample", "accession", "accession_id", "sample_accession", "sample_id")
META_COLUMNS = ("run_id", "batch_id", "plate_id", "assay_date", "operator", "remeasurement")
LONG_REQUIRED = ("sample", "marker", "value", "unit")
_NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_DELIMITERS = (",", ";", "\t")


class Unreadable(Exception):
    """The file (or one row of it) cannot be read; nothing of it is used."""

    def __init__(self, reason: str, *, row: int | None = None, column: str | None = None,
                 value: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.row, self.column, self.value = reason, row, column, value


def normalise_header(columns: list[str]) -> list[str]:
    """Map the file's column names to the importer's (sample aliases, lower-case meta columns)."""
    out = []
    for c in columns:
        key = str(c).strip()
        low = key.lower().replace(" ", "_")
        if low in SAMPLE_ALIASES:
            out.append("sample")
        elif low in (*LONG_REQUIRED, "qualifier", *META_COLUMNS):
            out.append(low)
        else:
            out.append(key)
    return out


def _check_header(header: list[str]) -> None:
    if not any(h.strip() for h in header):
        raise Unreadable("the header row is empty: the first row names the columns", row=1)
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if len(name) > 200:
            raise Unreadable("a column name longer than 200 characters", row=1, column=f"column {position}",
                             value=name)
        if not name.strip():
            raise Unreadable("a column without a name", row=1, column=f"column {position}", value="")
        if name.strip().lower() in seen:
            raise Unreadable("the column appears more than once", row=1, column=name.strip(), value=name)
        seen.add(name.strip().lower())


# ----- CSV --------------------------------------------------------------------------------------------------
def _first_line(data: bytes) -> bytes:
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    return data[:min(ends)] if ends else data


def _record_lines(data: bytes) -> np.ndarray | None:
    """Return the line number of each record when the file has blank lines (Arrow skips them), else None."""
    import numpy as np

    if b"\n\n" not in data and b"\r\r" not in data and b"\n\r\n" not in data:
        return None
    lines = data.splitlines()
    return np.array([i for i, line in enumerate(lines, start=1) if line][1:], dtype=np.int64)


def _locate(text: str, delimiter: str, width: int) -> Unreadable:
    """Find the first row that does not have the header's number of cells (Arrow does not say which)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            if reader.line_num > 1 and cells and len(cells) != width:
                return Unreadable(f"the row has {len(cells)} cells, the header {width}", row=reader.line_num,
                                  value=delimiter.join(cells)[:200])
    except csv.Error as exc:
        return Unreadable(f"not valid CSV: {exc}", row=reader.line_num + 1)
    return Unreadable("not valid CSV (a quote is not closed, or a row is longer than 16 MB)")


def _refuse_nul(data: bytes) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        raise Unreadable("the file holds NUL bytes: it is not a text (CSV) file", row=line_of(data, nul))


def _as_utf8(data: bytes) -> bytes:
    """Return the file as UTF-8 bytes without a BOM (refusing what cannot be decoded, with its line)."""
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        pass
    try:
        return decode_text(data).encode("utf-8")
    except TextError as exc:
        raise Unreadable(exc.reason, row=exc.line, value=exc.value) from None


def _csv_batches(data: bytes) -> Iterator[pd.DataFrame]:
    """Stream a CSV with Arrow: text columns arrive dictionary-encoded (one Python string per distinct value),
    and the value column is parsed to numbers in C++; only cells that are not plain numbers stay as text."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _refuse_nul(data)
    data = _as_utf8(data)
    _refuse_nul(data)
    line = _first_line(data).decode("utf-8")
    delimiter = max(_DELIMITERS, key=line.count) if any(d in line for d in _DELIMITERS) else ","
    try:
        header = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise Unreadable(f"the header row is not valid CSV: {exc}", row=1) from None
    _check_header(header)
    names = normalise_header([h.strip() for h in header])
    types = {h: (pa.string() if n == "value" else pa.dictionary(pa.int32(), pa.string()))
             for h, n in zip(header, names, strict=True)}
    lines = _record_lines(data)
    try:
        reader = pacsv.open_csv(
            io.BytesIO(data), read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False))
        start = 0
        for batch in reader:
            frame = _frame(batch, names, decimal_comma=delimiter == ";")
            index = np.arange(start, start + len(frame), dtype=np.int64)
            frame["_row"] = lines[index] if lines is not None and len(lines) >= start + len(
                frame) else index + 2
            start += len(frame)
            yield frame
    except pa.ArrowInvalid as exc:
        if "Expected" in str(exc) or "CSV parse error" in str(exc) or "straddling" in str(exc):
            raise _locate(data.decode("utf-8"), delimiter, len(header)) from None
        raise Unreadable(f"cannot read the file: {exc}") from None


def _frame(batch: pa.RecordBatch, names: list[str], *, decimal_comma: bool) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, Any] = {}
    for name, array in zip(names, batch.columns, strict=True):
        if name == "value":
            if decimal_comma:
                array = pc.replace_substring(array, ",", ".")
            plain = pc.match_substring_regex(array, _NUMBER)
            numbers = pc.cast(pc.utf8_trim_whitespace(pc.if_else(plain, array, "0")), pa.float64())
            numbers = pc.if_else(plain, numbers, float("nan")).to_numpy(zero_copy_only=False)
            raw = np.full(len(array), None, dtype=object)
            odd = np.flatnonzero(~np.isfinite(numbers))  # keep the text of odd cells (and of 1e999)
            if odd.size:
                raw[odd] = np.array(array.take(pa.array(odd)).to_pylist(), dtype=object)
            columns["value"] = raw
            columns["_value_num"] = numbers
        else:
            columns[name] = array.to_pandas()
    return pd.DataFrame(columns)


# ----- XLSX -------------------------------------------------------------------------------------------------
def _cell_text(value: Any) -> str:
    """Turn a workbook cell into the text a CSV export of it would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def _open_workbook(data: bytes) -> Any:
    """Open a workbook after checking that it is one, complete, and of a sane size."""
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "xl/workbook.xml" not in names:
                raise Unreadable("a zip archive without an Excel workbook in it (save the sheet as .xlsx or "
                                 "CSV)")
            if sum(info.file_size for info in archive.infolist()) > MAX_WORKBOOK_BYTES:
                raise Unreadable(f"the workbook unpacks to more than {MAX_WORKBOOK_BYTES >> 20} MB")
            damaged = archive.testzip()
            if damaged is not None:
                raise Unreadable(f"the workbook is damaged ({damaged} fails its checksum)")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise Unreadable(f"the workbook is damaged or truncated ({exc})") from None
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a malformed workbook
        raise Unreadable(f"cannot read the workbook: {type(exc).__name__}: {exc}") from None


def _xlsx_frame(data: bytes) -> pd.DataFrame:
    """Read the first sheet of a workbook as text, keeping each record's row number."""
    import numpy as np
    import pandas as pd

    book = _open_workbook(data)
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions; read every row there is
        rows = sheet.iter_rows(values_only=True)
        header = [_cell_text(v).strip() for v in next(rows, ())]
        while header and header[-1] == "":
            header.pop()
        _check_header(header)
        width = len(header)
        records: list[list[str]] = []
        numbers: list[int] = []
        for number, values in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in values]
            if not any(c.strip() for c in cells):
                continue
            if any(c.strip() for c in cells[width:]):
                raise Unreadable(f"the row has cells beyond the header's {width} columns", row=number)
            records.append((cells + [""] * width)[:width])
            numbers.append(number)
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed sheet part surfaces while rows are read
        raise Unreadable(f"cannot read the workbook: {type(exc).__name__}: {exc}") from None
    finally:
        book.close()
    frame = pd.DataFrame(records, columns=normalise_header(header), dtype=object)
    frame["_row"] = np.array(numbers, dtype=np.int64)
    return frame


# ----- either -----------------------------------------------------------------------------------------------
def _too_long(frame: pd.DataFrame) -> None:
    import pandas as pd

    for column in frame.columns:
        if column in ("_row", "_value_num"):
            continue
        values = frame[column]
        texts = values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype) else values.dropna()
        lengths = pd.Series(texts, dtype=object).map(lambda v: len(v) if isinstance(v, str) else 0)
        if len(lengths) and lengths.max() > MAX_CELL:
            long = pd.Series(texts, dtype=object)[lengths > MAX_CELL].iloc[0]
            at = frame.loc[frame[column].astype(object) == long, "_row"].iloc[0]
            raise Unreadable(f"a cell of {len(long):,} characters (at most {MAX_CELL:,})", row=int(at),
                             column=str(column), value=long)


def chunks(data: bytes, filename: str) -> Iterator[pd.DataFrame]:
    """Yield the file as text-valued DataFrame chunks with a ``_row`` column; raise Unreadable if it is
    not."""
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        frames: Iterator[pd.DataFrame] = iter([_xlsx_frame(data)])
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise Unreadable("an old Excel 97-2003 (.xls) file: save it as .xlsx or CSV")
    elif re.search(r"\.xls[xm]?$", filename, re.IGNORECASE):
        raise Unreadable("not an Excel workbook, although the name ends in .xlsx (is it a CSV file renamed?)")
    else:
        frames = _csv_batches(data)
    for frame in frames:
        _too_long(frame)
        yield frame
