"""The unit of work runs a unit again after a write collision, and the new attempt waits for the write lock.

On SQLite a transaction that read and then writes after another writer committed fails at once ("database
is locked", a stale snapshot). Run again optimistically under a steady stream of writers (scanners storing
tubes while a token's last use is stamped), it can collide every time: the retry must take the lock first.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lims.core.database import make_engine
from lims.core.uow import run, takes_write_lock


def test_a_unit_run_again_after_a_collision_holds_the_write_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'uow.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (1, 0), (2, 0)")
    other = engine.connect()
    other.exec_driver_sql("PRAGMA busy_timeout=0")
    attempts: list[bool] = []

    def other_writer_commits() -> bool:
        """Let another connection write now; tell whether it could (it cannot while the unit holds the
        lock)."""
        try:
            other.execute(text("UPDATE counter SET n = n + 1 WHERE id = 2"))
            other.commit()
            return True
        except OperationalError:  # database is locked
            other.rollback()
            return False

    session = Session(engine)

    def work() -> int:
        attempts.append(takes_write_lock())
        n = session.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()  # the snapshot
        wrote = other_writer_commits()
        if len(attempts) > 1:
            assert not wrote, "a unit run again after a collision must hold the write lock from its start"
        session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
        return n + 1

    assert run(session, work) == 1
    assert attempts == [False, True]  # the first attempt collided; the second began with BEGIN IMMEDIATE
    assert not takes_write_lock()  # and the unit's successors are optimistic again
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter ORDER BY id")).scalars().all() == [1, 1]
    session.close()
    other.close()
    engine.dispose()
