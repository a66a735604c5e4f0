#!/usr/bin/env python
"""Storage at demo scale: location path lookups, occupancy roll-up, moving a full rack, placing by scan.

Loads the demo trial (120 participants, ~10,000 samples) into a fresh database, then prints:
- one sample's full location path: one recursive query (p50/p99), against walking up the parents one
  lazy load at a time (what a naive implementation does);
- every placed sample's path in one query; the capacity/occupancy roll-up of a whole site;
- moving a rack of 12 boxes (every sample inside gets a custody event);
- placing tubes one request-sized transaction at a time (scan, rules, custody event, commit).

    .venv/bin/python scripts/bench_storage.py                        # SQLite
    .venv/bin/python scripts/bench_storage.py --database-url postgresql+psycopg://postgres@127.0.0.1:55433/lims_test
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims import demo
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.core.uow import run as commit_with_retry
from lims.samples.models import Sample
from lims.storage import service
from lims.storage.models import Placement, StorageUnit
from lims.studies.models import Site
from tests.conftest import fresh_database


def _walk(session: Session, sample_id: int) -> str | None:
    placement = session.get(Placement, sample_id)
    if placement is None:
        return None
    names, unit = [], placement.unit
    while unit is not None:
        names.append(unit.name)
        unit = unit.parent
    label = [placement.position_label] if placement.position_label else []
    return " › ".join([placement.unit.site.code, *reversed(names), *label])


def _ms(values: list[float]) -> str:
    values = sorted(values)
    return (f"p50 {statistics.median(values) * 1000:.2f} ms, "
            f"p99 {values[int(0.99 * (len(values) - 1))] * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite://")
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--placements", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as url:
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            t = time.perf_counter()
            summary = demo.load(session, participants=120, instance_path=tmp, protocol_path=DEFAULT_PROTOCOL)
            session.commit()
            print(f"database {engine.dialect.name}; demo: {summary.samples} samples, "
                  f"{summary.custody_events} custody events in {time.perf_counter() - t:.1f} s")
        rng = random.Random(7)
        with Session(engine) as session:
            ids = list(session.scalars(select(Placement.sample_id)))
            picks = [rng.choice(ids) for _ in range(args.lookups)]
            one, walk = [], []
            for sid in picks:
                session.expunge_all()
                t = time.perf_counter()
                path = service.location_path(session, sid)
                one.append(time.perf_counter() - t)
                session.expunge_all()
                t = time.perf_counter()
                assert _walk(session, sid) == path, (sid, path)
                walk.append(time.perf_counter() - t)
            print(f"location path, one recursive query ({len(picks)} random samples): {_ms(one)}")
            print(f"location path, walking up the parents:                 {_ms(walk)}")
            t = time.perf_counter()
            paths = service.location_paths(session, ids)
            print(f"all {len(paths)} placed samples' paths in one query: {time.perf_counter() - t:.3f} s")
            site = session.scalar(select(Site).where(Site.code == "ZJ"))
            site_id = site.id
            t = time.perf_counter()
            units = service.site_units(session, site.id)
            use = service.usage(session, units)
            print(f"occupancy roll-up of site ZJ ({len(units)} units, "
                  f"{sum(u.used for k, u in use.items() if by_parent(units, k))} samples): "
                  f"{time.perf_counter() - t:.3f} s")
        with Session(engine) as session:
            site = session.get(Site, site_id)
            rack = session.scalar(select(StorageUnit)
                                  .where(StorageUnit.kind == "rack", StorageUnit.site_id == site.id)
                                  .order_by(StorageUnit.id.desc()))
            tank = session.scalar(select(StorageUnit).where(StorageUnit.kind == "ln2_tank",
                                                            StorageUnit.site_id == site.id))
            t = time.perf_counter()
            moved = service.move_unit(session, rack, tank, by=None)
            session.commit()
            print(f"move a rack with {moved} samples (one custody event each): {time.perf_counter() - t:.2f} "
                  "s")
            tank_id = tank.id
        with Session(engine) as session:
            site, tank = session.get(Site, site_id), session.get(StorageUnit, tank_id)
            box = service.create_unit(session, site=site, kind="box", name="Bench box", barcode="BENCH",
                                      parent=tank, rows=26, cols=99)
            session.commit()
            box_id = box.id
            movers = list(session.scalars(select(Sample.accession)
                                          .join(Placement, Placement.sample_id == Sample.id)
                                          .join(StorageUnit).where(StorageUnit.site_id == site.id,
                                                                   Sample.status == "in_storage")
                                          .limit(args.placements)))
        times = []
        with Session(engine) as session:
            for code in movers:
                t = time.perf_counter()
                commit_with_retry(session, lambda code=code: service.place_by_scan(
                    session, session.get(StorageUnit, box_id), code, by=None))
                times.append(time.perf_counter() - t)
        print(f"place by scan, one committed transaction each ({len(times)} tubes): {_ms(times)}, "
              f"{len(times) / sum(times):.0f} tubes/s")
        engine.dispose()


def by_parent(units: list[StorageUnit], unit_id: int) -> bool:
    """Tell whether a unit is at the top of its site's tree (its totals include everything below)."""
    return next(u for u in units if u.id == unit_id).parent_id is None


if __name__ == "__main__":
    main()
