"""The topology itself (LIMS_E2E_TOPOLOGY=embedded or production): requests reach every web server and jobs
run on the worker processes, not in the web servers."""

from __future__ import annotations

import time

import pytest

from lims.core.uow import unit_of_work
from lims.extensions import db
from lims.jobs import queue
from lims.jobs.models import Job
from tests.e2e.conftest import log_in


def test_requests_reach_every_web_server_and_jobs_run_on_the_workers(page, live_server) -> None:
    if live_server.topology == "inprocess":
        pytest.skip("in-process run: one server, jobs run inline (set LIMS_E2E_TOPOLOGY=embedded or "
                    "production)")
    log_in(page, live_server, "pi")
    for link in ("Participants", "Trial endpoints", "Signatures", "Participants"):
        page.get_by_role("link", name=link, exact=True).first.click()
        page.wait_for_load_state()
    app = live_server.app
    with app.app_context():
        ids = []
        with unit_of_work(db.session):
            for _ in range(4):
                ids.append(queue.enqueue(db.session, "selftest", {"seconds": 0.5}, max_attempts=1).id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.session.rollback()
            jobs = [db.session.get(Job, i) for i in ids]
            if all(j.finished for j in jobs):
                break
            time.sleep(0.2)
    assert all(j.status == "done" for j in jobs), [(j.id, j.status, j.error) for j in jobs]
    workers = {int(j.worker.rsplit(":", 1)[1]) for j in jobs}
    assert workers <= set(live_server.facts["workers"]), (workers, live_server.facts["workers"])
    if live_server.topology == "production":
        proxy = live_server.facts["proxy"]
        assert len(proxy.served) == 2 and all(n > 0 for n in proxy.served.values()), proxy.served
