#!/usr/bin/env python
"""Custody write throughput with 1, 4 and 8 concurrent writers on PostgreSQL: one global head vs per-sample
chains.

Each writer is a process with its own connection; each transaction appends one custody event to one of the
writer's own samples, spends ``--work-ms`` on the rest of the request inside the same transaction (other
statements and rules of a scan at a bench; 0 for none), and commits. The baseline is the previous design,
re-implemented here: every event links to the previous event of the whole installation through one locked head
row (SHA-256, no key). The new design is ``lims.custody.service.record_event`` (per-sample head rows, HMAC
with the instance key). Both run in the same database in the same run; the script prints events per second and
the ratio of throughput at 4 and 8 writers to 1 writer for each design, then the cost of one anchor over every
head and of a full verify.

Without ``--database-url`` it starts a throwaway PostgreSQL cluster on 127.0.0.1 (like ``.ci/run``) and
removes it.

    .venv/bin/python scripts/bench_custody.py                       # throwaway cluster, 5 s per measurement
    .venv/bin/python scripts/bench_custody.py --seconds 10 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/x
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Integer, String, Table, Text, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims.core.database import make_engine
from lims.core.db import UTCDateTime

WRITERS = (1, 4, 8)
APP_NAME = "bench-custody-writer"
SAMPLES_PER_WRITER = 50


class OldBase(DeclarativeBase):
    pass


Table("sample", OldBase.metadata, Column("id", Integer, primary_key=True))  # only to resolve the foreign key


class OldEvent(OldBase):
    """The previous design's event: one global sequence, linked by an unkeyed hash."""

    __tablename__ = "bench_old_custody_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)
    site_code: Mapped[str | None] = mapped_column(String(10))
    from_location: Mapped[str | None] = mapped_column(Text)
    to_location: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    corrects_id: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class OldHead(OldBase):
    """The previous design's single head row, locked by every custody write of the installation."""

    __tablename__ = "bench_old_custody_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def old_record_event(session: Session, sample_id: int, action: str, *, details: dict[str, Any]) -> None:
    """The previous ``record_event``: lock the global head, hash over it, append, move the head."""
    head = session.scalar(select(OldHead).where(OldHead.id == 1).with_for_update())
    event = OldEvent(seq=head.seq + 1, sample_id=sample_id, action=action, at=datetime.now(UTC),
                     details=details,
                     prev_hash=head.hash)
    content = {"seq": event.seq, "sample_id": sample_id, "action": action,
               "at": event.at.isoformat(timespec="microseconds"), "user_id": None, "site_code": None,
               "from": None,
               "to": None, "reason": None, "details": details, "corrects_id": None, "prev_hash": head.hash}
    event.hash = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
                                .encode()).hexdigest()
    head.seq, head.hash = event.seq, event.hash
    session.add(event)


def _writer(url: str, design: str, samples: list[int], seconds: float, work: float, ready: Any, go: Any,
            out: Any) -> None:
    import lims.models  # noqa: F401 - every table, for the foreign keys of the custody models
    from lims.custody.service import record_event

    engine = make_engine(url, pool_size=1, connect_args={"application_name": APP_NAME})
    done, n = 0, 0

    def one_event() -> None:
        nonlocal n
        sample_id = samples[n % len(samples)]
        n += 1
        with Session(engine) as session:
            if design == "old":
                old_record_event(session, sample_id, "moved", details={"n": n})
            else:
                record_event(session, sample_id, "moved", by=None, details={"n": n})
            session.flush()
            time.sleep(work)  # the rest of the request, with the transaction (and its locks) held
            session.commit()

    try:
        one_event()  # connect, configure the mappers, compile the statements: before the clock starts
        ready.put(True)
        go.wait()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            one_event()
            done += 1
    except Exception as exc:  # noqa: BLE001 - the parent reports it
        out.put(repr(exc))
        return
    finally:
        engine.dispose()
    out.put(done)


def measure(url: str, design: str, writers: int, samples: list[int], seconds: float,
            work: float) -> tuple[float, float]:
    """Run ``writers`` processes for ``seconds``; return committed events per second and the share of sampled
    writer backends that were waiting for a lock."""
    ctx = mp.get_context("spawn")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    share = len(samples) // max(WRITERS)
    procs = [ctx.Process(target=_writer, args=(url, design, samples[i * share:(i + 1) * share], seconds, work,
                                               ready, go, out)) for i in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)  # every process has imported and connected
    time.sleep(0.5)
    go.set()
    waiting = _sample_lock_waits(url, seconds)
    counts = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    if any(isinstance(c, str) for c in counts):
        sys.exit(f"a writer failed: {counts}")
    return sum(counts) / seconds, waiting


def _sample_lock_waits(url: str, seconds: float) -> float:
    engine = make_engine(url, pool_size=1)
    waits = seen = 0
    end = time.perf_counter() + seconds * 0.9
    with engine.connect() as conn:
        while time.perf_counter() < end:
            rows = conn.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE application_name = "
                                     ":a AND state <> 'idle'"), {"a": APP_NAME}).all()
            conn.rollback()
            seen += len(rows)
            waits += sum(1 for (kind,) in rows if kind == "Lock")
            time.sleep(0.02)
    engine.dispose()
    return waits / seen if seen else 0.0


def prepare(url: str) -> list[int]:
    """Migrate, install the protocol, create the samples (each with a first event) and the old design's
    tables."""
    from lims.config import DEFAULT_PROTOCOL
    from lims.core.migrate import upgrade
    from lims.custody.chain import GENESIS
    from lims.custody.service import record_event
    from lims.participants.service import enrol
    from lims.samples.models import Sample
    from lims.studies.models import Site
    from lims.studies.protocol import load_protocol
    from lims.studies.service import install_protocol

    upgrade(url)
    engine = make_engine(url)
    OldBase.metadata.create_all(engine, tables=[OldEvent.__table__, OldHead.__table__])
    with Session(engine) as session:
        study, _ = install_protocol(session, load_protocol(DEFAULT_PROTOCOL))
        site = session.scalar(select(Site).where(Site.code == "ZJ"))
        p = enrol(session, study, site=site, code="ZJ-BENCH", enrolled_on=date(2025, 1, 6), sex="F", age=50)
        blood = next(t for t in study.sample_types if t.code == "WHOLE_BLOOD")
        samples = [Sample(accession=f"TB-BENCH-{i}", study_id=study.id, participant_id=p.id,
                          sample_type_id=blood.id, derivation="primary", status="collected", quantity=1.0,
                          unit="ml") for i in range(max(WRITERS) * SAMPLES_PER_WRITER)]
        session.add_all(samples)
        session.flush()
        for s in samples:
            record_event(session, s.id, "collected", by=None)
        session.add(OldHead(id=1, seq=0, hash=GENESIS))
        session.commit()
        ids = [s.id for s in samples]
    engine.dispose()
    return ids


def anchor_and_verify(url: str) -> None:
    """Print the cost of one checkpoint over every changed head and of verifying everything."""
    from lims.custody.anchors import write_anchor
    from lims.custody.verify import verify_chain

    engine = make_engine(url)
    with Session(engine) as session:
        t = time.perf_counter()
        anchor = write_anchor(session)
        session.commit()
        print(f"anchor: checkpoint #{anchor.checkpoint} sealed {anchor.heads} changed chain heads in "
              f"{time.perf_counter() - t:.2f} s")
    with Session(engine) as session:
        t = time.perf_counter()
        report = verify_chain(session)
        took = time.perf_counter() - t
        state = "intact" if report.ok else f"BROKEN ({report.problem_count} problems)"
        print(f"verify: {report.events:,} events in {report.chains} chains, {report.checkpoints} "
              f"checkpoints: {state} in {took:.2f} s ({report.events / took:,.0f} events/s)")
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def throwaway_postgres(port: int | None) -> Iterator[str]:
    """Start a PostgreSQL cluster in a temporary folder on 127.0.0.1 (a free port); yield its URL; remove
    it."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not bins:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql), or pass --database-url")
    pgbin, root = bins[-1], Path(tempfile.mkdtemp(prefix="bench-custody-pg-"))
    port = port or _free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "log"
    try:
        subprocess.run([*as_postgres, f"{pgbin}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust",
                        "-E",
                        "UTF8"], check=True, capture_output=True)
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=50"
        started = subprocess.run([*as_postgres, f"{pgbin}/pg_ctl", "-D", str(data), "-l", str(log), "-w",
                                  "-t", "30",
                                  "start", "-o", options], check=False, capture_output=True)
        if started.returncode != 0:
            sys.exit("PostgreSQL did not start on port "
                     f"{port}:\n{log.read_text()[-1000:] if log.exists() else ''}")
        subprocess.run([f"{pgbin}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "bench_custody"],
                       check=True, capture_output=True)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench_custody"
    finally:
        subprocess.run([*as_postgres, f"{pgbin}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def run(url: str, seconds: float, work: float) -> None:
    samples = prepare(url)
    rates: dict[tuple[str, int], float] = {}
    for writers in WRITERS:
        for design in ("old", "new"):
            rates[design, writers], waiting = measure(url, design, writers, samples, seconds, work)
            print(f"  {design} design, {writers} writer(s): {rates[design, writers]:8.1f} events/s; "
                  f"{waiting:4.0%} of writers seen waiting for a lock", flush=True)
    print()
    print("design                             1 writer    4 writers   8 writers   4w/1w   8w/1w")
    for design, name in (("old", "old: one global head (SHA-256)"), ("new", "new: per-sample chains (HMAC)")):
        one, four, eight = (rates[design, w] for w in WRITERS)
        print(f"{name:<33} {one:9.1f}   {four:9.1f}   {eight:9.1f}   {four / one:5.2f}x  {eight / one:5.2f}x")
    print(f"new / old at 8 writers: {rates['new', 8] / rates['old', 8]:.2f}x")
    anchor_and_verify(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None,
                        help="An empty PostgreSQL database (default: a throwaway "
                                                             "cluster on 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None,
                        help="Port of the throwaway cluster (default: a free one).")
    parser.add_argument("--seconds", type=float, default=5.0, help="Duration of each measurement.")
    parser.add_argument("--work-ms", type=float, default=5.0,
                        help="Rest of the request inside each transaction, after the custody event (ms).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-custody-") as tmp:
        # The writers run without an app: the custody key and anchor file come from the environment.
        os.environ["LIMS_CUSTODY_KEY_FILE"] = str(Path(tmp) / "custody_key")
        os.environ["LIMS_CUSTODY_ANCHOR_FILE"] = str(Path(tmp) / "custody-anchors.log")
        print(f"{os.cpu_count()} CPUs; {args.seconds:g} s per measurement; each transaction: one custody "
              f"event, {args.work_ms:g} ms of the rest of the request, commit", flush=True)
        work = args.work_ms / 1000
        if args.database_url:
            run(args.database_url, args.seconds, work)
        else:
            with throwaway_postgres(args.port) as url:
                run(url, args.seconds, work)


if __name__ == "__main__":
    main()
