"""`lims clinical` import and export commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lims.cli import main
from lims.clinical.models import CRE
from tests.conftest import PASSWORD


def _tables(app: Any, path: Path, user: str = "data_manager", password: str = PASSWORD) -> Any:
    return app.test_cli_runner().invoke(main, ["clinical", "import-tables", str(path), "--user", user,
                                               "--password", password])


def test_import_tables_reports_problems_then_imports(app, session, make_participant, tmp_path: Path) -> None:
    p = make_participant(code="ZJ-811", enrolled_on=date(2025, 1, 6))
    session.commit()  # the failing command rolls back its own work only (the test's transaction still ends)
    bad = tmp_path / "cre.csv"
    bad.write_text("participant_id,seq,date,overall\nZJ-811,1,2025-02-30,cCR\n")
    result = _tables(app, bad)
    assert result.exit_code == 1
    assert "ERROR cre.csv row 2 date=2025-02-30: not a date" in result.output
    assert "Nothing imported" in result.output

    refused = _tables(app, bad, user="technician")
    assert refused.exit_code != 0 and "only data managers import" in refused.output

    bad.write_text("participant_id,seq,date,overall\nZJ-811,1,2025-02-28,cCR\n")
    unsigned = _tables(app, bad, password="not my password")
    assert unsigned.exit_code != 0
    assert "the password is wrong: the signature was not applied" in unsigned.output
    assert session.scalar(select(CRE.date).where(CRE.participant_id == p.id)) is None

    result = _tables(app, bad)
    assert result.exit_code == 0, result.output
    assert "1 records added" in result.output
    assert session.scalar(select(CRE.date).where(CRE.participant_id == p.id)) == date(2025, 2, 28)


def test_export_redcap_then_import_it_changes_nothing(app, session, make_participant, tmp_path: Path) -> None:
    make_participant(code="ZJ-812", enrolled_on=date(2025, 1, 6))
    tables = tmp_path / "cre.csv"
    tables.write_text("participant_id,seq,date,overall\nZJ-812,1,2025-03-01,local\n")
    assert _tables(app, tables).exit_code == 0
    out, mapping = tmp_path / "export.csv", tmp_path / "mapping.yaml"
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["clinical", "export-redcap", str(out), "--mapping-out", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "ZJ-812,cre1_arm_1,,,," in out.read_text()
    result = runner.invoke(main, ["clinical", "import-redcap", str(out), "--mapping", str(mapping),
                                  "--user", "data_manager", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output
