#!/usr/bin/env python
"""Scan lookup latency at scale: barcode -> sample with location, over HTTP, against a trivial endpoint.

Fills a fresh database with N samples (participants, visits, boxes in racks in freezers, one placement and
one keyed custody event per sample, sealed with the instance's custody key), starts the production server
(gunicorn, several workers) on
127.0.0.1, logs C concurrent clients in, and measures p50/p99 latency and throughput of
POST /api/v1/station/lookup (random accession IDs) against GET /api/v1/station/ping (same app, same
authentication, no sample work) in the same run.

    .venv/bin/python scripts/bench_scan.py --samples 1000000                     # SQLite
    .venv/bin/python scripts/bench_scan.py --samples 1000000 --database-url postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims.accounts.service import add_user
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.custody import chain, keys
from lims.custody.models import CustodyChain, CustodyEpoch, CustodyEvent
from lims.participants.models import Participant, Visit
from lims.samples.accession import make_accession
from lims.samples.models import AccessionCounter, Sample
from lims.storage.models import Placement, StorageUnit
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

PASSWORD = "benchmark password 1"
CHUNK = 50_000


def fill(url: str, n_samples: int, instance: Path) -> list[str]:
    """Create the schema and N samples with storage and custody (keyed with ``instance``'s key); return the
    IDs."""
    from sqlalchemy.orm import Session

    upgrade(url)
    engine = make_engine(url)
    t0 = time.perf_counter()
    with Session(engine) as session:
        study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
        add_user(session, username="bench", password=PASSWORD, role="lab_manager", full_name="Bench")
        session.commit()
        study_id = study.id
        sites = [ss.site for ss in study.sites]
        baseline = next(tp for tp in study.timepoints if tp.code == "BASELINE")
        types = [t.id for t in study.sample_types if t.code in ("CTDNA_PLASMA", "SERUM", "STOOL", "PBMC")]
        user_id = session.scalar(text("SELECT id FROM \"user\" WHERE username = 'bench'"))
    n_participants = max(n_samples // 200, 1)
    with engine.begin() as conn:
        conn.execute(insert(Participant), [
            {"study_id": study_id, "site_id": sites[i % len(sites)].id,
             "code": f"{sites[i % len(sites)].code}-B{i:06d}",
             "enrolled_on": date(2024, 1, 1) + timedelta(days=i % 700), "sex": "M", "age": 60, "ecog": 0}
            for i in range(n_participants)])
        pids = list(conn.execute(select(Participant.id, Participant.site_id).order_by(Participant.id)))
        conn.execute(insert(Visit), [
            {"participant_id": pid, "timepoint_id": baseline.id, "occurrence": 1, "status": "done",
             "actual_on": date(2024, 6, 1), "created_at": datetime.now(UTC)} for pid, _ in pids])
        visits = dict(conn.execute(select(Visit.participant_id, Visit.id)).all())
        # Storage: per site one freezer, racks of 12 boxes of 9 x 9.
        boxes_needed = n_samples // 81 + 1
        box_ids: dict[int, list[int]] = {}
        for site in sites:
            freezer = conn.execute(insert(StorageUnit).returning(StorageUnit.id), [{
                "site_id": site.id, "kind": "freezer", "name": f"{site.code} -80 freezer",
                "barcode": f"{site.code}-F",
                "set_temp_c": -80.0}]).scalar_one()
            per_site = boxes_needed // len(sites) + 1
            racks = conn.execute(insert(StorageUnit).returning(StorageUnit.id), [
                {"site_id": site.id, "parent_id": freezer, "kind": "rack", "name": f"Rack {r + 1}",
                 "barcode": f"{site.code}-F-R{r + 1}"} for r in range(per_site // 12 + 1)]).scalars().all()
            box_ids[site.id] = list(conn.execute(insert(StorageUnit).returning(StorageUnit.id), [
                {"site_id": site.id, "parent_id": racks[b // 12], "kind": "box", "name": f"Box {b + 1:05d}",
                 "barcode": f"{site.code}-F-B{b + 1:05d}", "rows": 9, "cols": 9} for b in range(per_site)]
            ).scalars().all())
    print(f"  participants, visits, storage: {time.perf_counter() - t0:.1f} s", flush=True)
    accessions = [make_accession(i + 1, "TB") for i in range(n_samples)]
    now = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    slot: dict[int, int] = {}
    keyring = keys.read_keyring(instance / keys.KEY_FILE_NAME) or keys.create_keyring(
        instance / keys.KEY_FILE_NAME)
    with engine.begin() as conn:
        conn.execute(insert(CustodyEpoch),
                     [{"number": keyring.epoch, "fingerprint": keys.fingerprint(keyring.key),
                                             "started_at": now}])
        for start in range(0, n_samples, CHUNK):
            rows, places, events, heads = [], [], [], []
            for i in range(start, min(start + CHUNK, n_samples)):
                pid, site_id = pids[i % len(pids)]
                rows.append({"accession": accessions[i], "study_id": study_id, "participant_id": pid,
                             "visit_id": visits[pid], "sample_type_id": types[i % len(types)],
                             "derivation": "primary", "status": "in_storage", "quantity": 1.0,
                             "initial_quantity": 1.0, "unit": "ml", "freeze_thaw_count": 0,
                             "collected_at": now, "created_at": now})
            ids = conn.execute(insert(Sample).returning(Sample.id, sort_by_parameter_order=True),
                               rows).scalars().all()
            for k, sid in enumerate(ids):
                pid, site_id = pids[(start + k) % len(pids)]
                n = slot.get(site_id, 0)
                slot[site_id] = n + 1
                box = box_ids[site_id][n // 81]
                places.append({"sample_id": sid, "unit_id": box, "row": (n % 81) // 9 + 1, "col": n % 9 + 1})
                content = chain.event_content(sample_id=sid, seq=1, epoch=keyring.epoch, action="stored",
                                              at=now,
                                              user_id=user_id, site_code=None, from_location=None,
                                              to_location=f"box {box}", reason=None, details={},
                                              corrects=None)
                mac = chain.event_mac(keyring.key, chain.GENESIS, content)
                events.append({"seq": 1, "sample_id": sid, "epoch": keyring.epoch, "action": "stored",
                               "at": now,
                               "user_id": user_id, "to_location": f"box {box}", "details": {},
                               "prev_mac": chain.GENESIS, "mac": mac})
                heads.append({"sample_id": sid, "seq": 1, "mac": mac})
            conn.execute(insert(Placement), places)
            conn.execute(insert(CustodyEvent), events)
            conn.execute(insert(CustodyChain), heads)
            print(f"  samples {min(start + CHUNK, n_samples):>9,}: {time.perf_counter() - t0:.1f} s",
                  flush=True)
        conn.execute(insert(AccessionCounter), [{"study_id": study_id, "last_serial": n_samples}])
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
            conn.commit()
        total = conn.scalar(select(func.count(Sample.id)))
    engine.dispose()
    print(f"filled {total:,} samples with placements and custody events in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return accessions


class Client:
    """One keep-alive HTTP client with its own logged-in session."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = ""

    def request(self, method: str, path: str, body: bytes | None = None,
                ctype: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if ctype:
            headers["Content-Type"] = ctype
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        for key, value in resp.getheaders():
            if key.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        return resp.status, data

    def login(self) -> None:
        status, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
        form = {"username": "bench", "password": PASSWORD}
        if token:
            form["csrf_token"] = token.group(1).decode()
        status, _ = self.request("POST", "/login", urllib.parse.urlencode(form).encode(),
                                 "application/x-www-form-urlencoded")
        if status != 302:
            raise SystemExit(f"login failed with HTTP {status}")


def measure(port: int, clients: int, requests: int,
            makers: dict[str, object]) -> tuple[dict[str, list[float]], float]:
    """Run ``requests`` calls over ``clients`` threads, each call a random pick among ``makers``.

    Interleaving the endpoints in one run exposes them to the same load, so their latencies compare fairly.
    """
    latencies: dict[str, list[float]] = {name: [] for name in makers}
    lock = threading.Lock()
    per_client = requests // clients
    sessions = [Client(port) for _ in range(clients)]
    for c in sessions:
        c.login()
    names = list(makers)

    def worker(c: Client, seed: int) -> None:
        rng = random.Random(seed)
        mine: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(per_client):
            name = rng.choice(names)
            method, path, body = makers[name](rng)  # type: ignore[operator]
            t = time.perf_counter()
            status, data = c.request(method, path, body, "application/json" if body else None)
            mine[name].append(time.perf_counter() - t)
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status} {data[:200]!r}")
        with lock:
            for name in names:
                latencies[name].extend(mine[name])

    threads = [threading.Thread(target=worker, args=(c, i)) for i, c in enumerate(sessions)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - start


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL URL of an empty database (default: SQLite)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--port", type=int, default=18765)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    print(f"database: {make_url(url).render_as_string(hide_password=True)}; samples: {args.samples:,}",
          flush=True)
    accessions = fill(url, args.samples, tmp / "instance")

    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(tmp / "instance"),
           "LIMS_SECRET_KEY": "bench-secret"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{args.port}",
         "--log-level", "warning", "lims.wsgi:app"], cwd=ROOT, env=env)
    try:
        for _ in range(200):
            try:
                http.client.HTTPConnection("127.0.0.1", args.port, timeout=1).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)

        def lookup(rng: random.Random):
            return "POST", "/api/v1/station/lookup", json.dumps({"code": rng.choice(accessions),
                                                                 "mode": "lookup"}).encode()

        def ping(rng: random.Random):
            return "GET", "/api/v1/station/ping", None

        makers = {"trivial (ping)": ping, "scan lookup": lookup}
        measure(args.port, args.clients, min(800, args.requests), makers)  # warm-up
        results, wall = measure(args.port, args.clients, 2 * args.requests, makers)
        for name, lat in results.items():
            print(f"{name:15s}: n={len(lat):5d}  p50 {pct(lat, .5) * 1000:6.2f} ms  p99 "
                  f"{pct(lat, .99) * 1000:6.2f} ms  throughput {len(lat) / wall:7.0f} req/s (interleaved)",
                  flush=True)
        ratio = pct(results["scan lookup"], .99) / pct(results["trivial (ping)"], .99)
        print(f"scan lookup p99 / trivial p99 = {ratio:.2f} (target <= 2.00) with {args.clients} clients, "
              f"{args.workers} gunicorn workers, {args.samples:,} samples; total "
              f"{len(results['scan lookup']) + len(results['trivial (ping)'])} requests in {wall:.1f} s")
        print(f"median lookup latency: {statistics.median(results['scan lookup']) * 1000:.2f} ms; "
              f"median ping: {statistics.median(results['trivial (ping)']) * 1000:.2f} ms")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
