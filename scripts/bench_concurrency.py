#!/usr/bin/env python
"""Concurrent scanners on gunicorn: no server error, every store in the database and in custody, one race
winner.

Fills a fresh database (the demo trial with ``--demo N``, plus a generated fill: per scanner a technician
at one of the four sites with its own tubes, stored in its site's boxes), starts gunicorn with several
workers on 127.0.0.1 and runs C concurrent scanners for S seconds, half logged in with a cookie session
and half with an API token. Each scanner looks tubes of its site up (POST /api/v1/station/lookup), stores
its own tubes into another box of its site (POST /api/v1/storage/units/<id>/place, next free position)
and calls the trivial GET /api/v1/station/ping, whose latency in the same run is the baseline.

Then it checks: no answer >= 500 (or broken connection); every store answered 201 is the tube's placement
(the last one) and has exactly its custody event, in order; and in a race of R clients (half cookie, half
token) for position A1 of one empty box: exactly one winner, everyone else 409, no server error.

    .venv/bin/python scripts/bench_concurrency.py                          # SQLite, 20 scanners, 60 s
    .venv/bin/python scripts/bench_concurrency.py --database-url postgresql+psycopg://u@host/empty_db

Exits 1 when a check fails; ``--json FILE`` writes the figures and the checks.
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims import create_app
from lims.accounts.service import add_user, create_token
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.core.uow import unit_of_work
from lims.custody.models import CustodyEvent
from lims.extensions import db
from lims.participants.service import enrol, plan_visits, record_consent
from lims.samples.models import Sample
from lims.samples.service import register_primary
from lims.storage.models import Placement, StorageUnit
from lims.storage.service import create_unit, place_sample
from lims.studies.protocol import load_protocol
from lims.studies.service import get_study, install_protocol

PASSWORD = "benchmark password 1"
SECRET = "bench-concurrency-secret"


@dataclass
class Scanner:
    username: str
    site: str
    token: str | None  # None: logs in with a cookie session
    tubes: list[str]
    box_of: dict[str, int]  # tube -> the box it is in now (as this scanner knows)


@dataclass
class World:
    scanners: list[Scanner]
    boxes: dict[str, list[int]]  # site -> box ids
    site_tubes: dict[str, list[str]]
    race_box: int
    race_tubes: list[str]
    racer_token: str


def _tubes(session: Any, study: Any, site: Any, code: str, user: Any, count: int) -> list[Sample]:
    p = enrol(session, study, site=site, code=code, enrolled_on=date(2025, 1, 6), sex="M", age=60, ecog=0)
    record_consent(session, p, version="1", signed_on=date(2025, 1, 6), scopes={"MARKER_RESEARCH": True})
    p.rt_start_on = date(2025, 1, 20)
    session.flush()
    plan_visits(session, p)
    visit = next(v for v in p.visits if v.timepoint.code == "BASELINE")
    visit.status, visit.actual_on = "done", date(2025, 1, 8)
    plasma = next(t for t in study.sample_types if t.code == "CTDNA_PLASMA")
    return [register_primary(session, visit, None, sample_type=plasma, quantity=1.0, unit="ml", by=user,
                             collected_at=datetime(2025, 1, 8, 9, 0, tzinfo=UTC)) for _ in range(count)]


def fill(url: str, instance: Path, *, clients: int, tubes: int, race: int, demo: int) -> World:
    """Migrate the empty database at ``url`` and fill it: (demo), scanners with tubes in boxes, the race
    box."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": SECRET})
    with app.app_context(), unit_of_work(db.session) as session:
        if demo:
            from lims import demo as demo_module

            demo_module.load(session, participants=demo, instance_path=str(instance),
                             protocol_path=str(DEFAULT_PROTOCOL))
        else:
            install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
        study = get_study(session)
        sites = [ss.site for ss in study.sites]
        scanners, boxes, site_tubes = [], {s.code: [] for s in sites}, {s.code: [] for s in sites}
        per_site = -(-clients // len(sites)) * tubes
        for site in sites:
            freezer = create_unit(session, site=site, kind="freezer", name=f"{site.code} bench freezer",
                                  barcode=f"{site.code}-BFRZ", set_temp_c=-80.0)
            rack = create_unit(session, site=site, kind="rack", name="Bench rack",
                               barcode=f"{site.code}-BRCK",
                               parent=freezer)
            for b in range(per_site // 81 + 3):
                boxes[site.code].append(create_unit(session, site=site, kind="box", name=f"Bench box {b + 1}",
                                                    barcode=f"{site.code}-BBX{b + 1}", parent=rack, rows=9,
                                                    cols=9).id)
        for i in range(clients):
            site = sites[i % len(sites)]
            user = add_user(session, username=f"scanner{i}", password=PASSWORD, role="technician",
                            full_name=f"Scanner {i}", site_codes=(site.code,))
            mine = _tubes(session, study, site, f"{site.code}-BENCH{i}", user, tubes)
            token = create_token(session, user, name="bench")[1] if i % 2 else None
            scanners.append(Scanner(user.username, site.code, token, [t.accession for t in mine], {}))
            site_tubes[site.code] += [t.accession for t in mine]
        by_accession = {s.accession: s for s in session.scalars(select(Sample).where(
            Sample.accession.in_([t for sc in scanners for t in sc.tubes])))}
        for scanner in scanners:
            for n, tube in enumerate(scanner.tubes):  # every tube starts in one of its site's first two boxes
                box = session.get(StorageUnit, boxes[scanner.site][n % 2])
                place_sample(session, by_accession[tube], box, by=None)
                scanner.box_of[tube] = box.id
        zj = next(s for s in sites if s.code == "ZJ")
        racer = add_user(session, username="racer", password=PASSWORD, role="technician", full_name="Racer",
                         site_codes=("ZJ",))
        race_box = create_unit(session, site=zj, kind="box", name="Race box", barcode="ZJ-RACE", rows=9,
                               cols=9)
        race_tubes = [t.accession for t in _tubes(session, study, zj, "ZJ-RACE", racer, race)]
        racer_token = create_token(session, racer, name="race")[1]
    return World(scanners, boxes, site_tubes, race_box.id, race_tubes, racer_token)


class Client:
    """One HTTP client: a cookie session (logged in through the login form) or an API token."""

    def __init__(self, port: int, *, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.token = token
        self.cookie = ""

    def request(self, method: str, path: str, body: Any = None, form: bool = False) -> tuple[int, bytes]:
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
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
            return 599, f"connection failed: {exc}".encode()  # counted as a server error
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


def client_for(port: int, username: str, token: str | None) -> Client:
    client = Client(port, token=token)
    if token is None:
        client.login(username)
    return client


@dataclass
class Tally:
    """What the scanners saw: latencies and statuses per kind of request, and the stores answered 201."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {"lookup": [], "store": [], "ping": []})
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # tube -> [(box, position)] in order
    stores: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for kind, values in other.latency.items():
            self.latency[kind] += values
        for key, n in other.statuses.items():
            self.statuses[key] = self.statuses.get(key, 0) + n
        self.errors += other.errors
        self.stores.update(other.stores)


def scan(port: int, world: World, scanner: Scanner, seconds: float, seed: int,
         start: threading.Barrier) -> Tally:
    """Run one scanner until the time is up: 60 % look-ups, 30 % stores of its own tubes, 10 % pings."""
    rng, tally = random.Random(seed), Tally()
    client = client_for(port, scanner.username, scanner.token)
    start.wait()
    deadline, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < deadline:
        roll, n = rng.random(), n + 1
        if roll < 0.6:
            kind, ok = "lookup", (200,)
            call = ("POST", "/api/v1/station/lookup",
                    {"code": rng.choice(world.site_tubes[scanner.site]), "mode": "lookup"})
        elif roll < 0.9:
            kind, ok = "store", (201, 409)
            tube = scanner.tubes[n % len(scanner.tubes)]
            box = rng.choice([b for b in world.boxes[scanner.site] if b != scanner.box_of[tube]])
            call = ("POST", f"/api/v1/storage/units/{box}/place", {"code": tube})
        else:
            kind, ok, call = "ping", (200,), ("GET", "/api/v1/station/ping", None)
        t = time.perf_counter()
        status, body = client.request(*call)
        tally.latency[kind].append(time.perf_counter() - t)
        key = f"{kind} {status}"
        tally.statuses[key] = tally.statuses.get(key, 0) + 1
        if status not in ok:
            tally.errors.append(f"{scanner.username} {call[1]}: HTTP {status} {body[:200]!r}")
        elif kind == "store" and status == 201:
            placed = json.loads(body)
            scanner.box_of[tube] = box
            tally.stores.setdefault(tube, []).append((box, placed["position"]))
    client.conn.close()
    return tally


def run_scanners(port: int, world: World, seconds: float) -> tuple[Tally, float]:
    results: list[Tally] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(world.scanners) + 1)

    def work(i: int, scanner: Scanner) -> None:
        tally = scan(port, world, scanner, seconds, i, barrier)
        with lock:
            results.append(tally)

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(world.scanners)]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    total = Tally()
    for tally in results:
        total.add(tally)
    return total, wall


def check_stores(url: str, tally: Tally, first_event: int) -> list[str]:
    """Every 201 store is the tube's placement (the last one) and has its own custody event, in order."""
    from sqlalchemy.orm import Session

    problems = []
    engine = make_engine(url)
    with Session(engine) as session:
        samples = {s.accession: s for s in session.scalars(select(Sample).where(
            Sample.accession.in_(list(tally.stores))))}
        barcodes = dict(session.execute(select(StorageUnit.id, StorageUnit.barcode)).all())
        for tube, stores in tally.stores.items():
            sample = samples[tube]
            placement = session.get(Placement, sample.id)
            now = (placement.unit_id, placement.position_label) if placement else None
            if now != stores[-1]:
                problems.append(f"{tube}: placed at {now}, but its last store answered 201 was {stores[-1]}")
            events = session.scalars(select(CustodyEvent).where(
                CustodyEvent.sample_id == sample.id, CustodyEvent.id >= first_event,
                CustodyEvent.action.in_(("stored", "moved"))).order_by(CustodyEvent.id)).all()
            seen = [(e.details.get("unit"), e.details.get("position")) for e in events]
            wanted = [(barcodes[box], position) for box, position in stores]
            if seen != wanted:
                problems.append(f"{tube}: custody events {seen} differ from the stores answered 201 {wanted}")
    engine.dispose()
    return problems


def last_event_id(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        value = conn.scalar(select(func.max(CustodyEvent.id))) or 0
    engine.dispose()
    return value + 1


def race(port: int, url: str, world: World) -> dict[str, Any]:
    """Send one place-at-A1 per race tube to one empty box at the same instant (half cookie, half token)."""
    clients = [client_for(port, "racer", world.racer_token if i % 2 else None)
               for i in range(len(world.race_tubes))]
    first_event = last_event_id(url)
    barrier = threading.Barrier(len(clients))
    answers: list[int] = [0] * len(clients)

    def go(i: int) -> None:
        barrier.wait()
        answers[i], _ = clients[i].request("POST", f"/api/v1/storage/units/{world.race_box}/place",
                                           {"code": world.race_tubes[i], "position": "A1"})

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in clients:
        client.conn.close()
    engine = make_engine(url)
    with engine.connect() as conn:
        held = conn.execute(select(Sample.accession).join(Placement, Placement.sample_id == Sample.id)
                            .where(Placement.unit_id == world.race_box)).scalars().all()
        events = conn.scalar(select(func.count(CustodyEvent.id))
                             .join(Sample, Sample.id == CustodyEvent.sample_id)
                             .where(CustodyEvent.id >= first_event, Sample.accession.in_(world.race_tubes)))
    engine.dispose()
    winners = [world.race_tubes[i] for i, status in enumerate(answers) if status == 201]
    problems = []
    if len(winners) != 1 or held != winners or events != 1:
        problems.append(f"race: winners {winners}, box holds {held}, {events} custody events")
    if any(status not in (201, 409) for status in answers):
        problems.append(f"race: answers {sorted(answers)}")
    return {"clients": len(clients), "winners": len(winners), "server_errors": sum(s >= 500 for s in answers),
            "answers": {str(s): answers.count(s) for s in sorted(set(answers))}, "problems": problems}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


def serve(url: str, instance: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Start gunicorn on ``url`` and wait until it answers."""
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(instance),
           "LIMS_SECRET_KEY": SECRET,
           # every simulated bench logs in from 127.0.0.1: one address standing for many, so its login limit
           # is raised here (the per-account limits stay as configured)
           "LIMS_RATELIMIT_LOGIN_ADDRESS": "10000 per minute"}
    # --preload: the app is imported once and forked (it opens no connection before the fork).
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b",
                               f"127.0.0.1:{port}",
                               "--preload", "--graceful-timeout", "5", "--log-level", "warning",
                               "lims.wsgi:app"], cwd=ROOT, env=env)
    for _ in range(300):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped before answering")
        time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    raise SystemExit("gunicorn did not answer within 30 s")


def report(tally: Tally, wall: float, world: World) -> dict[str, Any]:
    requests = sum(len(v) for v in tally.latency.values())
    server_errors = sum(n for key, n in tally.statuses.items() if int(key.rsplit(" ", 1)[1]) >= 500)
    figures: dict[str,
                  Any] = {"scanners": len(world.scanners), "seconds": round(wall, 1), "requests": requests,
                               "throughput": round(requests / wall, 1), "server_errors": server_errors,
                               "statuses": dict(sorted(tally.statuses.items())),
                               "stores_201": sum(len(v) for v in tally.stores.values())}
    for kind, values in tally.latency.items():
        figures[kind] = {"n": len(values), "p50_ms": round(pct(values, .5) * 1000, 2),
                         "p99_ms": round(pct(values, .99) * 1000, 2)}
    for kind in ("lookup", "store"):
        figures[f"{kind}_vs_ping"] = {q: round(pct(tally.latency[kind], v) / pct(tally.latency["ping"], v), 2)
                                      for q, v in (("p50", .5), ("p99", .99))}
    return figures


def run(url: str, *, clients: int, seconds: float, workers: int, tubes: int, race_size: int, demo: int,
        port: int, instance: Path) -> dict[str, Any]:
    """Fill the empty database at ``url``, serve it, run the scanners and the race; return figures and
    checks."""
    t0 = time.perf_counter()
    world = fill(url, instance, clients=clients, tubes=tubes, race=race_size, demo=demo)
    print(f"filled in {time.perf_counter() - t0:.1f} s: {clients} scanners x {tubes} tubes, "
          f"{race_size} race tubes{f', demo of {demo} participants' if demo else ''}", flush=True)
    server = serve(url, instance, port, workers)
    print(f"gunicorn answering after {time.perf_counter() - t0:.1f} s", flush=True)
    try:
        first_event = last_event_id(url)
        tally, wall = run_scanners(port, world, seconds)
        figures = report(tally, wall, world)
        problems = tally.errors[:20] + check_stores(url, tally, first_event)
        print(f"scanners done and checked after {time.perf_counter() - t0:.1f} s", flush=True)
        figures["race"] = race(port, url, world)
        problems += figures["race"].pop("problems")
        print(f"race done after {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        print(f"gunicorn stopped after {time.perf_counter() - t0:.1f} s", flush=True)
    figures["problems"] = problems
    figures["ok"] = not problems and figures["server_errors"] == 0 and figures["race"]["server_errors"] == 0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None,
                        help="URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--clients", type=int, default=20,
                        help="concurrent scanners (half cookie, half token)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--tubes", type=int, default=20, help="tubes per scanner")
    parser.add_argument("--race", type=int, default=50, help="clients racing for one box position")
    parser.add_argument("--demo", type=int, default=0, help="also load the demo trial with N participants")
    parser.add_argument("--port", type=int, default=18766)
    parser.add_argument("--json", type=Path, default=None, help="write the figures and checks to this file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-concurrency-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    print(f"database: {make_url(url).render_as_string(hide_password=True)}", flush=True)
    figures = run(url, clients=args.clients, seconds=args.seconds, workers=args.workers, tubes=args.tubes,
                  race_size=args.race, demo=args.demo, port=args.port, instance=tmp / "instance")
    for kind in ("lookup", "store", "ping"):
        f = figures[kind]
        print(f"{kind:7s} n={f['n']:6d}  p50 {f['p50_ms']:8.2f} ms  p99 {f['p99_ms']:8.2f} ms")
    print(f"requests {figures['requests']} in {figures['seconds']} s ({figures['throughput']} req/s) with "
          f"{figures['scanners']} scanners on {args.workers} gunicorn workers; server errors "
          f"{figures['server_errors']}; stores answered 201: {figures['stores_201']}")
    print(f"ratio to the trivial endpoint (same run): lookup p50 x{figures['lookup_vs_ping']['p50']} "
          f"p99 x{figures['lookup_vs_ping']['p99']}; store p50 x{figures['store_vs_ping']['p50']} "
          f"p99 x{figures['store_vs_ping']['p99']}")
    print(f"statuses: {figures['statuses']}")
    r = figures["race"]
    print(f"race of {r['clients']} for one position: {r['winners']} winner(s), answers {r['answers']}, "
          f"server errors {r['server_errors']}")
    for problem in figures["problems"]:
        print(f"PROBLEM: {problem}")
    print("OK" if figures["ok"] else "FAILED")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if figures["ok"] else 1)


if __name__ == "__main__":
    main()
