#!/usr/bin/env python
"""Clinical import and derivation speed on the demo trial.

Loads the demo (N participants) into a fresh database, exports its clinical data as a REDCap-style CSV, then
times: the export, a first import of that CSV into a second fresh database holding only the enrolled
participants (validation + insert + audit), a second import of the same file (validation, nothing changes),
and derived endpoints for the whole study. Prints one line per figure.

    .venv/bin/python scripts/bench_clinical.py --participants 120
    .venv/bin/python scripts/bench_clinical.py --database-url postgresql+psycopg://postgres@127.0.0.1:55433/postgres
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lims.accounts.service import add_user
from lims.clinical import redcap, service
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.demo import load
from lims.participants.models import Participant
from lims.participants.service import enrol
from lims.studies.models import Site
from lims.studies.protocol import load_protocol
from lims.studies.service import install_protocol
from tests.conftest import fresh_database


def _timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=120)
    parser.add_argument("--database-url", default="sqlite://",
                        help="Server URL to create throwaway databases on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args.database_url, Path(tmp)) as source_url:
        upgrade(source_url)
        source = make_engine(source_url)
        with Session(source) as s:
            _timed(f"demo load ({args.participants} participants)", load, s, participants=args.participants,
                   instance_path=tmp, protocol_path=str(DEFAULT_PROTOCOL))
            s.commit()
            study = s.scalars(select(Participant)).first().study
            people = [(p.code, p.site.code, p.enrolled_on) for p in s.scalars(select(Participant))]
            export = _timed("REDCap export", redcap.export_redcap, s, study)
            rows = export.count(b"\n") - 1
            print(f"export size: {rows} rows, {len(export) / 1e6:.1f} MB")
            _timed("derived endpoints (variant A, whole study)", service.derived_endpoints, s, study)
        source.dispose()
        with fresh_database(args.database_url, Path(tmp)) as target_url:
            upgrade(target_url)
            target = make_engine(target_url)
            with Session(target) as s:
                study = install_protocol(s, load_protocol(DEFAULT_PROTOCOL))[0]
                user = add_user(s, username="dm", password="benchmark password", role="data_manager",
                                full_name="DM")
                for code, site, enrolled_on in people:
                    enrol(s, study, site=s.scalar(select(Site).where(Site.code == site)), code=code,
                          enrolled_on=enrolled_on)
                s.commit()
                report = _timed("first import (validate, insert, audit)", redcap.import_redcap, s, study,
                                "demo.csv", export, by=user)
                s.commit()
                print(f"  {report.records} records, {report.inserted} inserted, {report.changes} audit rows, "
                      f"{len(report.problems)} problems")
                again = _timed("re-import of the same file (validate, nothing changes)", redcap.import_redcap,
                               s,
                               study, "demo.csv", export, by=user)
                print(f"  {again.unchanged} unchanged, {again.changes} changes")
            target.dispose()


if __name__ == "__main__":
    main()
