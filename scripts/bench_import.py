"""Benchmark the marker results import against a raw sqlite3 executemany of the same rows (not a timed test).

Usage: .venv/bin/python scripts/bench_import.py [--results 1000000] [--markers 20] [--rounds 3]

Builds a temporary migrated database with enough consented participants and serum samples, writes a long CSV
(some values in ng/mL to convert, some <LOD, run/batch/plate/date/operator filled), and times
``lims.markers.importer.import_results`` (parse + full validation + bulk insert + commit). The baseline
inserts the same, already parsed rows with ``sqlite3.executemany`` into a copy of the marker_result table
(same columns, constraints and indexes) in the same database file, then commits.
"""

from __future__ import annotations

import argparse
import sqlite3
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
from lims.markers.importer import ImportReport, import_results
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
        {"accession": a, "study_id": study.id, "participant_id": pids[i % len(pids)],
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


def raw_baseline(path: str) -> tuple[float, int]:
    """Time a raw sqlite3 executemany of the imported rows into a copy of marker_result (same DDL,
    pragmas)."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=NORMAL")
    ddl = con.execute(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'marker_result' AND sql IS NOT NULL").fetchall()
    for (sql,) in ddl:
        con.execute(sql.replace("marker_result", "marker_result_raw", 1)
                    .replace('"marker_result"', '"marker_result_raw"')
                    .replace("ix_marker_result", "ix_raw_marker_result")
                    .replace("uq_marker_result", "uq_raw_marker_result")
                    .replace("pk_marker_result", "pk_raw_marker_result"))
    sql = f"SELECT {COLUMNS} FROM marker_result ORDER BY id"  # noqa: S608 - COLUMNS is this script's constant
    rows = con.execute(sql).fetchall()
    start = time.perf_counter()
    con.execute("BEGIN")
    sql = f"INSERT INTO marker_result_raw ({COLUMNS}) VALUES ({', '.join('?' * 13)})"  # noqa: S608 - as above
    con.executemany(sql, rows)
    con.execute("COMMIT")
    elapsed = time.perf_counter() - start
    con.close()
    return elapsed, len(rows)


def one_round(args: argparse.Namespace, tmp: str, k: int) -> tuple[float, float, int, ImportReport]:
    """Seed a fresh database, time the import, then the raw executemany of the same rows; return both."""
    path = str(Path(tmp) / f"bench{k}.db")
    url = f"sqlite:///{path}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "bench"})
    with app.app_context():
        accessions = seed(args.results // args.markers, args.markers)
        frame = make_file(accessions, args.results, args.markers, np.random.default_rng(args.seed))
        data = frame.to_csv(index=False).encode()
        if k == 0:
            print(f"{len(accessions):,} samples of {PARTICIPANTS} participants, {args.markers} markers; "
                  f"file: {len(frame):,} long-format results, {len(data) / 1e6:.1f} MB")
        start = time.perf_counter()
        report = import_results(db.session, data, filename="bench.csv")
        db.session.commit()
        ours = time.perf_counter() - start
        assert report.ok and report.results == len(frame), report.problems[:3]
    app.extensions["lims_db"]["engine"].dispose()
    raw, copied = raw_baseline(path)
    assert copied == len(frame)
    Path(path).unlink()
    return ours, raw, len(frame), report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--markers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3,
                        help="Best of this many rounds (the machine is shared).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    ours_all, raw_all = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.rounds):
            ours, raw, n, report = one_round(args, tmp, k)
            ours_all.append(ours)
            raw_all.append(raw)
            print(f"round {k + 1}: import {ours:6.2f} s, raw {raw:6.2f} s, ratio {raw / ours:.2f}")
    ours, raw = min(ours_all), min(raw_all)
    print(f"lims import (parse + validate + insert + commit), best of {args.rounds}: {ours:6.2f} s  "
          f"{n / ours:12,.0f} rows/s ({report.converted:,} converted, {report.qualified:,} qualified)")
    print(f"raw sqlite3 executemany of the same rows (insert + commit), best of {args.rounds}: {raw:6.2f} s  "
          f"{n / raw:12,.0f} rows/s")
    print(f"ratio: import runs at {raw / ours:.2f}x the raw insert speed (target >= 0.5)")


if __name__ == "__main__":
    main()
