"""Exports as jobs: above ``JOB_ABOVE_ROWS`` the POST queues a job whose zip its requester downloads; the
zip holds the same bytes the request itself returns for a small export (the same function builds both)."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict

import pytest
from sqlalchemy import func, select

from lims.core.models import AuditEvent
from lims.jobs.models import Job, JobFile
from lims.markers.importer import import_results
from lims.markers.models import ExportRun

HEADER = "sample,marker,value,unit,qualifier\n"
VARYING = ("export_id", "exported_at")  # the manifest fields that name the export itself


@pytest.fixture()
def results(session, catalogue, sampled) -> None:
    rows = []
    for i in range(3):
        _, acc = sampled()
        rows.append(f"{acc['SERUM']},IL6,{4 + i},pg/mL,")
        rows.append(f"{acc['CTDNA_PLASMA']},CTDNA_VAF,{0.1 * (i + 1):.2f},%,")
    import_results(session, (HEADER + "\n".join(rows) + "\n").encode(), filename="seed.csv")
    session.flush()


def _members(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _same_export(sync: bytes, queued: bytes) -> None:
    a, b = _members(sync), _members(queued)
    assert a.keys() == b.keys() and {"data_dictionary.csv", "manifest.json"} < a.keys()
    assert all(a[name] == b[name] for name in a if name != "manifest.json")
    ma, mb = json.loads(a["manifest.json"]), json.loads(b["manifest.json"])
    assert mb["export_id"] == ma["export_id"] + 1
    assert {k: v for k, v in ma.items()
            if k not in VARYING} == {k: v for k, v in mb.items() if k not in VARYING}


def test_export_page_queues_a_job_and_its_requester_downloads_the_same_zip(app, login, session, results,
                                                                          monkeypatch) -> None:
    client = login("researcher")
    form = {"form": "long", "format": "csv", "markers": ["IL6", "CTDNA_VAF"]}
    sync = client.post("/markers/export", data=form)
    assert sync.status_code == 200 and sync.mimetype == "application/zip"

    monkeypatch.setitem(app.config, "JOB_ABOVE_ROWS", 0)
    queued = client.post("/markers/export", data=form)
    assert queued.status_code == 302 and queued.headers["Location"].startswith("/jobs/")
    job = session.scalar(select(Job).where(Job.kind == "dataset_export"))
    session.refresh(job)
    assert job.status == "done" and job.result["rows"] == 6 and job.result["participants"] == 3
    page = client.get(queued.headers["Location"]).get_data(as_text=True)
    assert "Download" in page and f"/jobs/{job.id}/download" in page
    download = client.get(f"/jobs/{job.id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert job.result["filename"] in download.headers["Content-Disposition"]
    _same_export(sync.data, download.data)
    stored = session.scalar(select(JobFile).where(JobFile.job_id == job.id))
    assert stored.size == len(download.data) and download.headers["X-Content-SHA256"] == stored.sha256
    assert session.scalar(select(func.count(ExportRun.id))) == 2
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "dataset_export")) == 2

    # only the requester downloads it: another researcher-level user and the admin who may watch the job do
    # not
    assert login("pi").get(f"/jobs/{job.id}/download").status_code == 404
    admin = login("admin")
    assert admin.get(f"/jobs/{job.id}").status_code == 200
    assert admin.get(f"/jobs/{job.id}/download").status_code == 404
    assert "/download" not in admin.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_export_api_answers_202_with_the_job_and_the_zip_follows(app, login, session, results,
                                                                monkeypatch) -> None:
    client = login("researcher")
    query = {"form": "wide", "format": "parquet", "markers": ["IL6"]}
    sync = client.post("/api/v1/markers/exports", json=query)
    assert sync.status_code == 200
    monkeypatch.setitem(app.config, "JOB_ABOVE_ROWS", 0)
    assert client.post("/api/v1/markers/exports", json={**query, "dates": True}).status_code == 403  # at once
    accepted = client.post("/api/v1/markers/exports", json=query)
    assert accepted.status_code == 202, accepted.get_json()
    body = accepted.get_json()
    assert body["kind"] == "dataset_export" and accepted.headers["Location"] == f"/api/v1/jobs/{body['id']}"
    job = client.get(accepted.headers["Location"]).get_json()
    assert job["status"] == "done" and job["file"]["url"] == f"/api/v1/jobs/{body['id']}/download"
    download = client.get(job["file"]["url"])
    assert download.status_code == 200 and len(download.data) == job["file"]["size"]
    _same_export(sync.data, download.data)
    assert login("data_manager").get(job["file"]["url"]).status_code == 404


def test_consent_and_role_are_decided_when_the_job_runs(login, session, results, user) -> None:
    from lims.consent.withdrawal import withdraw_consent
    from lims.jobs import service as jobs
    from lims.markers.export import ExportQuery
    from lims.participants.models import Participant

    researcher = user("researcher")
    # queued without a push, so that the test says when each one runs
    first, second = (jobs.enqueue(session, "dataset_export", {"query": asdict(ExportQuery(markers=["IL6"]))},
                                  by=researcher) for _ in range(2))
    session.flush()
    # a participant withdraws after the export was asked for, before it runs: they are not in it
    someone = session.scalars(select(Participant).order_by(Participant.code)).first()
    withdraw_consent(session, someone, on=someone.enrolled_on, reason="asked to leave",
                     by=user("data_manager"))
    session.flush()
    assert jobs.execute(session, first.id) == "done"
    session.refresh(first)
    assert first.result["participants"] == 2
    data = _members(login("researcher").get(f"/jobs/{first.id}/download").data)["data.csv"].decode()
    assert someone.code not in data
    # the requester's role loses the export right before the job runs: it fails, with no file
    researcher.role = "monitor"
    session.flush()
    assert jobs.execute(session, second.id) == "failed"
    session.refresh(second)
    assert "no longer allows export.dataset" in second.error and second.file is None


def test_a_large_results_upload_is_imported_by_a_job_with_the_same_report(app, login, session, catalogue,
                                                                          sampled, monkeypatch) -> None:
    from lims.markers.models import MarkerResult

    _, acc = sampled()
    bad = (HEADER + f"{acc['SERUM']},IL6,4,parsec,\n").encode()
    good = (HEADER + f"{acc['SERUM']},IL6,4,pg/mL,\n{acc['SERUM_2']},IL6,,pg/mL,<LOD\n").encode()
    client = login("data_manager")

    def upload(body: bytes, api: bool = False) -> object:
        path = "/api/v1/markers/imports" if api else "/markers/import"
        return client.post(path, data={"file": (io.BytesIO(body), "r.csv")},
                           content_type="multipart/form-data")

    inline = upload(bad, api=True)
    assert inline.status_code == 422
    monkeypatch.setitem(app.config, "IMPORT_JOB_ABOVE_BYTES", 10)
    refused = upload(bad)
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/jobs/")
    job_id = int(refused.headers["Location"].rsplit("/", 1)[1])
    job = client.get(f"/api/v1/jobs/{job_id}").get_json()
    assert job["status"] == "failed" and "nothing imported" in job["error"]
    assert job["result"]["report"] == inline.get_json()["report"]
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "nothing was imported: 1 problem(s)" in page and "unit" in page
    assert session.scalar(select(func.count(MarkerResult.id))) == 0

    accepted = upload(good, api=True)
    assert accepted.status_code == 202 and accepted.get_json()["kind"] == "results_import"
    job = client.get(accepted.headers["Location"]).get_json()
    assert job["status"] == "done" and job["result"]["report"]["results"] == 2 and job["file"] is None
    assert session.scalar(select(func.count(MarkerResult.id))) == 2
    # upload gone
    assert session.scalar(select(func.count(JobFile.id)).where(JobFile.job_id == job["id"])) == 0
    assert login("monitor").post("/markers/import", data={"file": (io.BytesIO(good), "r.csv")},
                                    content_type="multipart/form-data").status_code == 403
