"""Run Alembic migrations programmatically for the CLI and the tests."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from lims import ROOT


def alembic_config(url: str) -> Config:
    """Return an Alembic config for ``url`` using the repository's migrations folder."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["from_app"] = True
    return cfg


def head_revision(url: str) -> str | None:
    """Return the newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_schema() -> None:
    """Refuse a command (inside an app context) while the database is not at the newest migration."""
    import click
    from flask import current_app

    from lims.extensions import db

    current = current_revision(db.engine)
    if current != head_revision(current_app.config["DATABASE_URL"]):
        raise click.ClickException(
            f"the database schema is at {current or 'nothing'}, not the newest; run 'lims db upgrade' first"
        )


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)
