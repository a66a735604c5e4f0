"""Bulk insert of validated marker results, always on the unit of work's own connection and inside its
transaction (the rows roll back with it).

- SQLite, a large file: Arrow's ADBC driver writes the rows, bound in C, into a private staging file (a new
  database of its own, so no lock on the LIMS database is taken), which the session's connection attaches and
  copies with one ``INSERT INTO marker_result ... SELECT``: constraints, foreign keys and indexes apply as for
  any insert. SQLite cannot detach a database read in an open transaction, so the staging schema stays
  attached until the connection goes back to the pool (:mod:`lims.core.database` detaches it there); its file
  is unlinked as soon as the rows are copied.
- SQLite, a small file (or when ADBC is missing): one prepared INSERT run by ``executemany`` over the rows,
  fed block by block from the arrays.
- PostgreSQL: COPY FROM STDIN of CSV that Arrow writes in C++.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from lims.core import versions
from lims.core.database import STAGED, STAGING_PREFIX
from lims.markers.models import MarkerResult

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

log = logging.getLogger(__name__)

INSERT_COLUMNS = ("sample_id", "marker_id", "import_id", "value", "qualifier", "original_value",
                  "original_unit", "replicate", "run_id", "batch_id", "plate_id", "assay_date", "operator")
INSERT_BLOCK = 65_536  # rows turned into Python values at a time (memory stays bounded on a long file)
STAGE_MIN_ROWS = 20_000  # below this the staging file costs more than it saves
_NAMES = ", ".join(INSERT_COLUMNS)
_INSERT_VALUES = (f"INSERT INTO marker_result ({_NAMES}) "  # noqa: S608 - our own column names
                  f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})")
COPY_CACHE_KIB = -65_536  # page cache of the connection during the copy (negative: KiB), then restored
MAX_ATTACHED = 8  # SQLite's default limit is 10 attached databases per connection


def columns(data: dict[str, np.ndarray], replicate: np.ndarray, import_id: int) -> dict[str, np.ndarray]:
    """The validated rows as one array per marker_result column (NaN marks a missing number)."""
    import numpy as np

    return {"sample_id": data["sample_id"], "marker_id": data["marker_id"],
            "import_id": np.full(len(replicate), import_id, dtype=np.int64), "value": data["value"],
            "qualifier": data["qualifier"], "original_value": data["original_value"],
            "original_unit": data["original_unit"], "replicate": replicate,
            **{c: data[c] for c in ("run_id", "batch_id", "plate_id", "assay_date", "operator")}}


def _block_values(column: np.ndarray) -> list[Any]:
    """One block of a column as Python values (None for NaN and for missing text)."""
    import numpy as np

    out = column.tolist()
    if column.dtype.kind == "f":
        for i in np.flatnonzero(np.isnan(column)).tolist():
            out[i] = None
    return out


def _row_tuples(cols: dict[str, np.ndarray], n: int) -> Iterator[tuple[Any, ...]]:
    """Yield the rows as tuples, block by block: only one block's Python objects exist at a time."""
    for start in range(0, n, INSERT_BLOCK):
        yield from zip(*(_block_values(cols[c][start:start + INSERT_BLOCK]) for c in INSERT_COLUMNS),
                       strict=True)


def arrow_table(cols: dict[str, np.ndarray]) -> pa.Table:
    """The rows as an Arrow table (NaN and None become nulls)."""
    import pyarrow as pa

    return pa.table({c: pa.array(cols[c], from_pandas=True) if cols[c].dtype.kind != "O"
                     else pa.array(cols[c], type=pa.string(), from_pandas=True) for c in INSERT_COLUMNS})


def _arrow_blocks(cols: dict[str, np.ndarray], n: int) -> pa.RecordBatchReader:
    """The rows as a stream of Arrow blocks: only one block's text is converted at a time."""
    import pyarrow as pa

    def blocks() -> Iterator[pa.RecordBatch]:
        for start in range(0, n, INSERT_BLOCK):
            block = {c: cols[c][start:start + INSERT_BLOCK] for c in INSERT_COLUMNS}
            yield from arrow_table(block).to_batches()

    schema = arrow_table({c: cols[c][:0] for c in INSERT_COLUMNS}).schema
    return pa.RecordBatchReader.from_batches(schema, blocks())


def _write_staging(cols: dict[str, np.ndarray]) -> str | None:
    """Write the rows with ADBC into a new scratch database file; its path, or None if that failed (a full
    temporary disk, a driver error): the caller then inserts with executemany."""
    try:
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    path = None
    try:
        fd, path = tempfile.mkstemp(prefix="lims-import-", suffix=".db")
        os.close(fd)
        with adbc.connect(path, autocommit=True) as staging, staging.cursor() as cur:
            cur.execute("PRAGMA journal_mode=OFF")  # a scratch file: nothing to recover after a crash
            cur.execute("PRAGMA synchronous=OFF")
            cur.adbc_ingest("rows", _arrow_blocks(cols, len(cols["replicate"])), mode="create")
    except (OSError, adbc.Error) as exc:
        log.warning("marker import: no staging file (%s); inserting row by row", exc)
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return None
    return path


def _sqlite_staged(conn: Any, raw: Any, cols: dict[str, np.ndarray]) -> bool:
    """Insert through a staging file written by ADBC; False (nothing done) when that is not possible."""
    if len(raw.execute("PRAGMA database_list").fetchall()) >= MAX_ATTACHED:
        return False  # many imports in one transaction: the attached staging files are not yet detached
    path = _write_staging(cols)
    if path is None:
        return False
    schema = f"{STAGING_PREFIX}{secrets.token_hex(8)}"
    conn.connection.info[STAGED] = True  # detached when the connection goes back to the pool
    cursor = raw.cursor()
    (cache,) = cursor.execute("PRAGMA cache_size").fetchone()
    try:
        cursor.execute(f'ATTACH DATABASE ? AS "{schema}"', (path,))
        cursor.execute(f"PRAGMA cache_size={COPY_CACHE_KIB}")  # the indexes' pages stay in memory
        cursor.execute(f'INSERT INTO marker_result ({_NAMES}) SELECT {_NAMES} '  # noqa: S608 - our names
                       f'FROM "{schema}".rows ORDER BY rowid')
    finally:
        cursor.execute(f"PRAGMA cache_size={int(cache)}")
        cursor.close()
        with contextlib.suppress(OSError):  # Windows keeps an open file; its temp dir is cleaned later
            os.unlink(path)  # the attached file stays readable until it is detached
    return True


def _sqlite_executemany(raw: Any, cols: dict[str, np.ndarray], n: int) -> None:
    cursor = raw.cursor()
    try:
        cursor.executemany(_INSERT_VALUES, _row_tuples(cols, n))
    finally:
        cursor.close()


def _postgres_copy(raw: Any, cols: dict[str, np.ndarray]) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = arrow_table(cols)
    with raw.cursor() as cur, \
            cur.copy(f"COPY marker_result ({_NAMES}) FROM STDIN (FORMAT csv)") as copy:
        for batch in table.to_batches(max_chunksize=INSERT_BLOCK):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False))
            copy.write(sink.getvalue().to_pybytes())


def insert_results(session: Session, cols: dict[str, np.ndarray], n: int) -> None:
    """Bulk insert the validated rows on the unit of work's own connection (inside its transaction)."""
    versions.bump(session, "markers")  # the rows go round the session, which would otherwise see no write
    conn = session.connection()
    raw = conn.connection.driver_connection
    assert raw is not None  # an open connection has its DB-API connection
    if conn.dialect.name == "sqlite":
        if n < STAGE_MIN_ROWS or not _sqlite_staged(conn, raw, cols):
            _sqlite_executemany(raw, cols, n)
        return
    if conn.dialect.name == "postgresql":
        _postgres_copy(raw, cols)
        return
    from datetime import date as _date

    rows = [dict(zip(INSERT_COLUMNS, row, strict=True)) for row in _row_tuples(cols, n)]
    for row in rows:
        row["assay_date"] = None if row["assay_date"] is None else _date.fromisoformat(row["assay_date"])
    conn.execute(insert(MarkerResult.__table__), rows)
