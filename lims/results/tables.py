"""Tables of the results pages as downloadable files (CSV, Excel, Word)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

MIMETYPES = {"csv": "text/csv",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


def export(table: pd.DataFrame, fmt: str, title: str) -> tuple[bytes, str]:
    """Return a Table 1 (from ``analysis.tables.table_one``) as CSV, XLSX or DOCX bytes and its mimetype."""
    from analysis import tables

    if fmt == "docx":
        note = ("n (%) of the participants with a value; median [interquartile range]; missing values "
                "counted apart.")
        return tables.to_docx(table, title, note=note), MIMETYPES[fmt]
    flat = table.reset_index()
    if fmt == "csv":
        return flat.to_csv(index=False).encode("utf-8"), MIMETYPES[fmt]
    buffer = io.BytesIO()
    flat.to_excel(buffer, index=False, sheet_name="Table 1", engine="openpyxl")
    return buffer.getvalue(), MIMETYPES[fmt]
