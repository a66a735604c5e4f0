"""The Arrow paths of import and export: block-wise inserts, and the ADBC and cursor reads agreeing."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from lims.core.database import make_engine
from lims.markers import export_read, importer
from lims.markers.models import MarkerResult

ROWS = [
    {"id": 1, "sample_id": 7, "marker_id": 2, "value": 1.25, "qualifier": None, "replicate": 1,
     "assay_date": date(2025, 3, 1)},
    {"id": 2, "sample_id": 7, "marker_id": 3, "value": None, "qualifier": "<LOD", "replicate": 1,
     "assay_date": None},
    {"id": 3, "sample_id": 8, "marker_id": 2, "value": 4e-9, "qualifier": ">ULOQ", "replicate": 2,
     "assay_date": date(1999, 12, 31)},
    {"id": 4, "sample_id": 9, "marker_id": 5, "value": 2.0, "qualifier": None, "replicate": 1,
     "assay_date": date(2025, 3, 2)},
    # the far ends of what the cursor packs two to an integer: ids, replicates, the last date
    {"id": 5, "sample_id": 2**40, "marker_id": 5, "value": -1e300, "qualifier": "NA", "replicate": 2**31 - 1,
     "assay_date": date(9999, 12, 31)},
]


@pytest.fixture()
def results_file(tmp_path: Path):
    """A SQLite file holding marker_result's columns with NULLs, qualifiers and dates (committed)."""
    path = str(tmp_path / "results.db")
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE marker_result (id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL, marker_id "
                "INTEGER NOT NULL, value FLOAT, qualifier VARCHAR(6), replicate INTEGER NOT NULL, assay_date "
                "DATE)")
    con.executemany("INSERT INTO marker_result VALUES (:id, :sample_id, :marker_id, :value, :qualifier, "
                    ":replicate, :assay_date)",
                    [{**r, "assay_date": r["assay_date"] and r["assay_date"].isoformat()}
                                     for r in ROWS])
    con.commit()
    con.close()
    engine = make_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def test_adbc_and_cursor_reads_agree(results_file) -> None:
    engine, path = results_file
    for scan in (True, False):
        sql = export_read._results_sql("sqlite", [2, 3], scan=scan)
        with engine.connect() as conn:
            by_cursor = export_read.concat_blocks(export_read._read_cursor(conn, [2, 3], scan=scan))
        by_adbc = export_read._arrays_from_arrow(export_read.read_adbc_sqlite(path, sql))
        order = np.argsort(by_cursor["sample_id"] * 10 + by_cursor["marker_id"])
        assert by_cursor["sample_id"][order].tolist() == [7, 7, 8]
        assert np.isnan(by_cursor["value"][order][1]) and by_cursor["value"][order][2] == 4e-9
        assert by_cursor["qualifier"][order].tolist() == [None, "<LOD", ">ULOQ"]
        assert by_cursor["assay_ord"][order].tolist() == [date(2025, 3, 1).toordinal(), -1,
                                                          date(1999, 12, 31).toordinal()]
        order_adbc = np.argsort(by_adbc["sample_id"] * 10 + by_adbc["marker_id"])
        for key, column in by_cursor.items():
            np.testing.assert_array_equal(column[order], by_adbc[key][order_adbc], err_msg=key)


def test_packed_cursor_read_keeps_the_far_ends(results_file) -> None:
    engine, path = results_file
    with engine.connect() as conn:
        by_cursor = export_read.concat_blocks(export_read._read_cursor(conn, [5], scan=False))
    by_adbc = export_read._arrays_from_arrow(
        export_read.read_adbc_sqlite(path, export_read._results_sql("sqlite", [5], scan=False)))
    assert by_cursor["sample_id"].tolist() == [9, 2**40]
    assert by_cursor["replicate"].tolist() == [1, 2**31 - 1]
    assert by_cursor["assay_ord"].tolist() == [date(2025, 3, 2).toordinal(), date(9999, 12, 31).toordinal()]
    for key, column in by_cursor.items():
        np.testing.assert_array_equal(column, by_adbc[key], err_msg=key)


def test_cursor_blocks_join_to_one_read(results_file, monkeypatch) -> None:
    engine, _ = results_file
    with engine.connect() as conn:
        whole = export_read.concat_blocks(export_read._read_cursor(conn, [2, 3, 5], scan=True))
        monkeypatch.setattr(export_read, "READ_BLOCK", 1)
        blocks = list(export_read._read_cursor(conn, [2, 3, 5], scan=True))
    assert len(blocks) == 5
    for key, column in export_read.concat_blocks(blocks).items():
        np.testing.assert_array_equal(column, whole[key], err_msg=key)
    assert export_read.concat_blocks([])["qualifier"].dtype == object


def test_import_writes_block_by_block(session, catalogue, sampled, monkeypatch) -> None:
    monkeypatch.setattr(importer, "INSERT_BLOCK", 2)
    _, acc = sampled()
    text = ("sample,marker,value,unit,qualifier,run_id,assay_date\n"
            f"{acc['SERUM']},IL6,0.004,ng/mL,,R1,2025-03-01\n"
            f"{acc['SERUM_2']},IL6,,pg/mL,<LOD,,\n"
            f"{acc['CTDNA_PLASMA']},CTDNA_VAF,0.35,%,,R2,2025-03-02\n"
            f"{acc['FFPE']},PDL1_CPS,12,score,,,\n")
    report = importer.import_results(session, text.encode(), filename="blocks.csv")
    assert report.ok and report.results == 4
    rows = session.execute(select(MarkerResult.value, MarkerResult.qualifier, MarkerResult.original_value,
                                  MarkerResult.original_unit, MarkerResult.run_id, MarkerResult.assay_date,
                                  MarkerResult.import_id).order_by(MarkerResult.id)).all()
    assert [tuple(r) for r in rows] == [
        (pytest.approx(4.0), None, pytest.approx(0.004), "ng/mL", "R1", date(2025, 3, 1), report.import_id),
        (None, "<LOD", None, None, None, None, report.import_id),
        (pytest.approx(0.35), None, None, None, "R2", date(2025, 3, 2), report.import_id),
        (pytest.approx(12.0), None, None, None, None, None, report.import_id),
    ]
