"""Benchmark the marker results import against inserting the same rows raw, and against ADBC (not a timed
test).

Usage: .venv/bin/python scripts/bench_import.py [--results 1000000] [--markers 20] [--rounds 3]

Builds a temporary migrated SQLite database with enough consented participants and serum samples, writes a
long CSV (some values in ng/mL to convert, some <LOD, run/batch/plate/date/operator filled), and times
``lims.markers.importer.import_results`` (read + full validation + bulk insert + audit + commit) in a process
of its own, so its peak RSS is its own. In the same round, on the same database file, the same already parsed
rows are inserted into copies of the marker_result table (same columns, constraints, foreign keys and
indexes):

- the baseline: ``sqlite3.executemany`` of Python tuples, then commit;
- the limit: ADBC ``adbc_ingest`` of the rows as one Arrow table (adbc-driver-sqlite), then commit; and, for
  reference, ``adbc_ingest`` into a new table without indexes or constraints.

Targets (issue 17.5): the import at least as fast as the raw executemany (>= 1.0x) and within 3x of ADBC
ingest.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from lims import create_app
from lims.config import DEFAULT_PROTOCOL
from lims.core.migrate import upgrade
from lims.extensions import db
from lims.markers.importer import import_results
from lims.markers.service import save_marker
from lims.participants.models import Consent, ConsentScope, Participant
from lims.samples.accession import make_accession
from lims.samples.models import Sample
from lims.studies.models import SampleType, Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

PARTICIPANTS = 500


def seed(n_samples: int, n_markers: int) -> list[str]:
    """Insert participants with consent, serum samples and markers; return the sample accessions."""
    session = db.session
    study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
    site = session.scalar(select(Site).where(Site.code == "ZJ"))
    serum = session.scalar(select(SampleType)
                           .where(SampleType.study_id == study.id, SampleType.code == "SERUM"))
    conn = session.connection()
    conn.execute(insert(Participant.__table__), [
        {"study_id": study.id, "site_id": site.id, "code": f"ZJ-{i:04d}", "enrolled_on": date(2025, 1, 1)}
        for i in range(1, PARTICIPANTS + 1)])
    pids = [p for (p,) in session.execute(select(Participant.id).order_by(Participant.id))]
    conn.execute(insert(Consent.__table__),
                 [{"participant_id": p, "version": "2.1", "signed_on": date(2025, 1, 1)}
                                             for p in pids])
    cids = [c for (c,) in session.execute(select(Consent.id).order_by(Consent.id))]
    conn.execute(insert(ConsentScope.__table__),
                 [{"consent_id": c, "scope": "MARKER_RESEARCH", "granted": True}
                                                  for c in cids])
    accessions = [make_accession(i + 1, study.accession_prefix) for i in range(n_samples)]
    conn.execute(insert(Sample.__table__), [
        {"accession": a, "study_id": study.id, "site_id": site.id, "participant_id": pids[i % len(pids)],
         "sample_type_id": serum.id,
         "derivation": "primary", "status": "in_storage", "unit": "ml", "quantity": 0.5,
         "freeze_thaw_count": 0}
        for i, a in enumerate(accessions)])
    for k in range(n_markers):
        save_marker(session, {"code": f"CYT{k:02d}", "name": f"Cytokine {k}", "category": "cytokine",
                              "unit": "pg/mL", "specimen_types": ["SERUM"], "lod": 0.5, "lloq": 1.0,
                              "uloq": 5000.0,
                              "transform": "log2"})
    session.commit()
    return accessions


def make_file(accessions: list[str], n_results: int, n_markers: int,
              rng: np.random.Generator) -> pd.DataFrame:
    n_samples = n_results // n_markers
    sample = np.repeat(np.array(accessions[:n_samples], dtype=object), n_markers)
    marker = np.tile(np.array([f"CYT{k:02d}" for k in range(n_markers)], dtype=object), n_samples)
    value = np.round(rng.lognormal(1.5, 1.0, n_results), 4)
    unit = np.where(rng.random(n_results) < 0.1, "ng/mL", "pg/mL").astype(object)
    value = np.where(unit == "ng/mL", value / 1000, value)
    below = rng.random(n_results) < 0.03
    value_text = np.where(below, "", value.astype(str)).astype(object)
    qualifier = np.where(below, "<LOD", "").astype(object)
    plate = (np.arange(n_results) // 9600).astype(str)
    return pd.DataFrame({
        "sample": sample, "marker": marker, "value": value_text, "unit": unit, "qualifier": qualifier,
        "run_id": np.char.add("RUN", plate), "batch_id": "B1", "plate_id": np.char.add("P", plate),
        "assay_date": "2025-06-01", "operator": "bench"})


COLUMNS = ("sample_id, marker_id, import_id, value, qualifier, original_value, original_unit, replicate, "
           "run_id, batch_id, plate_id, assay_date, operator")


def copy_table(con: sqlite3.Connection, name: str) -> None:
    """Create ``name`` with marker_result's DDL: columns, constraints, foreign keys and every index."""
    ddl = con.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'marker_result' AND sql IS NOT NULL "
                      "ORDER BY type DESC").fetchall()  # the table first, then its indexes
    for (sql,) in ddl:
        con.execute(re.sub(r"\bmarker_result\b", name, sql.replace("_marker_result", f"_{name}")))


def baselines(path: str) -> dict[str, float]:
    """Time the raw executemany and the ADBC ingest of the imported rows into copies of marker_result."""
    import adbc_driver_sqlite.dbapi as adbc
    import pyarrow as pa

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=NORMAL")
    rows = con.execute(f"SELECT {COLUMNS} FROM marker_result ORDER BY id").fetchall()
    copy_table(con, "marker_result_raw")
    copy_table(con, "marker_result_adbc")
    start = time.perf_counter()
    con.execute("BEGIN")
    sql = f"INSERT INTO marker_result_raw ({COLUMNS}) VALUES ({', '.join('?' * 13)})"
    con.executemany(sql, rows)
    con.execute("COMMIT")
    raw = time.perf_counter() - start
    con.close()
    names = [c.strip() for c in COLUMNS.split(",")]
    table = pa.table({name: pa.array(list(column))
                      for name, column in zip(names, zip(*rows, strict=True), strict=True)})
    table = table.set_column(names.index("assay_date"), "assay_date", table["assay_date"].cast(pa.string()))
    del rows
    out = {"raw": raw}
    with adbc.connect(path, autocommit=True) as ac, ac.cursor() as cur:
        cur.execute("PRAGMA foreign_keys=ON")  # outside a transaction, or SQLite ignores it
        cur.execute("PRAGMA synchronous=NORMAL")
        for key, target, mode in (("adbc", "marker_result_adbc", "append"),
                                  ("adbc_bare", "marker_result_bare",
                                                                            "create")):
            start = time.perf_counter()
            cur.execute("BEGIN")
            cur.adbc_ingest(target, table, mode=mode)
            cur.execute("COMMIT")
            out[key] = time.perf_counter() - start
    con = sqlite3.connect(path)
    copied = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("marker_result_raw", "marker_result_adbc", "marker_result_bare")]
    con.close()
    assert len(set(copied)) == 1 and copied[0] == table.num_rows, copied
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): its own, unlike ru_maxrss, which a child inherits from its
    parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_import(path: str, csv_path: str) -> dict[str, float]:
    """Run in a process of its own: import the file, commit; report seconds and peak RSS (MB)."""
    tmp = str(Path(path).parent)
    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": tmp, "SECRET_KEY": "bench"})
    with app.app_context():
        data = Path(csv_path).read_bytes()
        before = peak_rss_mb()
        start = time.perf_counter()
        report = import_results(db.session, data, filename="bench.csv")
        db.session.commit()
        seconds = time.perf_counter() - start
        assert report.ok, report.problems[:3]
    peak = peak_rss_mb()
    return {"seconds": seconds, "peak_mb": peak, "before_mb": before, "results": report.results,
            "converted": report.converted, "qualified": report.qualified}


def one_round(args: argparse.Namespace, tmp: str, k: int) -> dict[str, float]:
    """Seed a fresh database, time the import (own process), then the baselines on the same rows."""
    path = str(Path(tmp) / f"bench{k}.db")
    url = f"sqlite:///{path}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "bench"})
    with app.app_context():
        accessions = seed(args.results // args.markers, args.markers)
        frame = make_file(accessions, args.results, args.markers, np.random.default_rng(args.seed))
    app.extensions["lims_db"]["engine"].dispose()
    csv_path = Path(tmp) / "bench.csv"
    frame.to_csv(csv_path, index=False)
    if k == 0:
        print(f"{len(accessions):,} samples of {PARTICIPANTS} participants, {args.markers} markers; "
              f"file: {len(frame):,} long-format results, {csv_path.stat().st_size / 1e6:.1f} MB")
    done = subprocess.run([sys.executable, __file__, "--child", path, str(csv_path)], capture_output=True,
                          text=True, check=True)
    ours = json.loads(done.stdout.strip().splitlines()[-1])
    assert ours["results"] == len(frame)
    out = {**ours, **baselines(path)}
    Path(path).unlink()
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child_import(sys.argv[2], sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--markers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3,
                        help="Best of this many rounds (the machine is shared).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            r = one_round(args, tmp, k)
            rounds.append(r)
            print(f"round {k + 1}: import {r['seconds']:6.2f} s, raw executemany {r['raw']:6.2f} s, "
                  f"ADBC ingest {r['adbc']:6.2f} s (bare table {r['adbc_bare']:5.2f} s), "
                  f"peak RSS {r['peak_mb']:,.0f} MB")
    best = {key: min(r[key] for r in rounds) for key in ("seconds", "raw", "adbc", "adbc_bare", "peak_mb")}
    n, last = args.results // args.markers * args.markers, rounds[-1]
    ours, raw, ingest = best["seconds"], best["raw"], best["adbc"]
    print(f"lims import (read + validate + insert + audit + commit), best of {args.rounds}: {ours:6.2f} s "
          f"{n / ours:12,.0f} rows/s ({last['converted']:,} converted, {last['qualified']:,} qualified)")
    print(f"raw sqlite3 executemany of the same rows (same DDL, insert + commit):      {raw:6.2f} s "
          f"{n / raw:12,.0f} rows/s")
    print(f"ADBC adbc_ingest of the same rows as Arrow (same DDL, insert + commit):    {ingest:6.2f} s "
          f"{n / ingest:12,.0f} rows/s (new bare table: {best['adbc_bare']:.2f} s)")
    print(f"peak RSS of the import process: {best['peak_mb']:,.0f} MB "
          f"(after start-up, before the import: {last['before_mb']:,.0f} MB; file {n:,} rows)")
    print(f"ratio vs executemany: import runs at {raw / ours:.2f}x the raw insert speed (target >= 1.0)")
    print(f"ratio vs ADBC ingest: import takes {ours / ingest:.2f}x the ADBC ingest time (target <= 3.0)")


if __name__ == "__main__":
    main()
