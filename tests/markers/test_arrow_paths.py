"""The Arrow paths of import and export: block-wise inserts, and the ADBC and cursor reads agreeing."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, text

from lims.core.database import STAGED, make_engine
from lims.markers import bulk, export_read, importer
from lims.markers.models import MarkerResult
from tests.conftest import is_postgres

sqlite_only = pytest.mark.skipif(is_postgres(), reason="the SQLite staging path (PostgreSQL uses COPY)")

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


@pytest.mark.parametrize("stage_min_rows", [10**9, 0], ids=["executemany", "staged"])
def test_import_writes_block_by_block(session, catalogue, sampled, monkeypatch, stage_min_rows) -> None:
    monkeypatch.setattr(bulk, "INSERT_BLOCK", 2)
    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", stage_min_rows)
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


_STORED = text("SELECT sample_id, marker_id, value, typeof(value), qualifier, original_value, "
               "typeof(original_value), original_unit, replicate, run_id, batch_id, plate_id, assay_date, "
               "typeof(assay_date), operator FROM marker_result ORDER BY id")


def _stored(session) -> list[tuple]:
    """The stored rows with every float as its exact bits (float.hex) and every value's SQLite type."""
    return [tuple(v.hex() if isinstance(v, float) else v for v in row) for row in session.execute(_STORED)]


@sqlite_only
def test_staged_insert_stores_exactly_what_executemany_stores(session, catalogue, sampled,
                                                              monkeypatch) -> None:
    """The ADBC staging file and the executemany path store the same bits, NULLs, texts and dates."""
    _, acc = sampled()
    rng = np.random.default_rng(7)
    hard = [0.1 + 0.2, 1 / 3, 2.0 ** -30, 123456789.123456789, 5e-324 * 1e10, 0.30000000000000004,
            *rng.lognormal(1.5, 2.0, 150).tolist(), *(rng.random(40) * 1e-6).tolist()]
    lines = ["sample,marker,value,unit,qualifier,run_id,operator,assay_date,remeasurement"]
    for i, v in enumerate(hard):
        unit = "ng/mL" if i % 3 == 0 else "pg/mL"  # a third converted (x1000) to the catalogue unit
        lines.append(f'{acc["SERUM"]},IL6,{v!r},{unit},,"R""{i % 4}",Zoë {i % 2},2025-03-0{1 + i % 9},'
                     f'{"no" if i == 0 else "yes"}')
    lines += [f"{acc['SERUM']},IL6,,pg/mL,<LOD,,,,yes", f"{acc['SERUM']},IL6,,pg/mL,NA,,,,yes",
              f"{acc['CTDNA_PLASMA']},CTDNA_VAF,0.35,%,,,,,no"]
    data = "\n".join(lines).encode()
    stored = {}
    for path, minimum in (("executemany", 10**9), ("staged", 0)):
        monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", minimum)
        report = importer.import_results(session, data, filename=f"{path}.csv")
        assert report.ok and report.results == len(lines) - 1
        stored[path] = _stored(session)
        session.execute(delete(MarkerResult))
    attached = [row[1] for row in session.execute(text("PRAGMA database_list"))]
    assert any(name.startswith("lims_stage_") for name in attached)  # the staged path did run
    assert stored["staged"] == stored["executemany"]
    assert {row[3] for row in stored["staged"]} == {"real", "null"}
    assert {row[13] for row in stored["staged"]} == {"text", "null"}


@pytest.mark.parametrize("change", [
    {"sample_id": np.array([10**9])},  # foreign key
    {"value": np.array([np.nan])},  # a value or a qualifier
    {"qualifier": np.array(["odd"], dtype=object)},  # qualifier spelling
    {"replicate": np.array([0])},  # replicate >= 1
], ids=["foreign key", "value or qualifier", "qualifier", "replicate"])
@sqlite_only
def test_staged_insert_keeps_the_constraints(session, catalogue, sampled, change) -> None:
    """Rows copied from the staging file meet marker_result's foreign keys and CHECK constraints."""
    _, acc = sampled()
    report = importer.import_results(session, f"sample,marker,value,unit\n{acc['SERUM']},IL6,1.5,pg/mL\n"
                                     .encode(), filename="one.csv")
    sample_id, marker_id = session.execute(select(MarkerResult.sample_id, MarkerResult.marker_id)).one()
    data = {"sample_id": np.array([sample_id]), "marker_id": np.array([marker_id]), "value": np.array([1.0]),
            "qualifier": np.array([None], dtype=object), "original_value": np.array([np.nan]),
            "original_unit": np.array([None], dtype=object), "assay_date": np.array([None], dtype=object),
            **{c: np.array([None], dtype=object) for c in ("run_id", "batch_id", "plate_id", "operator")}}
    replicate = change.pop("replicate", np.array([2]))
    cols = bulk.columns({**data, **change}, replicate, report.import_id)
    conn = session.connection()
    raw = conn.connection.driver_connection
    with pytest.raises(sqlite3.IntegrityError):
        bulk._sqlite_staged(conn, raw, cols)
    assert bulk._sqlite_staged(conn, raw, bulk.columns(data, np.array([2]), report.import_id))  # the control


@sqlite_only
def test_without_a_staging_file_the_import_inserts_row_by_row(session, catalogue, sampled,
                                                              monkeypatch) -> None:
    import adbc_driver_sqlite.dbapi as adbc

    def full_disk(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bulk, "STAGE_MIN_ROWS", 0)
    monkeypatch.setattr(adbc, "connect", full_disk)
    _, acc = sampled()
    report = importer.import_results(session, f"sample,marker,value,unit\n{acc['SERUM']},IL6,1.5,pg/mL\n"
                                     .encode(), filename="one.csv")
    assert report.ok and session.scalar(select(MarkerResult.value)) == 1.5
    assert not any(row[1].startswith("lims_stage_") for row in session.execute(text("PRAGMA database_list")))


def test_staging_schemas_are_detached_when_the_connection_returns(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'main.db'}")
    sqlite3.connect(tmp_path / "stage.db").execute("CREATE TABLE rows (x)").connection.close()
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            conn.connection.info[STAGED] = True  # as lims.markers.bulk marks the connection it attaches to
            raw.execute("ATTACH DATABASE ? AS lims_stage_test", (str(tmp_path / "stage.db"),))
            raw.execute("SELECT * FROM lims_stage_test.rows").fetchall()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                raw.execute("DETACH DATABASE lims_stage_test")
        with engine.connect() as conn:
            names = [row[1] for row in conn.exec_driver_sql("PRAGMA database_list")]
        assert names == ["main"]
    finally:
        engine.dispose()
