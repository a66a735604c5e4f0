"""Benchmark the wide Parquet dataset export against reading the same rows with pandas and ADBC (not a timed
test).

Usage: .venv/bin/python scripts/bench_export.py [--results 2000000] [--markers 100] [--participants 2500]

Builds a temporary migrated SQLite database: consented participants with a visit at each of eight time points,
one serum sample per visit with raw pre-analytical values (so every SPREC code is derived), and ``--markers``
results per sample. Times ``lims.markers.export.export_dataset`` (wide form, Parquet: results read, joined
with covariates, pre-analytics, SPREC and derived endpoints, pivoted, written, hashed, zipped and audited) in
a process of its own (its peak RSS is its own), against, in the same run on the same file:
``pandas.read_sql_query`` of the result rows on a plain sqlite3 connection (the baseline), and an ADBC read of
the same rows into Arrow (the limit).

Targets (issue 17.5): the export no slower than the pandas read (<= 1.0x) and within 3x of the ADBC read, with
its peak memory printed: the export reads the results block by block and pivots the wide form as they come, so
its memory holds the wide cells (rows x markers), not every result.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select

from lims import create_app
from lims.accounts.service import add_user
from lims.config import DEFAULT_PROTOCOL
from lims.core.migrate import upgrade
from lims.extensions import db
from lims.markers.export import ExportQuery, export_dataset
from lims.markers.models import Marker
from lims.markers.service import save_marker
from lims.participants.models import Consent, ConsentScope, Participant, Visit
from lims.samples.accession import make_accession
from lims.samples.models import Sample
from lims.studies.models import ContainerType, SampleType, Site, TimePoint
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

TIMEPOINTS = ("BASELINE", "MID_NCRT", "EOT", "CRE1", "CRE2", "CRE3", "CRE4", "CRE5")


def seed(participants: int, n_markers: int, n_results: int, rng: np.random.Generator) -> int:
    """Insert participants, visits, serum samples and markers; return how many samples were made."""
    session = db.session
    study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
    site = session.scalar(select(Site).where(Site.code == "ZJ"))
    serum = session.scalar(select(SampleType)
                           .where(SampleType.study_id == study.id, SampleType.code == "SERUM"))
    sst = session.scalar(select(ContainerType)
                         .where(ContainerType.study_id == study.id, ContainerType.code == "SST"))
    tps = {t.code: t.id for t in session.scalars(select(TimePoint).where(TimePoint.study_id == study.id))}
    timepoints = [tp for tp in TIMEPOINTS if tp in tps]
    conn = session.connection()
    strata = np.array(["NON_CCR_SURGERY", "CCR_SURGERY", "CCR_WW"])[rng.integers(0, 3, participants)]
    conn.execute(insert(Participant.__table__), [
        {"study_id": study.id, "site_id": site.id, "code": f"ZJ-{i + 1:04d}", "enrolled_on": date(2025, 1, 1),
         "stratum": str(strata[i]), "stage": "III"} for i in range(participants)])
    pids = [p for (p,) in session.execute(select(Participant.id).order_by(Participant.id))]
    conn.execute(insert(Consent.__table__),
                 [{"participant_id": p, "version": "2.1", "signed_on": date(2025, 1, 1)}
                                             for p in pids])
    cids = [c for (c,) in session.execute(select(Consent.id).order_by(Consent.id))]
    conn.execute(insert(ConsentScope.__table__),
                 [{"consent_id": c, "scope": "MARKER_RESEARCH", "granted": True}
                                                  for c in cids])
    n_samples = n_results // n_markers
    visits = [(pids[i // len(timepoints) % len(pids)], timepoints[i % len(timepoints)])
              for i in range(n_samples)]
    conn.execute(insert(Visit.__table__), [
        {"participant_id": p, "timepoint_id": tps[tp], "occurrence": 1 + i // (len(pids) * len(timepoints)),
         "status": "done", "actual_on": date(2025, 1, 2) + timedelta(days=30 * (i % len(timepoints)))}
        for i, (p, tp) in enumerate(visits)])
    vids = [v for (v,) in session.execute(select(Visit.id).order_by(Visit.id))]
    t0 = datetime(2025, 1, 2, 8, 0, tzinfo=UTC)
    delays = rng.lognormal(np.log(1.0), 0.5, n_samples)
    conn.execute(insert(Sample.__table__), [
        {"accession": make_accession(i + 1, study.accession_prefix), "study_id": study.id, "site_id": site.id,
         "participant_id": visits[i][0], "visit_id": vids[i], "sample_type_id": serum.id,
         "container_type_id": sst.id, "derivation": "primary", "status": "in_storage", "unit": "ml",
         "quantity": 0.5, "freeze_thaw_count": int(i % 3), "collected_at": t0 + timedelta(days=30 * (i % 8)),
         "processing_started_at": t0 + timedelta(days=30 * (i % 8), hours=float(delays[i])),
         "precentrifugation_temp_c": 21.0, "spun": True, "spin1_g": 2000.0, "spin1_min": 10.0,
         "spin1_temp_c": 20.0, "spin1_brake": True, "spin2_done": False,
         "last_spin_ended_at": t0 + timedelta(days=30 * (i % 8), hours=float(delays[i]) + 0.25),
         "postspin_temp_c": 21.0,
         "frozen_at": t0 + timedelta(days=30 * (i % 8), hours=float(delays[i]) + 0.6),
         "storage_temp_c": -80.0, "storage_container": "PP"} for i in range(n_samples)])
    for k in range(n_markers):
        save_marker(session, {"code": f"CYT{k:03d}", "name": f"Cytokine {k}", "category": "cytokine",
                              "unit": "pg/mL", "specimen_types": ["SERUM"], "lod": 0.5, "transform": "log2"})
    add_user(session, username="bench.researcher", password="bench password 123", role="researcher",
             full_name="Bench Researcher", site_codes=())
    session.commit()
    return n_samples


def fill_results(path: str, n_samples: int, n_markers: int, rng: np.random.Generator) -> int:
    """Insert the result rows directly (the import has its own benchmark)."""
    con = sqlite3.connect(path, isolation_level=None)
    sample_ids = [r[0] for r in con.execute("SELECT id FROM sample ORDER BY id")]
    marker_ids = [r[0] for r in con.execute("SELECT id FROM marker ORDER BY id")]
    values = np.round(rng.lognormal(1.5, 1.0, n_samples * n_markers), 4).tolist()
    rows = [(s, m, values[i * n_markers + j], 1, "2025-06-01")
            for i, s in enumerate(sample_ids) for j, m in enumerate(marker_ids)]
    con.execute("BEGIN")
    con.executemany("INSERT INTO marker_result (sample_id, marker_id, value, replicate, assay_date) "
                    "VALUES (?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")
    con.close()
    return len(rows)


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): its own, unlike ru_maxrss, which a child inherits from its
    parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_export(path: str) -> dict[str, float]:
    """Run in a process of its own: export the wide Parquet zip, commit; report seconds and peak RSS (MB)."""
    from lims.accounts.models import User
    from lims.studies.service import get_study

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": str(Path(path).parent),
                      "SECRET_KEY": "bench"})
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench.researcher"))
        study = get_study(db.session)
        assert db.session.scalar(select(Marker.id).limit(1)) is not None
        db.session.commit()  # start the export in a fresh transaction, as a request does
        before = peak_rss_mb()
        start = time.perf_counter()
        result = export_dataset(db.session, study, ExportQuery(form="wide", format="parquet"), by=user)
        db.session.commit()
        seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    return {"seconds": seconds, "peak_mb": peak, "before_mb": before,
            "rows": result.manifest["row_counts"]["rows"],
            "columns": result.manifest["row_counts"]["columns"], "mb": len(result.content) / 1e6}


def adbc_read(path: str) -> tuple[float, int]:
    """Read every result row into an Arrow table with ADBC (adbc-driver-sqlite): the limit."""
    import adbc_driver_sqlite.dbapi as adbc

    start = time.perf_counter()
    with adbc.connect(path) as con, con.cursor() as cur:
        cur.execute("SELECT * FROM marker_result")
        table = cur.fetch_arrow_table()
    return time.perf_counter() - start, table.num_rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child_export(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=2_000_000)
    parser.add_argument("--markers", type=int, default=100)
    parser.add_argument("--participants", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.db")
        url = f"sqlite:///{path}"
        upgrade(url)
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "bench"})
        with app.app_context():
            start = time.perf_counter()
            n_samples = seed(args.participants, args.markers, args.results, rng)
            app.extensions["lims_db"]["engine"].dispose()
            n = fill_results(path, n_samples, args.markers, rng)
            print(f"seeded {args.participants:,} participants, {n_samples:,} serum samples, {args.markers} "
                  f"markers, {n:,} results in {time.perf_counter() - start:.1f} s")
        app.extensions["lims_db"]["engine"].dispose()
        done = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True,
                              check=False)
        if done.returncode:
            sys.exit(done.stderr)
        ours = json.loads(done.stdout.strip().splitlines()[-1])
        limit, read_rows = adbc_read(path)
        assert read_rows == n
        con = sqlite3.connect(path)
        start = time.perf_counter()
        frame = pd.read_sql_query("SELECT * FROM marker_result", con)
        read = time.perf_counter() - start
        con.close()
        assert len(frame) == n
    print(f"lims export, wide Parquet zip ({ours['rows']:,} rows x {ours['columns']} columns, "
          f"{ours['mb']:.1f} MB): {ours['seconds']:6.2f} s")
    print(f"pandas.read_sql_query of the same {n:,} result rows (sqlite3): {read:6.2f} s")
    print(f"ADBC read of the same {n:,} result rows into Arrow:           {limit:6.2f} s")
    print(f"peak RSS of the export process: {ours['peak_mb']:,.0f} MB (after start-up: "
          f"{ours['before_mb']:,.0f} MB)")
    print(f"ratio vs pandas: export takes {ours['seconds'] / read:.2f}x the pandas read (target <= 1.0)")
    print(f"ratio vs ADBC read: export takes {ours['seconds'] / limit:.2f}x the ADBC read (target <= 3.0)")


if __name__ == "__main__":
    main()
