"""`lims clinical` import and export commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from lims.cli import main
from lims.clinical.models import CRE


def test_import_tables_reports_problems_then_imports(app, session, make_participant, tmp_path: Path) -> None:
    p = make_participant(code="ZJ-811", enrolled_on=date(2025, 1, 6))
    session.commit()  # the failing command rolls back its own work only (the test's transaction still ends)
    bad = tmp_path / "cre.csv"
    bad.write_text("participant_id,seq,date,overall\nZJ-811,1,2025-02-30,cCR\n")
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["clinical", "import-tables", str(bad), "--user", "data_manager"])
    assert result.exit_code == 1
    assert "ERROR cre.csv row 2 date=2025-02-30: not a date" in result.output
    assert "Nothing imported" in result.output

    refused = runner.invoke(main, ["clinical", "import-tables", str(bad), "--user", "technician"])
    assert refused.exit_code != 0 and "only data managers import" in refused.output

    bad.write_text("participant_id,seq,date,overall\nZJ-811,1,2025-02-28,cCR\n")
    result = runner.invoke(main, ["clinical", "import-tables", str(bad), "--user", "data_manager"])
    assert result.exit_code == 0, result.output
    assert "1 records added" in result.output
    assert session.scalar(select(CRE.date).where(CRE.participant_id == p.id)) == date(2025, 2, 28)


def test_export_redcap_then_import_it_changes_nothing(app, session, make_participant, tmp_path: Path) -> None:
    make_participant(code="ZJ-812", enrolled_on=date(2025, 1, 6))
    tables = tmp_path / "cre.csv"
    tables.write_text("participant_id,seq,date,overall\nZJ-812,1,2025-03-01,local\n")
    runner = app.test_cli_runner()
    assert runner.invoke(main, ["clinical", "import-tables", str(tables), "--user", "data_manager"]).exit_code == 0
    out, mapping = tmp_path / "export.csv", tmp_path / "mapping.yaml"
    result = runner.invoke(main, ["clinical", "export-redcap", str(out), "--mapping-out", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "ZJ-812,cre1_arm_1,,,," in out.read_text()
    result = runner.invoke(main, ["clinical", "import-redcap", str(out), "--mapping", str(mapping),
                                  "--user", "data_manager"])
    assert result.exit_code == 0, result.output
    assert "nothing changed" in result.output
