"""The REDCap API pull (``redcap_sync`` job), against a test double of REDCap's API on 127.0.0.1."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select

from lims.cli import main
from lims.clinical import redcap, service
from lims.clinical.jobs import KIND, queue_sync
from lims.clinical.models import CRE, MODELS, ImportRun
from lims.core.db import utcnow
from lims.core.errors import DomainError
from lims.jobs import service as jobs
from tests.clinical.redcap_double import NO_PERMISSION, VERSION, RedcapDouble, serve
from tests.clinical.test_import import ENROL, _redcap

TOKEN = "0123456789ABCDEF0123456789ABCDEF"  # REDCap tokens are 32 hexadecimal characters
# The fixture export of tests/clinical/test_import.py: events, a repeating form, codes and a checkbox.
EXPORT = _redcap(
    "ZJ-801,study_arm_1,,,3,2025-03-30,,,,,,,,2",
    "ZJ-801,cre1_arm_1,,,,,2025-03-20,1,,,,,,2",
    "ZJ-801,cre2_arm_1,,,,,2025-06-20,2,,,,,,2",
    "ZJ-801,study_arm_1,disease_event,1,,,,,2025-06-20,1,1,0,0,2",
    "ZJ-802,cre1_arm_1,,,,,2025-03-21,1,,,,,,2",
)


@pytest.fixture()
def people(session, make_participant):
    made = [make_participant(code="ZJ-801", enrolled_on=ENROL),
            make_participant(code="ZJ-802", enrolled_on=ENROL)]
    made[0].eot_on = made[1].eot_on = date(2025, 2, 14)
    session.flush()
    return made


@pytest.fixture()
def redcap_api(app, monkeypatch):
    """Serve the fixture export through the REDCap double and point the settings at it."""
    with serve(RedcapDouble(token=TOKEN, export=EXPORT)) as double:
        monkeypatch.setitem(app.config, "REDCAP_URL", double.url)
        monkeypatch.setitem(app.config, "REDCAP_TOKEN", TOKEN)
        yield double


def _sync(session, by=None):
    job = queue_sync(session, by=by)
    session.commit()
    jobs.execute(session, job.id, worker="test:redcap")
    job = jobs.get_job(session, job.id)
    session.refresh(job)
    return job


def _tables(session, study) -> dict[str, pd.DataFrame]:
    return {name: frame.reset_index(drop=True)
            for name, frame in service.clinical_tables(session, study).items()}


def _rows(session) -> dict[str, int]:
    return {table: session.scalar(select(func.count()).select_from(spec[0]))
            for table, spec in MODELS.items()}


def test_sync_imports_what_the_file_upload_imports(session, study, people, user, redcap_api) -> None:
    job = _sync(session)
    assert job.status == "done", job.error
    result = job.result
    assert result["applied"] and result["problems"] == [] and result["inserted"] > 0
    run = session.get(ImportRun, result["run_id"])
    assert run.by_id is None  # scheduled work on nobody's behalf
    assert run.filenames[0] == f"REDCap API (127.0.0.1:{redcap_api.url.split(':')[2].split('/')[0]})"
    asked = [r for r in redcap_api.requests if r["content"] == "record"]
    assert asked and asked[0]["type"] == "flat" and asked[0]["rawOrLabel"] == "raw"
    assert asked[0].get("exportSurveyFields", "false") == "false"  # REDCap's default: no survey columns
    synced = _tables(session, study)
    assert len(synced["cre"]) == 3 and len(synced["disease_events"]) == 1

    # the same export uploaded as a file finds every record already there, unchanged
    report = redcap.import_redcap(session, study, "export.csv", EXPORT, by=user("data_manager"))
    assert report.applied and report.problems == []
    assert (report.records, report.inserted, report.updated) == (result["records"], 0, 0)
    assert report.unchanged == result["inserted"]
    uploaded = _tables(session, study)
    for name, frame in synced.items():
        pd.testing.assert_frame_equal(uploaded[name], frame, check_like=True)


def test_second_sync_is_idempotent(session, study, people, redcap_api) -> None:
    first = _sync(session)
    assert first.status == "done" and first.result["inserted"] > 0
    rows, runs = _rows(session), session.scalar(select(func.count()).select_from(ImportRun))
    second = _sync(session)
    assert second.status == "done", second.error
    assert (second.result["inserted"], second.result["updated"], second.result["run_id"]) == (0, 0, None)
    assert second.result["unchanged"] == first.result["inserted"]
    assert _rows(session) == rows
    assert session.scalar(select(func.count()).select_from(ImportRun)) == runs


def test_bad_token_fails_the_job_with_a_clear_reason(app, session, study, people, monkeypatch,
                                                     redcap_api) -> None:
    wrong = "F" * 32
    monkeypatch.setitem(app.config, "REDCAP_TOKEN", wrong)
    job = _sync(session)
    assert job.status == "failed"
    assert NO_PERMISSION in job.error and redcap_api.url in job.error
    assert wrong not in job.error and TOKEN not in job.error
    assert session.scalar(select(func.count()).select_from(CRE)) == 0

    monkeypatch.setitem(app.config, "REDCAP_TOKEN", "short")  # not a token at all: refused before asking
    job = _sync(session)
    assert job.status == "failed" and "32 characters" in job.error and "short" not in job.error


def test_unreachable_redcap_fails_the_job(app, session, study, people, monkeypatch, redcap_api) -> None:
    with serve(RedcapDouble(token=TOKEN, export=EXPORT)) as gone:
        url = gone.url
    monkeypatch.setitem(app.config, "REDCAP_URL", url)  # nothing listens there any more
    job = _sync(session)
    assert job.status == "failed"
    assert job.error.startswith(f"REDCap at {url} could not be asked for records (ConnectionError")
    assert TOKEN not in job.error


def test_refused_rows_fail_the_job_with_the_importers_problems(session, study, people, redcap_api) -> None:
    redcap_api.export = EXPORT + (b"ZJ-801,week_99_arm_1,,,,,2025-03-20,1,,,,,,2\n"
                                  b"NB-404,cre1_arm_1,,,,,2025-03-20,1,,,,,,2\n")
    job = _sync(session)
    assert job.status == "failed"
    assert job.error.startswith("REDCap records refused, nothing imported: 2 problem(s)")
    assert "row 7 redcap_event_name = 'week_99_arm_1': event not in the mapping" in job.error
    assert "row 8 record_id = 'NB-404': unknown participant in this study" in job.error
    reasons = {(p["row"], p["reason"]) for p in job.result["problems"]}
    assert (7, "event not in the mapping") in reasons
    assert session.scalar(select(func.count()).select_from(CRE)) == 0


def test_the_sync_is_scheduled_only_when_configured(app, session, monkeypatch, redcap_api) -> None:
    monkeypatch.setitem(app.config, "REDCAP_TOKEN", None)
    with pytest.raises(DomainError, match="REDCap is not configured"):
        queue_sync(session, by=None)
    scheduled = {jobs.get_job(session, i).kind for i in jobs.schedule_periodic(session)}
    assert KIND not in scheduled

    monkeypatch.setitem(app.config, "REDCAP_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "REDCAP_SYNC_MINUTES", 60)
    [job_id] = [i for i in jobs.schedule_periodic(session) if jobs.get_job(session, i).kind == KIND]
    job = jobs.get_job(session, job_id)
    jobs.cancel(session, job)
    # within the hour
    assert KIND not in {jobs.get_job(session, i).kind for i in jobs.schedule_periodic(session)}
    job.created_at = utcnow() - timedelta(minutes=61)
    session.flush()
    assert KIND in {jobs.get_job(session, i).kind for i in jobs.schedule_periodic(session)}


def test_cli_redcap_sync(app, session, study, people, redcap_api) -> None:
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["clinical", "redcap-sync"])
    assert result.exit_code == 0, result.output
    assert "records read," in result.output and "(import #" in result.output
    assert TOKEN not in result.output
    assert session.scalar(select(func.count()).select_from(CRE)) == 3
    again = runner.invoke(main, ["clinical", "redcap-sync"])
    assert again.exit_code == 0 and "0 added, 0 updated" in again.output and "nothing changed" in again.output


def test_the_double_answers_pycap_as_redcap_does(redcap_api) -> None:
    from redcap import Project, RedcapError

    project = Project(redcap_api.url, TOKEN)
    assert str(project.export_version()) == VERSION
    assert project.def_field == "record_id" and "ev_proof" in project.field_names
    assert project.export_records(format_type="csv") == EXPORT.decode()
    records = project.export_records()
    assert records[3]["redcap_repeat_instance"] == 1 and records[3]["ev_proof___1"] == "1"
    with pytest.raises(RedcapError, match=NO_PERMISSION):
        Project(redcap_api.url, "F" * 32).export_records()


def test_admins_sync_now_from_the_import_page(session, study, people, login, redcap_api) -> None:
    session.commit()
    admin = login("admin")
    page = admin.get("/clinical/import").get_data(as_text=True)
    assert "Sync REDCap now" in page and TOKEN not in page
    assert "Sync REDCap now" not in login("data_manager").get("/clinical/import").get_data(as_text=True)
    assert login("data_manager").post("/clinical/redcap-sync").status_code == 403
    response = login("admin").post("/clinical/redcap-sync")
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    job = jobs.get_job(session, int(response.headers["Location"].rstrip("/").split("/")[-1]))
    session.refresh(job)
    assert job.kind == KIND and job.status == "done", job.error  # the test queue runs jobs at once
    assert session.scalar(select(func.count()).select_from(CRE)) == 3
    assert "REDCap sync" in login("admin").get("/clinical/import").get_data(as_text=True)
    history = login("admin").get("/clinical/ZJ-801")
    assert history.status_code == 200 and "REDCap sync</td>" in history.get_data(as_text=True)


def test_an_empty_project_imports_nothing(session, study, redcap_api) -> None:
    redcap_api.export = EXPORT.split(b"\n")[0] + b"\n"  # fields, no records: the JSON export is []
    job = _sync(session)
    assert (job.status, job.result["records"], job.result["run_id"]) == ("done", 0, None), job.error


def test_settings_come_from_the_environment_as_typed(tmp_path, monkeypatch) -> None:
    from flask import Flask

    from lims.clinical.redcap_api import configured_source
    from lims.config import configure

    token = "1234567890e12345678901234567890A"[:31] + "9"  # digits and one 'e': JSON would read a number
    monkeypatch.setenv("LIMS_REDCAP_URL", "https://redcap.example.org/api/")
    monkeypatch.setenv("LIMS_REDCAP_TOKEN", token)
    monkeypatch.setenv("LIMS_REDCAP_SYNC_MINUTES", "60")
    app = Flask("settings", instance_path=str(tmp_path))
    configure(app, None)
    source = configured_source(app.config)
    assert source is not None and source.token == token and app.config["REDCAP_SYNC_MINUTES"] == 60
    assert token not in repr(source) and source.name == "REDCap API (redcap.example.org)"
