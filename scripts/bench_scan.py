#!/usr/bin/env python
"""Scan at scale: 20 scanners mixing look-ups and stores against N samples, beside a trivial endpoint, same
run.

Fills an empty database (migrated to the head) with N samples, every one in a box with its keyed custody
event (COPY on PostgreSQL; see scripts/bench_scan_fill.py), and per scanner (a technician at one site, half
with a cookie session, half with an API token) T received tubes and a few empty boxes of its own.

Then it starts gunicorn (W sync workers) on 127.0.0.1 and runs C scanner threads for S seconds, each picking
at random: a look-up of a random sample of its site (POST /api/v1/station/lookup), a store of its next tube
at the next free position of one of its boxes (POST /api/v1/storage/units/<id>/place with the position; a
tube already stored is moved), or the trivial GET /api/v1/station/ping (same app, same authentication, no
sample work), the baseline. It prints p50/p95/p99 of each, lookup p99 / ping p99 (target <= 2), the errors
(any unexpected status or broken connection) and checks every store answered 201: the tube's placement is
its last store, its chain holds exactly one stored/moved event per store, in order, each MAC verifies and
links to the previous one, and the chain head is the last event.

    .venv/bin/python scripts/bench_scan.py --samples 200000                    # SQLite
    .venv/bin/python scripts/bench_scan.py --samples 10000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:55432/empty_db

Accession IDs have 7 serial digits: samples beyond 9,999,999 take the prefix TC. Exits 1 when a check fails
(not when the latency target is missed: the figures say so).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_scan_fill import PASSWORD, SECRET, Fill, Scanner, accession, fill, label

from lims.core.database import make_engine
from lims.custody import chain, keys
from lims.custody.models import CustodyChain, CustodyEvent
from lims.samples.models import Sample
from lims.storage.models import Placement


# ----- scanners ----------------------------------------------------------------------------------------
class Client:
    """One keep-alive HTTP client with its own session cookie or API token."""

    def __init__(self, port: int, token: str | None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie, self.token = "", token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None,
                form: bool = False) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return 599, f"connection failed: {exc}".encode()
        for key, value in resp.getheaders():
            if key.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        return resp.status, payload

    def login(self, username: str) -> None:
        _status, page = self.request("GET", "/login")
        form = {"username": username, "password": PASSWORD}
        found = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
        if found:
            form["csrf_token"] = found.group(1).decode()
        status, _ = self.request("POST", "/login", form, form=True)
        if status != 302:
            raise SystemExit(f"login of {username} failed with HTTP {status}")


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=lambda: {"lookup": [], "store": [], "ping": []})
    errors: list[str] = field(default_factory=list)
    # tube -> [(box, position)] in order
    stores: dict[str, list[tuple[int, str]]] = field(default_factory=dict)


def _next_store(scanner: Scanner, n: int) -> tuple[str, int, int]:
    """Return the scanner's next (tube, box, slot): its tubes in turn, into the first other box with room."""
    tube = scanner.tubes[n % len(scanner.tubes)]
    current = scanner.where.get(tube, (None, None))[0]
    box = next(b for b in scanner.boxes if b != current and scanner.free[b])
    return tube, box, min(scanner.free[box])


def scan(port: int, fill: Fill, scanner: Scanner, seconds: float, seed: int, start: threading.Barrier,
         mix: tuple[float, float]) -> Tally:
    """Run one scanner until the time is up: look-ups, stores and pings in the proportions of ``mix``."""
    rng, tally, stores = random.Random(seed), Tally(), 0
    client = Client(port, scanner.token)
    if scanner.token is None:
        client.login(scanner.username)
    n_sites = len(fill.sites)
    at_site = len(range(scanner.site, fill.samples, n_sites))
    start.wait()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        roll = rng.random()
        if roll < mix[0]:
            kind, ok, code = "lookup", 200, accession(scanner.site + n_sites * rng.randrange(at_site))
            call: tuple[str, str, Any] = ("POST", "/api/v1/station/lookup", {"code": code, "mode": "lookup"})
        elif roll < mix[0] + mix[1]:
            kind, ok = "store", 201
            tube, box, slot = _next_store(scanner, stores)
            call = ("POST", f"/api/v1/storage/units/{box}/place", {"code": tube, "position": label(slot)})
        else:
            kind, ok, call = "ping", 200, ("GET", "/api/v1/station/ping", None)
        t = time.perf_counter()
        status, body = client.request(*call)
        tally.latency[kind].append(time.perf_counter() - t)
        if status != ok:
            tally.errors.append(f"{scanner.username} {call[0]} {call[1]}: HTTP {status} {body[:200]!r}")
        elif kind == "lookup" and json.loads(body)["sample"]["accession"] != code:
            tally.errors.append(f"{scanner.username} looked {code} up and got another sample")
        elif kind == "store":
            stores += 1
            old = scanner.where.get(tube)
            if old:
                scanner.free[old[0]].add(old[1])
            scanner.free[box].discard(slot)
            scanner.where[tube] = (box, slot)
            tally.stores.setdefault(tube, []).append((box, label(slot)))
    client.conn.close()
    return tally


def run_scanners(port: int, fill: Fill, seconds: float, mix: tuple[float, float]) -> tuple[Tally, float]:
    results: list[Tally] = []
    barrier = threading.Barrier(len(fill.scanners) + 1)

    def work(i: int, scanner: Scanner) -> None:
        results.append(scan(port, fill, scanner, seconds, i, barrier, mix))

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(fill.scanners)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    total = Tally()
    for tally in results:
        for kind, values in tally.latency.items():
            total.latency[kind] += values
        total.errors += tally.errors
        total.stores.update(tally.stores)
    return total, wall


# ----- checks and figures ------------------------------------------------------------------------------
def check_custody(url: str, instance: Path, fill: Fill,
                  stores: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Every 201 store is the tube's placement (the last one) and its own event in a custody chain that
    verifies."""
    key = keys.read_keyring(instance / keys.KEY_FILE_NAME)
    problems: list[str] = []
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(Sample.accession, Sample.id)
                                .where(Sample.accession.in_(list(stores)))).all())
        placed = {r.sample_id: (r.unit_id, r.row, r.col) for r in conn.execute(
            select(Placement).where(Placement.sample_id.in_(list(ids.values()))))}
        heads = {r.sample_id: (r.seq, r.mac) for r in conn.execute(
            select(CustodyChain).where(CustodyChain.sample_id.in_(list(ids.values()))))}
        events: dict[int, list[Any]] = {}
        for e in conn.execute(select(CustodyEvent).where(CustodyEvent.sample_id.in_(list(ids.values())))
                              .order_by(CustodyEvent.sample_id, CustodyEvent.seq)):
            events.setdefault(e.sample_id, []).append(e)
    engine.dispose()
    for tube, done in stores.items():
        sid = ids[tube]
        box, position = done[-1]
        if placed.get(sid) is None or (placed[sid][0],
                                       label((placed[sid][1] - 1) * 9 + placed[sid][2] - 1)) != (
                box, position):
            problems.append(f"{tube}: placed at {placed.get(sid)}, but its last store answered 201 was "
                            f"{done[-1]}")
        chain_ = events.get(sid, [])
        seen = [(e.details.get("unit"), e.details.get("position"))
                for e in chain_ if e.action in ("stored", "moved")]
        if seen != [(fill.barcodes[b], p) for b, p in done]:
            problems.append(f"{tube}: custody events {seen} differ from its stores answered 201 {done}")
        prev = chain.GENESIS
        for seq, e in enumerate(chain_, start=1):
            content = chain.event_content(
                sample_id=sid, seq=e.seq, epoch=e.epoch, action=e.action, at=e.at, user_id=e.user_id,
                site_code=e.site_code, from_location=e.from_location, to_location=e.to_location,
                reason=e.reason,
                details=e.details, corrects=None)
            if e.seq != seq or e.prev_mac != prev or not chain.same_mac(
                    e.mac, chain.event_mac(key.keys[e.epoch], prev, content)):
                problems.append(f"{tube}: custody event {e.seq} does not verify")
            prev = e.mac
        if chain_ and heads.get(sid) != (chain_[-1].seq, chain_[-1].mac):
            problems.append(f"{tube}: chain head {heads.get(sid)} is not its last event")
    return problems


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def serve(url: str, instance: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start gunicorn on ``url`` and wait until it answers."""
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(instance),
           "LIMS_SECRET_KEY": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b",
                               f"127.0.0.1:{port}",
                               "--preload", "--timeout", "120", "--graceful-timeout", "5", "--log-level",
                               "warning",
                               "lims.wsgi:app"], cwd=ROOT, env=env)
    for _ in range(1800):  # a loaded machine may take a while to import and fork
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped before answering")
        time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    raise SystemExit("gunicorn did not answer within 3 minutes")


def run(url: str, instance: Path, *, samples: int, clients: int, tubes: int, seconds: float, warmup: float,
        workers: int, port: int, mix: tuple[float, float]) -> dict[str, Any]:
    """Fill, serve, warm up, measure and check; return the figures."""
    fill_ = fill(url, instance, samples=samples, clients=clients, tubes=tubes)
    server = serve(url, instance, port, workers)
    try:
        if warmup:
            run_scanners(port, fill_, warmup, (mix[0] + mix[1] / 2, 0.0))  # look-ups and pings only
        tally, wall = run_scanners(port, fill_, seconds, mix)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    problems = tally.errors[:20] + check_custody(url, instance, fill_, tally.stores)
    figures: dict[str, Any] = {"samples": samples, "scanners": clients, "workers": workers,
                               "seconds": round(wall, 1),
                               "errors": len(tally.errors),
                               "stores_201": sum(map(len, tally.stores.values())),
                               "tubes_stored": len(tally.stores)}
    for kind, values in tally.latency.items():
        figures[kind] = {"n": len(values),
                         **{f"p{q}_ms": round(pct(values, q / 100) * 1000, 2) for q in (50, 95, 99)}}
    figures["requests"] = sum(f["n"] for f in (figures["lookup"], figures["store"], figures["ping"]))
    figures["lookup_p99_vs_ping_p99"] = round(figures["lookup"]["p99_ms"] / figures["ping"]["p99_ms"], 2)
    figures["store_p99_vs_ping_p99"] = round(figures["store"]["p99_ms"] / figures["ping"]["p99_ms"], 2)
    figures["problems"] = problems
    figures["ok"] = not problems and not tally.errors
    figures["target_met"] = figures["lookup_p99_vs_ping_p99"] <= 2.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=None,
                        help="URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--clients", type=int, default=20,
                        help="concurrent scanners (half cookie, half token)")
    parser.add_argument("--tubes", type=int, default=300, help="received tubes per scanner to store")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of look-ups and pings before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--lookups", type=float, default=0.55, help="share of look-ups")
    parser.add_argument("--stores", type=float, default=0.25, help="share of stores (the rest: pings)")
    parser.add_argument("--port", type=int, default=18767)
    parser.add_argument("--json", type=Path, default=None, help="write the figures and checks to this file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    print(f"database: {make_url(url).render_as_string(hide_password=True)}; samples: {args.samples:,}",
          flush=True)
    f = run(url, tmp / "instance", samples=args.samples, clients=args.clients, tubes=args.tubes,
            seconds=args.seconds, warmup=args.warmup, workers=args.workers, port=args.port,
            mix=(args.lookups, args.stores))
    for kind in ("lookup", "store", "ping"):
        print(f"{kind:7s} n={f[kind]['n']:6d}  p50 {f[kind]['p50_ms']:8.2f} ms  p95 {f[kind]['p95_ms']:8.2f} "
              f"ms  p99 {f[kind]['p99_ms']:8.2f} ms")
    print(f"{f['requests']} requests in {f['seconds']} s ({f['requests'] / f['seconds']:.0f} req/s) from "
          f"{f['scanners']} scanners on {f['workers']} gunicorn workers, {f['samples']:,} samples")
    print(f"lookup p99 / trivial p99 = {f['lookup_p99_vs_ping_p99']:.2f} (target <= 2.00: "
          f"{'met' if f['target_met'] else 'MISSED'}); "
          f"store p99 / trivial p99 = {f['store_p99_vs_ping_p99']:.2f}")
    print(f"errors: {f['errors']}; stores answered 201: {f['stores_201']} ({f['tubes_stored']} tubes), "
          f"each checked against its placement and its custody chain: {len(f['problems'])} problems")
    for problem in f["problems"]:
        print(f"PROBLEM: {problem}")
    print("OK" if f["ok"] else "FAILED")
    if args.json:
        args.json.write_text(json.dumps(f, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if f["ok"] else 1)


if __name__ == "__main__":
    main()
