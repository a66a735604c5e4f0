"""Jobs in one process: queue, claim, lock, cancel, retry, reap; the API and pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims.core.db import utcnow
from lims.core.errors import Conflict
from lims.jobs import service
from lims.jobs.models import Job


def _queued(session, kind="selftest", **kwargs) -> Job:
    job = service.enqueue(session, kind, {"seconds": 0}, **kwargs)
    session.flush()
    return job


def test_a_job_runs_once_and_records_its_result(session) -> None:
    job = _queued(session)
    assert service.execute(session, job.id, worker="test:1") == "done"
    session.refresh(job)
    assert job.status == "done" and job.progress == 1.0 and job.attempts == 1 and job.result["slept"] == 0
    assert service.execute(session, job.id, worker="test:1") == "gone"  # a duplicate delivery does nothing
    session.refresh(job)
    assert job.attempts == 1


def test_one_job_per_lock_key_runs_at_a_time(session) -> None:
    first, second = _queued(session,
                            lock_key="signatures:study:1"), _queued(session, lock_key="signatures:study:1")
    assert service.claim(session, first.id, worker="w1") == "claimed"
    assert service.claim(session, second.id, worker="w2") == "busy"
    session.refresh(second)
    assert second.status == "queued" and second.attempts == 0
    other = _queued(session, lock_key="signatures:study:2")
    assert service.claim(session, other.id, worker="w3") == "claimed"


def test_cancel_and_retry(session) -> None:
    job = _queued(session)
    service.cancel(session, job)
    assert job.status == "cancelled" and job.finished_at is not None
    assert service.execute(session, job.id) == "gone"
    with pytest.raises(Conflict):
        service.cancel(session, job)
    service.retry(session, job)
    assert job.status == "queued" and job.attempts == 0
    assert service.execute(session, job.id) == "done"
    with pytest.raises(Conflict, match="only a failed or cancelled job"):
        service.retry(session, job)


def test_a_job_whose_worker_died_runs_again_then_fails_with_the_reason(session) -> None:
    job = _queued(session, max_attempts=2)
    assert service.claim(session, job.id, worker="dead:1") == "claimed"
    later = utcnow() + service.STALE_AFTER + timedelta(seconds=1)
    assert service.reap(session, now=later, alive={job.id}) == []  # this process still runs it
    assert service.reap(session, now=later) == [job.id]
    assert job.status == "queued" and "stopped during attempt 1 of 2" in job.message
    assert service.claim(session, job.id, worker="dead:2") == "claimed" and job.attempts == 2
    assert service.reap(session, now=later + service.STALE_AFTER) == []
    assert job.status == "failed" and "the worker dead:2 stopped during attempt 2 of 2" in job.error


def test_unknown_kind_is_refused(session) -> None:
    from lims.core.errors import DomainError

    with pytest.raises(DomainError, match="unknown job kind"):
        service.enqueue(session, "teleport")


def test_api_and_pages(login, session) -> None:
    admin = login("admin")
    r = admin.post("/api/v1/jobs/selftest", json={"seconds": 0})
    assert r.status_code == 202
    job_id = r.get_json()["id"]
    shown = admin.get(f"/api/v1/jobs/{job_id}").get_json()
    assert shown["status"] == "done" and shown["result"]["slept"] == 0
    assert "Worker self-test" in admin.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert admin.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 409
    researcher = login("researcher")
    assert researcher.post("/api/v1/jobs/selftest", json={"seconds": 0}).status_code == 403
    assert researcher.get(f"/api/v1/jobs/{job_id}").status_code == 404  # another user's job
    assert researcher.get("/api/v1/jobs/").get_json() == []
