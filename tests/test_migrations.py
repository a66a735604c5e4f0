"""Migrations build the schema on SQLite and PostgreSQL and never drift from the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from lims.core.database import make_engine
from lims.core.migrate import alembic_config, current_revision, head_revision, upgrade
from lims.models import metadata
from tests.conftest import PG_URL, fresh_database


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_models_and_migrations_do_not_drift(engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


def test_upgrade_builds_an_empty_database_and_is_repeatable(tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        engine = make_engine(url)
        try:
            assert current_revision(engine) is None
            upgrade(url)
            assert current_revision(engine) == head_revision(url)
            upgrade(url)
            assert current_revision(engine) == head_revision(url)
        finally:
            engine.dispose()
