"""A small Flask extension owning the engine and one session per app context."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from lims.core import versions  # noqa: F401  (its session listeners change the data versions on every write)
from lims.core.uow import takes_write_lock

STAGING_PREFIX = "lims_stage_"  # schemas a bulk insert attaches to a SQLite connection for one transaction
STAGED = "lims_staged"  # set in a pooled connection's info by the bulk insert that attached a staging file


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs nest inside a real transaction (SQLAlchemy's documented pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_detach_staging(dbapi_connection: Any, record: Any) -> None:
    # A bulk insert (lims.markers.bulk) copies rows from a staging database it attached; SQLite refuses to
    # detach it while the transaction that read it is open, so it is detached here, when the connection is
    # back in the pool after its rollback or commit. Only connections the bulk insert marked are looked at.
    if dbapi_connection is None or not record.info.get(STAGED):
        return
    attached = [row[1] for row in dbapi_connection.execute("PRAGMA database_list").fetchall()
                if str(row[1]).startswith(STAGING_PREFIX)]
    for name in attached:
        try:
            dbapi_connection.execute(f'DETACH DATABASE "{name}"')
        except sqlite3.OperationalError:  # still in a transaction (no reset on return): the next check-in
            return
    record.info.pop(STAGED, None)


def _sqlite_begin(conn: Connection) -> None:
    # A request that writes (or a unit run again after a collision) takes SQLite's write lock at once, so it
    # queues on busy_timeout behind other writers instead of failing later when its read snapshot cannot be
    # upgraded (see lims.core.uow).
    conn.exec_driver_sql("BEGIN IMMEDIATE" if takes_write_lock() else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Trialbank relies on (foreign keys and WAL on SQLite)."""
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "checkin", _sqlite_detach_staging)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class Database:
    """Engine per app and a session per app context, closed at teardown.

    The unit of work (:mod:`lims.core.uow`) owns the commit; handlers and services only flush.
    Tests bind the sessions to one connection inside an outer transaction with
    :meth:`bind_to` so every test rolls back.
    """

    def __init__(self) -> None:
        self._bound: dict[int, Connection] = {}

    def init_app(self, app: Flask) -> None:
        """Create the app's engine from ``LIMS_DATABASE_URL`` and register teardown."""
        engine = make_engine(app.config["DATABASE_URL"])
        app.extensions["lims_db"] = {
            "engine": engine,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
        }
        app.teardown_appcontext(self._teardown)

    @property
    def engine(self) -> Engine:
        """Return the current app's engine."""
        return current_app.extensions["lims_db"]["engine"]

    def bind_to(self, app: Flask, connection: Connection | None) -> None:
        """Bind every new session of ``app`` to ``connection`` (tests); None undoes it."""
        ext = app.extensions["lims_db"]
        if connection is None:
            ext["sessionmaker"] = sessionmaker(bind=ext["engine"], expire_on_commit=False)
        else:
            ext["sessionmaker"] = sessionmaker(
                bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
            )

    @property
    def session(self) -> Session:
        """Return the session of the current app context, creating it on first use."""
        session = g.get("_lims_session")
        if session is None:
            session = current_app.extensions["lims_db"]["sessionmaker"]()
            g._lims_session = session
        return session

    def _teardown(self, exc: BaseException | None) -> None:
        session = g.pop("_lims_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
