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
    from lims.station import actions
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


IMPORT_CHILD = textwrap.dedent("""
    import sys, time
    from sqlalchemy import select
    from lims import create_app
    from lims.accounts.models import User
    from lims.extensions import db
    from lims.markers import bulk, importer

    bulk.STAGE_MIN_ROWS = 0                # SQLite: the staging-file path that large files take
    original = importer.insert_results

    def insert_then_wait(*args, **kwargs):
        original(*args, **kwargs)          # every row is written inside the open transaction...
        print("inserted", flush=True)
        time.sleep(600)                    # ...and the parent kills us before the commit

    importer.insert_results = insert_then_wait
    app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2]})
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "researcher"))
        importer.import_results(db.session, open(sys.argv[3], "rb").read(), filename="big.csv", by=user)
        db.session.commit()
""")


def _import_file(app, path: Path) -> int:
    from lims.markers.models import Marker, MarkerResult
    from lims.participants.models import Participant
    from lims.studies.models import SampleType

    with app.app_context():
        s = db.session
        stored = set(s.execute(select(MarkerResult.sample_id, MarkerResult.marker_id)).all())
        samples = s.execute(select(Sample.id, Sample.accession, SampleType.code)
                            .join(SampleType, Sample.sample_type_id == SampleType.id)
                            .join(Participant, Sample.participant_id == Participant.id)
                            .where(Sample.accession.is_not(None), Sample.status == "in_storage")).all()
        lines = ["sample,marker,value,unit"]
        for marker in s.scalars(select(Marker)):
            for sid, accession, type_code in samples:
                if type_code in marker.specimen_types and (sid, marker.id) not in stored:
                    lines.append(f"{accession},{marker.code},1.5,{marker.unit}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


@pytest.mark.slow
def test_sigkill_mid_import_changes_nothing(tmp_path: Path) -> None:
    from lims.markers.models import MarkerResult

    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True})
        runner = app.test_cli_runner()
        for args in (["db", "upgrade"], ["demo", "--participants", "6"]):
            assert runner.invoke(main, args).exit_code == 0
        rows = _import_file(app, tmp_path / "big.csv")
        assert rows > 500
        with app.app_context():
            before = db.session.scalar(select(func.count(MarkerResult.id)))
        app.extensions["lims_db"]["engine"].dispose()
        child = subprocess.Popen([sys.executable, "-c", IMPORT_CHILD, url, str(tmp_path / "instance"),
                                  str(tmp_path / "big.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True,
                                 env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        try:
            line = child.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("inserted"), child.stderr.read()  # type: ignore[union-attr]
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            child.stdout.close()  # type: ignore[union-attr]
            child.stderr.close()  # type: ignore[union-attr]
        assert child.returncode == -signal.SIGKILL
        with app.app_context():
            assert db.session.scalar(select(func.count(MarkerResult.id))) == before
        app.extensions["lims_db"]["engine"].dispose()
