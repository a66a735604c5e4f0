"""Reading a marker export's results column-wise into Arrow, in blocks: COPY on PostgreSQL, the session's own
cursor on SQLite."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from lims.core.collector import gc_paused

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


READ_BLOCK = 65_536  # result rows converted at a time when they are read through the session's cursor
# SQLite reads this literal as +infinity: stands for a NULL value (results are always finite)
_NO_VALUE = "9e999"


def _row_dtype() -> Any:
    import numpy as np

    return np.dtype([("sample_id", np.int64), ("marker_id", np.int64), ("value", np.float64),
                     ("qualifier", object), ("replicate", np.int64), ("assay_ord", np.int64)])


def _packed_dtype() -> Any:
    import numpy as np

    return np.dtype([("sample_assay", np.int64), ("marker_replicate", np.int64), ("value", np.float64),
                     ("qualifier", object)])


# The session's cursor reads two integers packed in one where they fit: fewer Python objects per row (the
# cost of that read). sample id * 2**22 + assay ordinal + 1 (ordinals end at 3,652,059 = 9999-12-31 < 2**22);
# marker id * 2**32 + replicate (an INTEGER, >= 1).
_ASSAY_BITS, _REPLICATE_BITS = 22, 32


def _results_sql(dialect: str, marker_ids: list[int], *, scan: bool, packed: bool = False) -> str:
    """The results query: every column typed the same on every row (NULLs as sentinels, dates as ordinals).

    ``scan``: most markers are wanted, so SQLite reads the table in order instead of through the marker index
    (``+marker_id`` keeps the index out; a lookup per row would be slower than the scan). ``packed`` (SQLite):
    the columns of _packed_dtype, for the session's cursor.
    """
    placeholders = ", ".join(str(int(i)) for i in marker_ids) or "NULL"
    if dialect == "postgresql":
        return ("SELECT sample_id, marker_id, value, qualifier, replicate, "
                "coalesce(assay_date - date '0001-01-01' + 1, -1) AS assay_ord "
                f"FROM marker_result WHERE marker_id IN ({placeholders})")
    column = "+marker_id" if scan else "marker_id"
    assay = "ifnull(CAST(julianday(assay_date) - 1721424.5 AS INTEGER), -1)"
    if packed:
        return (f"SELECT sample_id * {2**_ASSAY_BITS} + {assay} + 1 AS sample_assay, "
                f"marker_id * {2**_REPLICATE_BITS} + replicate AS marker_replicate, "
                f"ifnull(value, {_NO_VALUE}) AS value, ifnull(qualifier, '') AS qualifier "
                f"FROM marker_result WHERE {column} IN ({placeholders})")
    return (f"SELECT sample_id, marker_id, ifnull(value, {_NO_VALUE}) AS value, ifnull(qualifier, '') AS "
            "qualifier, replicate, ifnull(CAST(julianday(assay_date) - 1721424.5 AS INTEGER), -1) AS "
            f"assay_ord FROM marker_result WHERE {column} IN ({placeholders})")


def _arrow_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {"sample_id": pa.int64(), "marker_id": pa.int64(), "value": pa.float64(), "qualifier": pa.string(),
            "replicate": pa.int64(), "assay_ord": pa.int64()}


def _arrays_from_arrow(table: pa.Table) -> dict[str, np.ndarray]:
    """Turn the Arrow result table into the arrays the export works on (NULL value = NaN, no qualifier =
    None)."""
    import numpy as np
    import pyarrow.compute as pc

    value = table["value"].to_numpy().astype(np.float64, copy=True)
    value[np.isinf(value)] = np.nan
    # Qualifiers: one Python string per distinct value, not per row ('' and NULL both mean none).
    encoded = pc.dictionary_encode(table["qualifier"]).combine_chunks()
    words = [w or None for w in encoded.dictionary.to_pylist()]
    codes = pc.fill_null(encoded.indices, len(words)).to_numpy()
    return {"sample_id": table["sample_id"].to_numpy(), "marker_id": table["marker_id"].to_numpy(),
            "value": value, "qualifier": np.array([*words, None], dtype=object)[codes],
            "replicate": table["replicate"].to_numpy(), "assay_ord": table["assay_ord"].to_numpy()}


def read_adbc_sqlite(path: str, sql: str) -> pa.Table:
    """Read the results with ADBC (a read-only connection of its own), batch by batch into Arrow."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    with adbc.connect(path) as con, con.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(READ_BLOCK)})
        cur.execute(sql)
        batches = [batch.cast(pa.schema(_arrow_types())) for batch in cur.fetch_record_batch()]
    return pa.Table.from_batches(batches, schema=pa.schema(_arrow_types()))


def _read_copy_postgresql(conn: Any, sql: str) -> pa.Table:
    """Read the results on the session's own PostgreSQL connection with COPY, parsed by Arrow's CSV reader."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    buffer = io.BytesIO()
    with conn.connection.driver_connection.cursor() as cur, \
            cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:  # no result rows: Arrow's CSV reader refuses an empty file
        return pa.Table.from_batches([], schema=pa.schema(_arrow_types()))
    buffer.seek(0)
    return pacsv.read_csv(buffer, read_options=pacsv.ReadOptions(column_names=list(_arrow_types())),
                          convert_options=pacsv.ConvertOptions(column_types=_arrow_types(),
                                                               strings_can_be_null=True,
                                                               quoted_strings_can_be_null=False))


def _read_cursor(conn: Any, marker_ids: list[int], *, scan: bool) -> Iterator[dict[str, np.ndarray]]:
    """Read the results through the session's DB-API cursor, block by block (sees the transaction's writes).

    Each block of row tuples becomes one structured array (numpy converts the tuples in C), then columns.
    """
    import numpy as np

    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(_results_sql("sqlite", marker_ids, scan=scan, packed=True))
        while True:
            with gc_paused():
                rows = cursor.fetchmany(READ_BLOCK)
                block = np.array(rows, dtype=_packed_dtype())
                del rows
            if not len(block):
                break
            value = block["value"].copy()
            value[np.isinf(value)] = np.nan
            qualifier = block["qualifier"].copy()
            qualifier[qualifier == ""] = None
            sample_assay, marker_replicate = block["sample_assay"], block["marker_replicate"]
            yield {"sample_id": sample_assay >> _ASSAY_BITS,
                   "marker_id": marker_replicate >> _REPLICATE_BITS, "value": value, "qualifier": qualifier,
                   "replicate": marker_replicate & (2**_REPLICATE_BITS - 1),
                   "assay_ord": (sample_assay & (2**_ASSAY_BITS - 1)) - 1}
    finally:
        cursor.close()


def concat_blocks(blocks: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Join result blocks into one set of columns (empty columns of the right types when there are none)."""
    import numpy as np

    blocks = list(blocks)
    if not blocks:
        return {name: np.zeros(0, dtype=_row_dtype()[name]) for name in _row_dtype().names}
    return {name: np.concatenate([b[name] for b in blocks]) for name in blocks[0]}


def result_blocks(session: Session, marker_ids: list[int], catalogue: int) -> Iterator[dict[str, np.ndarray]]:
    """Read the selected markers' results column-wise, block by block (the heavy part of an export).

    PostgreSQL: COPY on the session's connection, parsed by Arrow. SQLite: the session's own cursor, block by
    block. (An ADBC read of the SQLite file is faster, but from a second connection: a unit of work that read
    through it and then wrote failed with "database is locked", so ADBC stays the benchmarks' limit:
    read_adbc_sqlite.)
    """
    conn = session.connection()
    scan = 2 * len(marker_ids) >= catalogue
    if conn.dialect.name == "postgresql":
        import pyarrow as pa

        table = _read_copy_postgresql(conn, _results_sql("postgresql", marker_ids, scan=scan))
        for batch in table.to_batches(READ_BLOCK):
            yield _arrays_from_arrow(pa.Table.from_batches([batch], schema=table.schema))
    else:
        yield from _read_cursor(conn, marker_ids, scan=scan)


def results_arrays(session: Session, marker_ids: list[int], catalogue: int) -> dict[str, np.ndarray]:
    """Every selected result at once (the long form has a row per result)."""
    return concat_blocks(result_blocks(session, marker_ids, catalogue))
