"""A process killed (SIGKILL) in the middle of a batch leaves the database exactly as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims import create_app
from lims.cli import main
from lims.custody.models import CustodyEvent
from lims.custody.service import verify_chain
from lims.extensions import db
from lims.samples.models import Sample
from tests.conftest import PG_URL, fresh_database

CHILD = textwrap.dedent("""
    import sys, time
    from sqlalchemy import select
    from lims import create_app
    from lims.accounts.models import User
    from lims.extensions import db
    from lims.samples import actions
    from lims.samples.models import Sample

    app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2]})
    with app.app_context():
        s = db.session
        tech = s.scalar(select(User).where(User.username == "labmanager"))
        samples = s.scalars(select(Sample).where(Sample.status == "in_storage").order_by(Sample.id)).all()
        for i, sample in enumerate(samples, start=1):
            actions.thaw(s, sample, by=tech, reason="crash test")
            if i % 25 == 0:
                s.flush()
                print(f"progress {i} of {len(samples)}", flush=True)
            if i == len(samples) // 2:
                s.flush()
                print("halfway", flush=True)
                time.sleep(600)   # the parent kills us here, in the middle of the batch
        s.commit()
""")


def _state(app) -> tuple:
    with app.app_context():
        s = db.session
        thaws = s.scalar(select(func.sum(Sample.freeze_thaw_count)))
        events = s.scalar(select(func.count(CustodyEvent.id)))
        report = verify_chain(s)
        return thaws, events, report.ok, report.checked


@pytest.mark.slow
def test_sigkill_mid_batch_changes_nothing(tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
        runner = app.test_cli_runner()
        for args in (["db", "upgrade"], ["demo", "--participants", "6"]):
            assert runner.invoke(main, args).exit_code == 0
        before = _state(app)
        assert before[2] and before[3] > 100
        child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path / "instance")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        try:
            lines = []
            for line in child.stdout:  # type: ignore[union-attr]
                lines.append(line.strip())
                if line.startswith("halfway"):
                    break
            assert "halfway" in lines, child.stderr.read()  # type: ignore[union-attr]
            assert any(line.startswith("progress") for line in lines)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            child.stdout.close()  # type: ignore[union-attr]
            child.stderr.close()  # type: ignore[union-attr]
        assert child.returncode == -signal.SIGKILL
        app.extensions["lims_db"]["engine"].dispose()
        assert _state(app) == before
        # The database is usable afterwards: a new write goes through.
        with app.app_context():
            sample = db.session.scalars(select(Sample).where(Sample.status == "in_storage").limit(1)).one()
            sample.note = "after the crash"
            db.session.commit()
        app.extensions["lims_db"]["engine"].dispose()
