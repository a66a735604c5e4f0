"""The unit of work runs a unit again after a write collision, and the new attempt waits for the write lock.

On SQLite a transaction that read and then writes after another writer committed fails at once ("database
is locked", a stale snapshot). Run again optimistically under a steady stream of writers (scanners storing
tubes while a token's last use is stamped), it can collide every time: the retry must take the lock first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from lims import create_app
from lims.accounts.models import User
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.core.uow import ATTEMPTS, run, takes_write_lock, transactional
from lims.extensions import db


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


def _app_with(tmp_path: Path, view: Callable[[], Any]) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'edge.db'}",
                      "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "WTF_CSRF_ENABLED": False})
    app.add_url_rule("/api/v1/edge", "edge", transactional(view), methods=["POST"])
    app.add_url_rule("/edge", "edge_page", transactional(view), methods=["POST"])
    return app


def test_a_database_locked_through_every_attempt_answers_503_with_retry_after(tmp_path: Path) -> None:
    calls: list[int] = []

    def always_locked() -> Any:
        calls.append(1)
        raise OperationalError("UPDATE sample", {}, sqlite3.OperationalError("database is locked"))

    client = _app_with(tmp_path, always_locked).test_client()
    answer = client.post("/api/v1/edge")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert "database is busy" in answer.get_json()["message"] and "nothing was saved" in answer.get_json()[
        "message"]
    assert len(calls) == ATTEMPTS  # every attempt was made before giving up
    page = client.post("/edge")
    assert page.status_code == 503 and "try again" in page.get_data(as_text=True)


def test_a_constraint_met_before_the_commit_is_a_conflict_not_a_server_error(tmp_path: Path) -> None:
    def duplicate_username() -> Any:
        db.session.add_all([User(username="twin", full_name="A", role="technician", password_hash="x"),
                            User(username="twin", full_name="B", role="technician", password_hash="x")])
        db.session.flush()  # the constraint fails here, inside the unit, not at its commit
        return "saved"

    app = _app_with(tmp_path, duplicate_username)
    upgrade(app.config["DATABASE_URL"])
    answer = app.test_client().post("/api/v1/edge")
    assert answer.status_code == 409 and answer.get_json()["message"] == "that user name is taken"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
