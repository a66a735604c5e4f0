"""Backup and restore round trip to identical data; damaged or foreign backups are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text

from lims import create_app
from lims.cli import main
from lims.core.database import make_engine
from tests.conftest import PG_URL, fresh_database


def _snapshot(url: str) -> dict[str, list[tuple]]:
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        snap = {name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
                for name, table in meta.tables.items()}
    engine.dispose()
    return snap


@pytest.fixture()
def demo_db(tmp_path: Path):
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
        runner = app.test_cli_runner()
        for args in (["db", "upgrade"], ["demo", "--participants", "6"]):
            result = runner.invoke(main, args)
            assert result.exit_code == 0, result.output
        yield url, app, runner
        app.extensions["lims_db"]["engine"].dispose()


def test_backup_restore_round_trip(demo_db, tmp_path: Path) -> None:
    url, app, runner = demo_db
    before = _snapshot(url)
    assert len(before["sample"]) > 50
    result = runner.invoke(main, ["backup", "--out", str(tmp_path / "bk")])
    assert result.exit_code == 0, result.output
    data = next(p for p in (tmp_path / "bk").iterdir() if p.suffix in (".sqlite", ".pgdump"))
    manifest = json.loads(data.with_suffix(data.suffix + ".json").read_text())
    assert manifest["schema_revision"] and len(manifest["sha256"]) == 64

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM placement"))
        conn.execute(text("UPDATE sample SET note = 'changed after the backup'"))
    engine.dispose()
    assert _snapshot(url) != before

    app.extensions["lims_db"]["engine"].dispose()
    result = runner.invoke(main, ["restore", str(data), "--yes"])
    assert result.exit_code == 0, result.output
    assert _snapshot(url) == before


def test_damaged_or_unknown_backups_are_refused(demo_db, tmp_path: Path) -> None:
    url, _app, runner = demo_db
    assert runner.invoke(main, ["backup", "--out", str(tmp_path / "bk")]).exit_code == 0
    data = next(p for p in (tmp_path / "bk").iterdir() if p.suffix in (".sqlite", ".pgdump"))
    before = _snapshot(url)

    manifest_path = data.with_suffix(data.suffix + ".json")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_revision": "ffffffffffff"}))
    result = runner.invoke(main, ["restore", str(data), "--yes"])
    assert result.exit_code != 0 and "schema revision ffffffffffff is unknown" in result.output
    manifest_path.write_text(json.dumps(manifest))

    with data.open("ab") as fh:
        fh.write(b"tampered")
    result = runner.invoke(main, ["restore", str(data), "--yes"])
    assert result.exit_code != 0
    assert "checksum mismatch" in result.output and "nothing was restored" in result.output
    assert _snapshot(url) == before
