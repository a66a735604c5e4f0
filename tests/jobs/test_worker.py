"""Real workers: `lims worker` processes on Huey's SQLite storage and on Redis pick jobs up; a worker killed
mid-job leaves the job run again by another worker, or failed with the reason, never lost."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lims import create_app
from lims.core.db import utcnow
from lims.core.migrate import upgrade
from lims.core.uow import run, unit_of_work
from lims.extensions import db
from lims.jobs import queue, service
from lims.jobs.models import Job
from tests.conftest import PG_URL, fresh_database

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _redis(tmp: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs Debian's redis-server)")
    port = _free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no",
                             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(params=["sqlite-queue", "redis"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url)
        if request.param == "redis":
            cm = _redis(tmp_path)
        else:
            cm = _nothing(f"sqlite:///{tmp_path / 'queue.db'}")
        with cm as queue_url:
            config = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "worker-test", "QUEUE_URL": queue_url}
            app = create_app(config)
            env = {**os.environ, **{f"LIMS_{k}": v for k, v in config.items()}}
            workers: list[subprocess.Popen[bytes]] = []
            yield {"app": app, "env": env, "workers": workers, "log": tmp_path / "worker.log"}
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            app.extensions["lims_db"]["engine"].dispose()


@contextmanager
def _nothing(value: str) -> Iterator[str]:
    yield value


def _start_worker(setup: dict[str, Any]) -> subprocess.Popen[bytes]:
    with open(setup["log"], "ab") as log:  # the worker keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "lims.cli", "worker", "--no-periodic"],
                                env=setup["env"],
                                stdout=log, stderr=subprocess.STDOUT)
    setup["workers"].append(proc)
    return proc


def _enqueue(setup: dict[str, Any], **params: Any) -> int:
    app = setup["app"]
    max_attempts = params.pop("max_attempts", 2)
    with app.app_context(), unit_of_work(db.session):
        job = queue.enqueue(db.session, "selftest", params, max_attempts=max_attempts)
    return job.id


def _job(setup: dict[str, Any], job_id: int) -> Job:
    with setup["app"].app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        return job


def _wait(setup: dict[str, Any], job_id: int, statuses: tuple[str, ...], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(setup, job_id)
        if job.status in statuses:
            return job
        time.sleep(0.1)
    log = setup["log"].read_text(errors="replace")[-3000:] if setup["log"].exists() else ""
    raise AssertionError(f"job {job_id} is {_job(setup, job_id).status}, not {statuses}; worker log:\n{log}")


def test_a_worker_process_runs_queued_jobs(setup: dict[str, Any]) -> None:
    first = _enqueue(setup, seconds=0)  # queued before any worker runs: waits in the queue
    _start_worker(setup)
    second = _enqueue(setup, seconds=0.2)
    for job_id in (first, second):
        job = _wait(setup, job_id, ("done", "failed"))
        assert job.status == "done", job.error
        assert job.worker and job.worker.split(":")[1].isdigit() and job.progress == 1.0


def test_a_job_of_a_killed_worker_runs_again_elsewhere_or_fails_with_the_reason(setup: dict[
    str, Any]) -> None:
    victim = _start_worker(setup)
    again = _enqueue(setup, seconds=3, max_attempts=2)
    once = _enqueue(setup, seconds=3, max_attempts=1)
    _wait(setup, again, ("running",))
    os.kill(victim.pid, signal.SIGKILL)  # mid-job: nothing of the worker survives
    victim.wait(10)
    assert _job(setup, again).status == "running"
    _start_worker(setup)
    app = setup["app"]
    with app.app_context():  # what the periodic reaper does, with the clock moved past the stale limit
        later = utcnow() + service.STALE_AFTER + timedelta(seconds=1)
        pushed = run(db.session, lambda: service.reap(db.session, now=later))
        for job_id in pushed:
            queue.push(job_id, app=app)
    job = _wait(setup, again, ("done", "failed"))
    assert job.status == "done" and job.attempts == 2, job.error
    failed = _wait(setup, once, ("done", "failed"))
    if failed.status == "failed":  # it was waiting in the killed worker's hands or in the queue
        assert "stopped during attempt 1 of 1" in failed.error
    else:
        assert failed.attempts == 1  # the new worker took it from the queue: it never started on the dead one


def test_an_export_built_by_a_worker_process_is_downloaded_from_the_web_app(setup: dict[str, Any]) -> None:
    """The zip a worker process builds is kept in the database, where any web server finds it."""
    from lims.accounts.service import add_user
    from lims.config import DEFAULT_PROTOCOL
    from lims.markers.export import ExportQuery
    from lims.markers.jobs import queue_export
    from lims.studies.protocol import load_protocol
    from lims.studies.service import install_protocol
    from tests.conftest import PASSWORD

    app = setup["app"]
    app.config.update(WTF_CSRF_ENABLED=False, PASSWORD_HASH_METHOD="pbkdf2:sha256:1000", MFA_ROLES="",
                      RATELIMIT_ENABLED=False)
    with app.app_context(), unit_of_work(db.session):
        install_protocol(db.session, load_protocol(DEFAULT_PROTOCOL))
        researcher = add_user(db.session, username="researcher", password=PASSWORD, role="researcher")
        job_id = queue_export(db.session, ExportQuery(form="wide"), by=researcher).id
    _start_worker(setup)
    job = _wait(setup, job_id, ("done", "failed"))
    assert job.status == "done" and job.worker != service.worker_name(), job.error
    client = app.test_client()
    assert client.post("/login", data={"username": "researcher", "password": PASSWORD}).status_code == 302
    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.data).hexdigest()
    with zipfile.ZipFile(io.BytesIO(download.data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["exported_by"]["username"] == "researcher" and manifest["query"]["form"] == "wide"
