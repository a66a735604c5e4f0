#!/usr/bin/env python
"""Scan at scale: 20 scanners mixing look-ups and stores against N samples, beside a trivial endpoint, same run.

Fills an empty database (migrated to the head) with N samples: participants, baseline visits, samples held at
four sites (``sample_site``), every sample in a 9 x 9 box of its site's freezer with its keyed ``stored`` custody
event and chain head, sealed with the instance's custody key. On PostgreSQL the rows go in with COPY (foreign-key
triggers off and secondary indexes rebuilt afterwards: the rows are consistent by construction); on SQLite with
one executemany per table. Per scanner (a technician at one site, half with a cookie session, half with an API
token) it adds T received tubes and a few empty boxes of its own.

Then it starts gunicorn (W sync workers) on 127.0.0.1 and runs C scanner threads for S seconds, each picking
at random: a look-up of a random sample of its site (POST /api/v1/station/lookup), a store of its next tube
at the next free position of one of its boxes (POST /api/v1/storage/units/<id>/place with the position; a
tube already stored is moved), or the trivial GET /api/v1/station/ping (same app, same authentication, no
sample work), the baseline. It prints p50/p95/p99 of each, lookup p99 / ping p99 (target <= 2), the errors
(any unexpected status or broken connection) and checks every store answered 201: the tube's placement is
its last store, its chain holds exactly one stored/moved event per store, in order, each MAC verifies and
links to the previous one, and the chain head is the last event.

    .venv/bin/python scripts/bench_scan_pg.py --samples 200000                    # SQLite
    .venv/bin/python scripts/bench_scan_pg.py --samples 10000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:55432/empty_db

Accession IDs have 7 serial digits: samples beyond 9,999,999 take the prefix TC. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
from collections import deque
import hmac
import http.client
import json
import multiprocessing
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims import create_app
from lims.accounts.models import User
from lims.accounts.service import add_user, create_token
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.core.uow import unit_of_work
from lims.custody import chain, keys
from lims.custody.models import CustodyChain, CustodyEvent
from lims.custody.service import writing_keyring
from lims.extensions import db
from lims.samples.accession import MAX_SERIAL, make_accession
from lims.samples.models import Sample
from lims.storage.models import Placement, StorageUnit
from lims.storage.service import create_unit
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

PASSWORD = "benchmark password 1"
SECRET = "bench-scan-pg-secret"
CHUNK = 100_000
BOX = 81  # 9 x 9
BOXES_PER_RACK = 12
SAMPLES_PER_PARTICIPANT = 200
BULK_TABLES = ("participant", "visit", "sample", "sample_site", "storage_unit", "placement", "custody_event",
               "custody_chain")


def accession(i: int) -> str:
    """Return the accession ID of the i-th filled sample (0-based): TB up to 9,999,999, then TC."""
    return make_accession(i + 1, "TB") if i < MAX_SERIAL else make_accession(i + 1 - MAX_SERIAL, "TC")


def label(slot: int) -> str:
    """Return the A1 label of slot 0..80 of a 9 x 9 box."""
    return f"{chr(ord('A') + slot // 9)}{slot % 9 + 1}"


# ----- fill --------------------------------------------------------------------------------------------
@dataclass
class Scanner:
    """One scan station: a technician at one site, its tubes and its boxes (nobody else stores into them)."""

    username: str
    site: int  # index into Fill.sites
    token: str | None  # None: logs in with a cookie session
    tubes: list[str]
    boxes: list[int]
    free: dict[int, set[int]] = field(default_factory=dict)  # box -> free slots
    where: dict[str, tuple[int, int]] = field(default_factory=dict)  # tube -> (box, slot), as this scanner knows


@dataclass
class Fill:
    samples: int
    sites: list[tuple[int, str]]  # (id, code)
    scanners: list[Scanner]
    barcodes: dict[int, str]  # scanner box id -> barcode


class Bulk:
    """Append rows to tables with explicit ids: COPY on PostgreSQL, executemany elsewhere."""

    def __init__(self, conn: Connection) -> None:
        self.conn, self.pg = conn, conn.dialect.name == "postgresql"

    def next_id(self, table: str) -> int:
        return (self.conn.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1

    def when(self, iso: str) -> str:
        """Return a UTC timestamp as the column expects it (SQLite keeps naive UTC)."""
        return f"{iso}+00" if self.pg else f"{iso}.000000"

    def write(self, table: str, columns: str, rows: Iterable[tuple[Any, ...]] | str) -> None:
        names = [c.strip() for c in columns.split(",")]
        raw = self.conn.connection.driver_connection
        if isinstance(rows, str):
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                copy.write(rows)
            return
        if not self.pg:
            cur = raw.cursor()
            cur.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
            cur.close()
            return
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            block: list[str] = []
            for row in rows:  # values never hold tabs, newlines or backslashes
                block.append("\t".join("\\N" if v is None else str(v) for v in row))
                if len(block) == 20_000:
                    copy.write("\n".join(block) + "\n")
                    block = []
            if block:
                copy.write("\n".join(block) + "\n")


def _drop_indexes(conn: Connection) -> list[str]:
    """Drop the secondary indexes of the bulk tables (PostgreSQL); return their definitions to rebuild them."""
    rows = conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:t) AND schemaname = current_schema() "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"), {"t": list(BULK_TABLES)}).all()
    for name, _ in rows:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in rows]


def setup(url: str, instance: Path, *, clients: int, tubes: int) -> tuple[list[Scanner], dict[int, str], int]:
    """Install the protocol, the scanners (users, tokens, their own boxes) and the custody epoch."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": SECRET})
    with app.app_context(), unit_of_work(db.session) as session:
        study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
        sites = [ss.site for ss in study.sites]
        add_user(session, username="bench", password=PASSWORD, role="lab_manager", full_name="Bench")
        writing_keyring(session)  # creates the key file and the custody epoch
        scanners, barcodes = [], {}
        for s, site in enumerate(sites):
            freezer = create_unit(session, site=site, kind="freezer", name=f"{site.code} scan freezer",
                                  barcode=f"{site.code}-SFRZ", set_temp_c=-80.0)
            rack = create_unit(session, site=site, kind="rack", name="Scan rack", barcode=f"{site.code}-SRCK",
                               parent=freezer)
            for i in range(s, clients, len(sites)):
                user = add_user(session, username=f"scanner{i}", password=PASSWORD, role="technician",
                                full_name=f"Scanner {i}", site_codes=(site.code,))
                boxes = [create_unit(session, site=site, kind="box", name=f"Scan box {i}.{b + 1}",
                                     barcode=f"{site.code}-S{i}B{b + 1}", parent=rack, rows=9, cols=9)
                         for b in range(-(-tubes // BOX) + 1)]
                barcodes.update({b.id: b.barcode for b in boxes})
                token = create_token(session, user, name="bench")[1] if i % 2 else None
                scanners.append(Scanner(user.username, s, token, [], [b.id for b in boxes],
                                        {b.id: set(range(BOX)) for b in boxes}))
        user_id = session.scalar(select(User.id).where(User.username == "bench"))
    scanners.sort(key=lambda sc: int(sc.username.removeprefix("scanner")))
    return scanners, barcodes, user_id


def fill(url: str, instance: Path, *, samples: int, clients: int, tubes: int) -> Fill:
    """Fill the empty database at ``url``; return the scanners and what they need to know."""
    t0 = time.perf_counter()
    scanners, barcodes, user_id = setup(url, instance, clients=clients, tubes=tubes)
    engine = make_engine(url)
    with engine.begin() as conn:
        bulk = Bulk(conn)
        rebuild = _drop_indexes(conn) if bulk.pg else []
        if bulk.pg:  # no foreign-key triggers while filling: the rows are consistent by construction
            conn.execute(text("SET session_replication_role = replica"))
        study_id = conn.scalar(text("SELECT id FROM study"))
        sites = [tuple(r) for r in conn.execute(text(
            "SELECT site.id, site.code FROM site JOIN study_site ON study_site.site_id = site.id ORDER BY site.id"))]
        baseline = conn.scalar(text("SELECT id FROM timepoint WHERE code = 'BASELINE'"))
        types = list(conn.scalars(text("SELECT id FROM sample_type WHERE code IN "
                                       "('CTDNA_PLASMA', 'SERUM', 'STOOL', 'PBMC') ORDER BY id")))
        keyring = keys.read_keyring(instance / keys.KEY_FILE_NAME)
        _fill_rows(bulk, samples=samples, scanners=scanners, sites=sites, study_id=study_id, baseline=baseline,
                   types=types, user_id=user_id, keyring=keyring, tubes=tubes, t0=t0)
        if bulk.pg:
            conn.execute(text("SET session_replication_role = origin"))
            for definition in rebuild:
                conn.execute(text(definition))
            for table in ("participant", "visit", "sample", "storage_unit", "custody_event"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("INSERT INTO accession_counter (study_id, last_serial) VALUES (:s, :n)"),
                     {"s": study_id, "n": min(samples, MAX_SERIAL)})
        print(f"  indexes and sequences: {time.perf_counter() - t0:.1f} s", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM ANALYZE"))
        total = conn.scalar(select(func.count(Sample.id)))
    engine.dispose()
    print(f"filled {total:,} samples with placements and custody in {time.perf_counter() - t0:.1f} s", flush=True)
    return Fill(samples, sites, scanners, barcodes)


def _fill_rows(bulk: Bulk, *, samples: int, scanners: list[Scanner], sites: list[tuple[int, str]], study_id: int,
               baseline: int, types: list[int], user_id: int, keyring: Any, tubes: int, t0: float) -> None:
    """Participants, visits, boxes, samples with placements and custody, then each scanner's received tubes."""
    n_sites = len(sites)
    n_participants = max(samples // SAMPLES_PER_PARTICIPANT // n_sites, 1) * n_sites  # participant p at site p % 4
    p0, v0 = bulk.next_id("participant"), bulk.next_id("visit")
    bulk.write("participant", "id, study_id, site_id, code, enrolled_on, sex, age, ecog", (
        (p0 + p, study_id, sites[p % n_sites][0], f"{sites[p % n_sites][1]}-B{p:07d}", "2024-01-01", "M", 60, 0)
        for p in range(n_participants + n_sites)))  # the last n_sites participants give the scanners' tubes
    created = bulk.when("2024-06-01 08:00:00")
    bulk.write("visit", "id, participant_id, timepoint_id, occurrence, status, actual_on, created_at", (
        (v0 + p, p0 + p, baseline, 1, "done", "2024-06-01", created) for p in range(n_participants + n_sites)))
    # Sample i is at site i % n_sites (participant i % n_participants); the k-th of a site is in its box k // 81.
    per_site = -(-samples // n_sites)
    u0 = bulk.next_id("storage_unit")
    boxes_per_site = -(-per_site // BOX)
    racks_per_site = -(-boxes_per_site // BOXES_PER_RACK)
    per_site_units = 1 + racks_per_site + boxes_per_site
    bulk.write("storage_unit", "id, site_id, parent_id, kind, name, barcode, set_temp_c, rows, cols, label_scheme, "
               "version", _units(u0, sites, racks_per_site, boxes_per_site))
    print(f"  participants, visits, {per_site_units * n_sites:,} units: {time.perf_counter() - t0:.1f} s", flush=True)
    s0, e0 = bulk.next_id("sample"), bulk.next_id("custody_event")
    layout = Layout(bulk.pg, s0, e0, p0, v0, u0 + 1 + racks_per_site, per_site_units, n_participants, sites, study_id,
                    types, user_id, keyring.epoch, keyring.key, created)
    chunks = [(start, min(start + CHUNK, samples)) for start in range(0, samples, CHUNK)]
    # Two processes format the rows (and MAC the events) while this one streams them into the database.
    # At most four chunks wait in memory.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pending = deque(pool.apply_async(_chunk, (layout, c)) for c in chunks[:4])
        for k, (_, stop) in enumerate(chunks):
            tables = pending.popleft().get()
            if k + 4 < len(chunks):
                pending.append(pool.apply_async(_chunk, (layout, chunks[k + 4])))
            for table, columns, rows in tables:
                bulk.write(table, columns, rows)
            print(f"  samples {stop:>11,}: {time.perf_counter() - t0:.1f} s", flush=True)
    _fill_tubes(bulk, scanners, sites, samples=samples, s0=s0, e0=e0, p0=p0 + n_participants,
                v0=v0 + n_participants, study_id=study_id, types=types, user_id=user_id, keyring=keyring,
                tubes=tubes)


@dataclass(frozen=True)
class Layout:
    """Where the filled rows go: first ids, sites, and what every sample shares."""

    pg: bool
    s0: int  # first sample id
    e0: int  # first custody event id
    p0: int  # first participant id (visit v0 + p belongs to participant p0 + p)
    v0: int
    box0: int  # first box of the first site; a site's units are per_site_units further on
    per_site_units: int
    participants: int
    sites: list[tuple[int, str]]
    study_id: int
    types: list[int]
    user_id: int
    epoch: int
    key: bytes
    created: str


SAMPLE_COLUMNS = ("id, accession, study_id, participant_id, visit_id, sample_type_id, site_id, derivation, status, "
                  "quantity, initial_quantity, unit, freeze_thaw_count, collected_at, created_at")
EVENT_COLUMNS = "id, sample_id, seq, epoch, action, at, user_id, site_code, to_location, details, prev_mac, mac"


def _chunk(lay: Layout, bounds: tuple[int, int]) -> list[tuple[str, str, Any]]:
    """Return the rows of samples ``bounds`` for each table (as COPY text on PostgreSQL)."""
    ids, n, sites, created = range(*bounds), len(lay.sites), lay.sites, lay.created
    samples = [(lay.s0 + i, accession(i), lay.study_id, lay.p0 + i % lay.participants, lay.v0 + i % lay.participants,
                lay.types[i % len(lay.types)], sites[i % n][0], "primary", "in_storage", 1.0, 1.0, "ml", 0, created,
                created) for i in ids]
    held = [(lay.s0 + i, sites[i % n][0], created) for i in ids]
    # The k-th sample of a site (k = i // n) is in its box k // 81, at slot k % 81.
    placed = [(lay.s0 + i, lay.box0 + (i % n) * lay.per_site_units + (i // n) // BOX, (i // n) % BOX // 9 + 1,
               (i // n) % 9 + 1, 1) for i in ids]
    events = list(_events(lay.epoch, lay.key, lay.user_id, [
        (lay.s0 + i, "stored", sites[i % n][1], f"{sites[i % n][1]}-F-B{(i // n) // BOX + 1:06d}",
         label((i // n) % BOX)) for i in ids], lay.e0 + bounds[0]))
    tables = [("sample", SAMPLE_COLUMNS, samples), ("sample_site", "sample_id, site_id, since", held),
              ("placement", "sample_id, unit_id, row, col, version", placed),
              ("custody_event", EVENT_COLUMNS, [(e[0], e[1], 1, lay.epoch, e[2], created, lay.user_id, e[3], e[4],
                                                 e[5], chain.GENESIS, e[6]) for e in events]),
              ("custody_chain", "sample_id, seq, mac", [(e[1], 1, e[6]) for e in events])]
    if lay.pg:
        return [(t, c, copy_text(rows)) for t, c, rows in tables]
    return tables


def copy_text(rows: Iterable[tuple[Any, ...]]) -> str:
    """Return rows in COPY's text format (values never hold tabs, newlines or backslashes)."""
    return "".join("\t".join("\\N" if v is None else str(v) for v in row) + "\n" for row in rows)


def _units(u0: int, sites: list[tuple[int, str]], racks: int, boxes: int) -> Iterator[tuple[Any, ...]]:
    uid = u0
    for site_id, code in sites:
        freezer = uid
        yield (freezer, site_id, None, "freezer", f"{code} -80 freezer", f"{code}-F", -80.0, None, None, "A1", 1)
        for r in range(racks):
            yield (freezer + 1 + r, site_id, freezer, "rack", f"Rack {r + 1}", f"{code}-F-R{r + 1}", None, None, None,
                   "A1", 1)
        for b in range(boxes):
            yield (freezer + 1 + racks + b, site_id, freezer + 1 + b // BOXES_PER_RACK, "box", f"Box {b + 1:06d}",
                   f"{code}-F-B{b + 1:06d}", None, 9, 9, "A1", 1)
        uid += 1 + racks + boxes


def _events(epoch: int, key: bytes, user_id: int, rows: list[tuple[int, str, str, str | None, str | None]],
            e0: int) -> Iterator[tuple[Any, ...]]:
    """Yield (id, sample id, action, site code, to, details JSON, mac) of each sample's first custody event.

    The canonical bytes come from a template (json.dumps per event would dominate the fill); the first row is
    checked against :func:`lims.custody.chain.event_content` and :func:`~lims.custody.chain.event_mac`.
    """
    at = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
    assert chain.format_at(at) == AT
    head = chain._EVENT_TAG + chain.GENESIS.encode() + b"\n"
    for k, (sample_id, action, site, unit, position) in enumerate(rows):
        details = f'{{"position":"{position}","unit":"{unit}"}}' if unit else "{}"
        to = f"{unit} {position}" if unit else None
        to_json = f'"{to}"' if to else "null"
        content = (f'{{"action":"{action}","at":"{AT}","corrects":null,"details":{details},'
                   f'"epoch":{epoch},"from":null,"reason":null,"sample_id":{sample_id},"seq":1,'
                   f'"site_code":"{site}","to":{to_json},"user_id":{user_id}}}').encode()
        mac = hmac.digest(key, head + content, "sha256").hex()
        if k == 0:
            expected = chain.event_content(
                sample_id=sample_id, seq=1, epoch=epoch, action=action, at=at, user_id=user_id,
                site_code=site, from_location=None, to_location=to, reason=None, details=json.loads(details),
                corrects=None)
            assert content == expected and mac == chain.event_mac(key, chain.GENESIS, expected), content
        yield (e0 + k, sample_id, action, site, to, details, mac)


AT = "2024-06-01T08:00:00.000000Z"


def _fill_tubes(bulk: Bulk, scanners: list[Scanner], sites: list[tuple[int, str]], *, samples: int, s0: int,
                e0: int, p0: int, v0: int, study_id: int, types: list[int], user_id: int, keyring: Any,
                tubes: int) -> None:
    """Give each scanner its tubes: received at its site (a ``received`` custody event each), not yet stored."""
    rows, i = [], samples
    for scanner in scanners:
        for _ in range(tubes):
            scanner.tubes.append(accession(i))
            rows.append((s0 + i, i, scanner.site))
            i += 1
    created = bulk.when("2024-06-01 08:00:00")
    bulk.write("sample", "id, accession, study_id, participant_id, visit_id, sample_type_id, site_id, derivation, "
               "status, quantity, initial_quantity, unit, freeze_thaw_count, collected_at, created_at", (
                   (sid, accession(i), study_id, p0 + s, v0 + s, types[0], sites[s][0], "primary", "received", 1.0,
                    1.0, "ml", 0, created, created) for sid, i, s in rows))
    bulk.write("sample_site", "sample_id, site_id, since", ((sid, sites[s][0], created) for sid, _, s in rows))
    events = list(_events(keyring.epoch, keyring.key, user_id, [(sid, "received", sites[s][1], None, None) for sid, _, s in rows],
                          e0 + samples))
    bulk.write("custody_event", "id, sample_id, seq, epoch, action, at, user_id, site_code, to_location, details, "
               "prev_mac, mac", ((e[0], e[1], 1, keyring.epoch, e[2], created, user_id, e[3], e[4], e[5],
                                  chain.GENESIS, e[6]) for e in events))
    bulk.write("custody_chain", "sample_id, seq, mac", ((e[1], 1, e[6]) for e in events))

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
    stores: dict[str, list[tuple[int, str]]] = field(default_factory=dict)  # tube -> [(box, position)] in order


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
def check_custody(url: str, instance: Path, fill: Fill, stores: dict[str, list[tuple[int, str]]]) -> list[str]:
    """Every 201 store is the tube's placement (the last one) and its own custody event, in a chain that verifies."""
    key = keys.read_keyring(instance / keys.KEY_FILE_NAME)
    problems: list[str] = []
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = dict(conn.execute(select(Sample.accession, Sample.id).where(Sample.accession.in_(list(stores)))).all())
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
        if placed.get(sid) is None or (placed[sid][0], label((placed[sid][1] - 1) * 9 + placed[sid][2] - 1)) != (
                box, position):
            problems.append(f"{tube}: placed at {placed.get(sid)}, but its last store answered 201 was {done[-1]}")
        chain_ = events.get(sid, [])
        seen = [(e.details.get("unit"), e.details.get("position")) for e in chain_ if e.action in ("stored", "moved")]
        if seen != [(fill.barcodes[b], p) for b, p in done]:
            problems.append(f"{tube}: custody events {seen} differ from its stores answered 201 {done}")
        prev = chain.GENESIS
        for seq, e in enumerate(chain_, start=1):
            content = chain.event_content(
                sample_id=sid, seq=e.seq, epoch=e.epoch, action=e.action, at=e.at, user_id=e.user_id,
                site_code=e.site_code, from_location=e.from_location, to_location=e.to_location, reason=e.reason,
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
    env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(instance), "LIMS_SECRET_KEY": SECRET}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
                               "--preload", "--timeout", "120", "--graceful-timeout", "5", "--log-level", "warning",
                               "lims.wsgi:app"], cwd=ROOT, env=env)
    for _ in range(600):
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
    raise SystemExit("gunicorn did not answer within 60 s")


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
    figures: dict[str, Any] = {"samples": samples, "scanners": clients, "workers": workers, "seconds": round(wall, 1),
                               "errors": len(tally.errors), "stores_201": sum(map(len, tally.stores.values())),
                               "tubes_stored": len(tally.stores)}
    for kind, values in tally.latency.items():
        figures[kind] = {"n": len(values), **{f"p{q}_ms": round(pct(values, q / 100) * 1000, 2) for q in (50, 95, 99)}}
    figures["requests"] = sum(f["n"] for f in (figures["lookup"], figures["store"], figures["ping"]))
    figures["lookup_p99_vs_ping_p99"] = round(figures["lookup"]["p99_ms"] / figures["ping"]["p99_ms"], 2)
    figures["store_p99_vs_ping_p99"] = round(figures["store"]["p99_ms"] / figures["ping"]["p99_ms"], 2)
    figures["problems"] = problems
    figures["ok"] = not problems and not tally.errors and figures["lookup_p99_vs_ping_p99"] <= 2.0
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=None, help="URL of an empty database (default: a new SQLite file)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent scanners (half cookie, half token)")
    parser.add_argument("--tubes", type=int, default=300, help="received tubes per scanner to store")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of look-ups and pings before measuring")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--lookups", type=float, default=0.55, help="share of look-ups")
    parser.add_argument("--stores", type=float, default=0.25, help="share of stores (the rest: pings)")
    parser.add_argument("--port", type=int, default=18767)
    parser.add_argument("--json", type=Path, default=None, help="write the figures and checks to this file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-scan-pg-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    print(f"database: {make_url(url).render_as_string(hide_password=True)}; samples: {args.samples:,}", flush=True)
    f = run(url, tmp / "instance", samples=args.samples, clients=args.clients, tubes=args.tubes,
            seconds=args.seconds, warmup=args.warmup, workers=args.workers, port=args.port,
            mix=(args.lookups, args.stores))
    for kind in ("lookup", "store", "ping"):
        print(f"{kind:7s} n={f[kind]['n']:6d}  p50 {f[kind]['p50_ms']:8.2f} ms  p95 {f[kind]['p95_ms']:8.2f} ms  "
              f"p99 {f[kind]['p99_ms']:8.2f} ms")
    print(f"{f['requests']} requests in {f['seconds']} s ({f['requests'] / f['seconds']:.0f} req/s) from "
          f"{f['scanners']} scanners on {f['workers']} gunicorn workers, {f['samples']:,} samples")
    print(f"lookup p99 / trivial p99 = {f['lookup_p99_vs_ping_p99']:.2f} (target <= 2.00); "
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
