"""The fill of the scan benchmark (scripts/bench_scan.py): N samples in storage with custody, and the
scanners.

Participants, baseline visits, samples held at four sites (``sample_site``), every sample in a 9 x 9 box of
its site's freezer with its keyed ``stored`` custody event and chain head, sealed with the instance's custody
key; per scanner a technician at one site (half with an API token), T received tubes and empty boxes of its
own. On PostgreSQL the rows go in with COPY (foreign-key triggers off and secondary indexes rebuilt
afterwards: the rows are consistent by construction), formatted by two processes while COPY streams; on
SQLite with one executemany per table.
"""

from __future__ import annotations

import hmac
import json
import multiprocessing
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lims import create_app
from lims.accounts.models import User
from lims.accounts.service import add_user, create_token
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.core.uow import unit_of_work
from lims.custody import chain, keys
from lims.custody.service import writing_keyring
from lims.extensions import db
from lims.samples.accession import MAX_SERIAL, make_accession
from lims.samples.models import Sample
from lims.storage.service import create_unit
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol

PASSWORD = "benchmark password 1"
SECRET = "bench-scan-secret"
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
    # tube -> (box, slot), as this scanner knows
    where: dict[str, tuple[int, int]] = field(default_factory=dict)


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
            marks = ", ".join("?" * len(names))
            cur.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
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
    """Drop the secondary indexes of the bulk tables (PostgreSQL); return their definitions to rebuild
    them."""
    rows = conn.execute(text(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(:t) AND schemaname = "
        "current_schema() AND indexname NOT IN (SELECT conname FROM pg_constraint)"),
                        {"t": list(BULK_TABLES)}).all()
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
            "SELECT site.id, site.code FROM site JOIN study_site ON study_site.site_id = site.id "
            "ORDER BY site.id"))]
        baseline = conn.scalar(text("SELECT id FROM timepoint WHERE code = 'BASELINE'"))
        types = list(conn.scalars(text("SELECT id FROM sample_type WHERE code IN "
                                       "('CTDNA_PLASMA', 'SERUM', 'STOOL', 'PBMC') ORDER BY id")))
        keyring = keys.read_keyring(instance / keys.KEY_FILE_NAME)
        _fill_rows(bulk, samples=samples, scanners=scanners, sites=sites, study_id=study_id,
                   baseline=baseline,
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
    print(f"filled {total:,} samples with placements and custody in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return Fill(samples, sites, scanners, barcodes)


def _fill_rows(bulk: Bulk, *, samples: int, scanners: list[Scanner], sites: list[tuple[int, str]],
               study_id: int,
               baseline: int, types: list[int], user_id: int, keyring: Any, tubes: int, t0: float) -> None:
    """Participants, visits, boxes, samples with placements and custody, then each scanner's received
    tubes."""
    n_sites = len(sites)
    # participant p at site p % 4
    n_participants = max(samples // SAMPLES_PER_PARTICIPANT // n_sites, 1) * n_sites
    p0, v0 = bulk.next_id("participant"), bulk.next_id("visit")
    bulk.write("participant", "id, study_id, site_id, code, enrolled_on, sex, age, ecog", (
        (p0 + p, study_id, sites[p % n_sites][0], f"{sites[p % n_sites][1]}-B{p:07d}", "2024-01-01", "M", 60,
         0)
        for p in range(n_participants + n_sites)))  # the last n_sites participants give the scanners' tubes
    created = bulk.when("2024-06-01 08:00:00")
    bulk.write("visit", "id, participant_id, timepoint_id, occurrence, status, actual_on, created_at", (
        (v0 + p, p0 + p, baseline, 1, "done", "2024-06-01", created)
        for p in range(n_participants + n_sites)))
    # Sample i is at site i % n_sites (participant i % n_participants); the k-th of a site is in its box k //
    # 81.
    per_site = -(-samples // n_sites)
    u0 = bulk.next_id("storage_unit")
    boxes_per_site = -(-per_site // BOX)
    racks_per_site = -(-boxes_per_site // BOXES_PER_RACK)
    per_site_units = 1 + racks_per_site + boxes_per_site
    bulk.write("storage_unit",
               "id, site_id, parent_id, kind, name, barcode, set_temp_c, rows, cols, label_scheme, "
               "version", _units(u0, sites, racks_per_site, boxes_per_site))
    print(f"  participants, visits, {per_site_units * n_sites:,} units: {time.perf_counter() - t0:.1f} s",
          flush=True)
    s0, e0 = bulk.next_id("sample"), bulk.next_id("custody_event")
    layout = Layout(bulk.pg, s0, e0, p0, v0, u0 + 1 + racks_per_site, per_site_units, n_participants, sites,
                    study_id, types, user_id, keyring.epoch, keyring.key, created)
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


SAMPLE_COLUMNS = ("id, accession, study_id, participant_id, visit_id, sample_type_id, site_id, derivation, "
                  "status, quantity, initial_quantity, unit, freeze_thaw_count, collected_at, created_at")
EVENT_COLUMNS = ("id, sample_id, seq, epoch, action, at, user_id, site_code, to_location, details, prev_mac, "
                 "mac")


def _chunk(lay: Layout, bounds: tuple[int, int]) -> list[tuple[str, str, Any]]:
    """Return the rows of samples ``bounds`` for each table (as COPY text on PostgreSQL)."""
    ids, n, sites, created = range(*bounds), len(lay.sites), lay.sites, lay.created
    people = lay.participants
    samples = [(lay.s0 + i, accession(i), lay.study_id, lay.p0 + i % people, lay.v0 + i % people,
                lay.types[i % len(lay.types)], sites[i % n][0], "primary", "in_storage", 1.0, 1.0, "ml", 0,
                created,
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
              ("custody_event", EVENT_COLUMNS,
               [(e[0], e[1], 1, lay.epoch, e[2], created, lay.user_id, e[3], e[4],
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
        yield (freezer, site_id, None, "freezer", f"{code} -80 freezer", f"{code}-F", -80.0, None, None, "A1",
               1)
        for r in range(racks):
            yield (freezer + 1 + r, site_id, freezer, "rack", f"Rack {r + 1}", f"{code}-F-R{r + 1}", None,
                   None,
                   None, "A1", 1)
        for b in range(boxes):
            yield (freezer + 1 + racks + b, site_id, freezer + 1 + b // BOXES_PER_RACK, "box",
                   f"Box {b + 1:06d}",
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
    """Give each scanner its tubes: received at its site (a ``received`` custody event each), not yet
    stored."""
    rows, i = [], samples
    for scanner in scanners:
        for _ in range(tubes):
            scanner.tubes.append(accession(i))
            rows.append((s0 + i, i, scanner.site))
            i += 1
    created = bulk.when("2024-06-01 08:00:00")
    bulk.write("sample",
               "id, accession, study_id, participant_id, visit_id, sample_type_id, site_id, derivation, "
               "status, quantity, initial_quantity, unit, freeze_thaw_count, collected_at, created_at", (
                   (sid, accession(i), study_id, p0 + s, v0 + s, types[0], sites[s][0], "primary", "received",
                    1.0,
                    1.0, "ml", 0, created, created) for sid, i, s in rows))
    bulk.write("sample_site", "sample_id, site_id, since",
               ((sid, sites[s][0], created) for sid, _, s in rows))
    received = [(sid, "received", sites[s][1], None, None) for sid, _, s in rows]
    events = list(_events(keyring.epoch, keyring.key, user_id, received, e0 + samples))
    bulk.write("custody_event",
               "id, sample_id, seq, epoch, action, at, user_id, site_code, to_location, details, "
               "prev_mac, mac", ((e[0], e[1], 1, keyring.epoch, e[2], created, user_id, e[3], e[4], e[5],
                                  chain.GENESIS, e[6]) for e in events))
    bulk.write("custody_chain", "sample_id, seq, mac", ((e[1], 1, e[6]) for e in events))
