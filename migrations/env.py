"""Alembic environment: Trialbank's metadata, batch mode on SQLite."""

from __future__ import annotations

import os

from alembic import context

from lims.core.database import make_engine
from lims.models import metadata

config = context.config
if os.environ.get("LIMS_DATABASE_URL") and not config.attributes.get("from_app"):
    # Developers: point autogenerate at your own scratch database.
    config.set_main_option("sqlalchemy.url", os.environ["LIMS_DATABASE_URL"].replace("%", "%%"))


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()  # also when a migration refuses to run: no connection left open


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
