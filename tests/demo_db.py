"""One demo trial per test run: loaded once (the ``demo_database`` fixture), copied for each user of it.

Under pytest-xdist the first worker that needs it loads it under a file lock and writes where it is
(``demo.json`` beside the workers' temporary folders); the others wait for the lock and use the same one, and
the controlling process drops it at the end of the run (:func:`drop_shared_demo`).

Loading the demo trial is the most expensive set-up of the suite (tens of seconds); the suites that need a
demo (signatures, clinical round trip, the demo's markers, the CLI, the browser journeys) each get a copy of
the one loaded database and of its instance folder (logins file, demo CSVs), so none of them can change
what another sees. SQLite copies with the backup API; PostgreSQL with ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from lims.core.database import make_engine

DEMO_PARTICIPANTS = 24  # the default seed; tests/signatures relies on this size
CHEAP_HASH = "pbkdf2:sha256:1000"  # the demo users' hashes: a login costs microseconds, not a full hash


@contextmanager
def copied_database(url: str, tmp: Path) -> Iterator[str]:
    """Yield the URL of a new database holding a copy of the one at ``url`` (which nobody may be using)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        name = f"lims_t_{uuid.uuid4().hex[:10]}"
        # Connected to the maintenance database: PostgreSQL copies a template only while nobody is connected
        # to it.
        admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                            isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                # a connection to the shared demo left in some engine's pool (it is only read) would make the
                # copy fail with "being accessed by other users": end them first
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": parsed.database})
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
            yield parsed.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    target = tmp / f"{uuid.uuid4().hex[:8]}.db"
    source = sqlite3.connect(str(parsed.database))
    copy = sqlite3.connect(str(target))
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    yield f"sqlite:///{target}"


@dataclass(frozen=True)
class DemoDatabase:
    """The loaded demo trial: its database URL, instance folder, demo password and the loader's report."""

    url: str
    instance: Path
    password: str
    report: str

    @contextmanager
    def copy(self, tmp: Path) -> Iterator[tuple[str, Path]]:
        """Yield a copy of the demo database (its URL) and of its instance folder, both under ``tmp``."""
        instance = tmp / "instance"
        shutil.copytree(self.instance, instance)
        with copied_database(self.url, tmp) as url:
            yield url, instance


def demo_password(instance: Path) -> str:
    """Read the demo users' password from the instance's demo-credentials.txt."""
    return next(line.split(":", 1)[1].strip()
                for line in (instance / "demo-credentials.txt").read_text().splitlines()
                if line.startswith("password:"))


SHARED_RECORD = "demo.json"


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (created if missing) during the block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared_demo(root: Path) -> DemoDatabase | None:
    """The demo another worker of this run loaded into ``root``, if one did (call while holding the lock)."""
    record = root / SHARED_RECORD
    if not record.exists():
        return None
    fields = json.loads(record.read_text())
    return DemoDatabase(url=fields["url"], instance=Path(fields["instance"]), password=fields["password"],
                        report=fields["report"])


def record_shared_demo(root: Path, demo: DemoDatabase) -> None:
    """Say where this worker loaded the demo, for the other workers and for :func:`drop_shared_demo`."""
    (root / SHARED_RECORD).write_text(json.dumps({"url": demo.url, "instance": str(demo.instance),
                                                  "password": demo.password, "report": demo.report}))


def drop_shared_demo(root: Path) -> None:
    """Drop the demo database the workers shared (a PostgreSQL database; a SQLite file goes with ``root``)."""
    demo = shared_demo(root)
    if demo is not None:
        drop_database(demo.url)


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database at ``url`` (a SQLite file goes with its temporary folder)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
