"""Periodic jobs: the scheduler queues each periodic kind once; running them anchors custody and records
retention reminders (once per sample)."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.core.models import AuditEvent
from lims.custody import keys
from lims.custody.anchorfile import Anchor
from lims.custody.models import CustodyChain, CustodyCheckpoint
from lims.jobs import service
from lims.jobs.models import Job
from tests.storage.conftest import make_lab


def _run_periodic(session) -> dict[str, Job]:
    ids = service.schedule_periodic(session)
    session.flush()
    assert service.schedule_periodic(session) == []  # already queued: not twice
    jobs = {}
    for job_id in ids:
        assert service.execute(session, job_id, worker="test:periodic") == "done"
        job = service.get_job(session, job_id)
        session.refresh(job)
        jobs[job.kind] = job
    return jobs


def test_periodic_jobs_anchor_custody_and_remind_retention_once(session, study, make_participant, user,
                                                                login, app, tmp_path, monkeypatch) -> None:
    # an anchor file of this test's own: the database is rolled back after it, the shared instance's file not
    monkeypatch.setitem(app.config, "CUSTODY_ANCHOR_FILE", str(tmp_path / "custody-anchors.log"))
    lab = make_lab(session, study, make_participant, user)
    # CTDNA_PLASMA kept one year: the lab's plasma tubes (collected in January 2025) are past it
    study.settings = {**study.settings,
                      "retention_years": {**study.settings["retention_years"], "CTDNA_PLASMA": 1}}
    session.flush()
    changed = session.scalar(select(func.count()).select_from(CustodyChain)
                             .where(CustodyChain.checkpoint_number.is_(None)))
    assert changed > 0

    jobs = _run_periodic(session)
    assert {"custody_anchor", "retention_reminder"} <= jobs.keys()
    anchored = jobs["custody_anchor"].result
    checkpoint = session.get(CustodyCheckpoint, anchored["checkpoint"])
    assert checkpoint is not None and checkpoint.heads == anchored["heads"] >= changed
    assert session.scalar(select(func.count()).select_from(CustodyChain)
                          .where(CustodyChain.checkpoint_number.is_(None))) == 0
    last = keys.anchor_file().read_text().splitlines()[-1]
    assert Anchor.parse(last).checkpoint == checkpoint.number and Anchor.parse(last).mac == checkpoint.mac

    reminded = jobs["retention_reminder"].result
    tubes = {str(t.id): t.accession for t in lab.tubes}
    rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "retention_reminder")).all()
    by_sample = {r.object_id: r for r in rows}
    assert tubes.keys() <= by_sample.keys() and reminded["reminded"] == len(rows) == reminded["due"]
    some = next(iter(tubes))
    assert tubes[some] in by_sample[some].detail and "1-year retention period" in by_sample[some].detail

    page = login("technician").get("/storage/retention").get_data(as_text=True)
    row = next(line for line in page.split("<tr>") if tubes[some] in line)
    reminded_cell = row.split("<td>")[-1]  # the page says when it was reminded (in local time)
    assert reminded_cell.startswith(str(by_sample[some].at.year)) and "—" not in reminded_cell

    again = _run_periodic(session)  # nothing new: no second reminder, a checkpoint of no heads
    assert again["retention_reminder"].result == {"due": reminded["due"], "reminded": 0}
    assert session.scalar(select(func.count(AuditEvent.id))
                          .where(AuditEvent.action == "retention_reminder")) \
        == len(rows)
    assert again["custody_anchor"].result["heads"] == 0
    assert again["custody_anchor"].result["checkpoint"] == checkpoint.number + 1
