"""The `lims` CLI on a fresh database, and the demo trial's shape against the recipe."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from lims import create_app
from lims.cli import main
from lims.extensions import db
from tests.conftest import PG_URL, fresh_database
from tests.demo_db import DEMO_PARTICIPANTS, DemoDatabase


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("cli")
    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"), "TESTING": True})
        yield app
        db_engine = app.extensions["lims_db"]["engine"]
        db_engine.dispose()


def _run(app: Flask, *args: str, env: dict[str, str] | None = None) -> Any:
    result = app.test_cli_runner().invoke(main, list(args), env=env)
    return result


@pytest.fixture(scope="module")
def demo_app(demo_database: DemoDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app on a copy of the run's demo trial (loaded through ``lims demo``), with its own instance
    secret."""
    with demo_database.copy(tmp_path_factory.mktemp("cli-demo")) as (url, instance):
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "TESTING": True})
        yield app
        app.extensions["lims_db"]["engine"].dispose()


@pytest.fixture(scope="module")
def default_demo(fresh_app: Flask) -> Flask:
    """The demo at its default size (120 participants), loaded through the CLI on an empty database."""
    first = _run(fresh_app, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert "upgraded from empty" in first.output
    result = _run(fresh_app, "demo")
    assert result.exit_code == 0, result.output
    assert "Loaded the demo trial: 120 participants" in result.output
    return fresh_app


def test_the_demo_loader_reports_what_it_loaded(demo_database: DemoDatabase) -> None:
    assert f"Loaded the demo trial: {DEMO_PARTICIPANTS} participants" in demo_database.report
    assert "Demo logins are in" in demo_database.report


def test_help_lists_the_commands(fresh_app: Flask) -> None:
    result = _run(fresh_app, "--help")
    assert result.exit_code == 0
    for command in ("db", "demo", "user", "serve", "audit"):
        assert command in result.output


def test_commands_refuse_an_unmigrated_database_until_it_is_upgraded(tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "i"), "TESTING": True})
        result = _run(app, "demo")
        assert result.exit_code != 0
        assert "run 'lims db upgrade' first" in result.output
        upgraded = _run(app, "db", "upgrade")
        assert upgraded.exit_code == 0 and "upgraded from empty" in upgraded.output, upgraded.output
        app.extensions["lims_db"]["engine"].dispose()


def test_second_upgrade_and_second_demo_are_harmless(demo_app: Flask) -> None:
    again = _run(demo_app, "db", "upgrade")
    assert again.exit_code == 0 and "nothing to do" in again.output
    with demo_app.app_context():
        from lims.samples.models import Sample

        before = db.session.scalar(select(func.count(Sample.id)))
    demo = _run(demo_app, "demo")
    assert demo.exit_code == 0 and "already loaded" in demo.output and "nothing changed" in demo.output
    with demo_app.app_context():
        assert db.session.scalar(select(func.count(Sample.id))) == before


def test_user_add(demo_app: Flask) -> None:
    ok = _run(demo_app, "user", "add", "newtech", "--role", "technician", "--site", "NB", "--name",
              "New Tech",
              env={"LIMS_NEW_PASSWORD": "a long enough password"})
    assert ok.exit_code == 0, ok.output
    assert "Created user newtech (technician, sites NB)" in ok.output
    dup = _run(demo_app, "user", "add", "newtech", "--role", "pi",
               env={"LIMS_NEW_PASSWORD": "another long password"})
    assert dup.exit_code != 0 and "is taken" in dup.output
    short = _run(demo_app, "user", "add", "x", "--role", "pi", env={"LIMS_NEW_PASSWORD": "short"})
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    site = _run(demo_app, "user", "add", "y", "--role", "pi", "--site", "XX",
                env={"LIMS_NEW_PASSWORD": "long enough pw"})
    assert site.exit_code != 0 and "unknown site 'XX'" in site.output


def test_audit_verify_on_the_demo(demo_app: Flask) -> None:
    result = _run(demo_app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "Custody chain intact" in result.output


def test_demo_credentials_are_generated_per_instance(demo_app: Flask) -> None:
    path = Path(demo_app.instance_path) / "demo-credentials.txt"
    text = path.read_text()
    assert "password:" in text and "tech.zj" in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    secret = Path(demo_app.instance_path) / "secret_key"
    assert secret.exists() and len(secret.read_text().strip()) == 64 and os.stat(secret).st_mode & 0o077 == 0


@pytest.mark.slow
def test_demo_shape_follows_the_recipe(default_demo: Flask) -> None:
    from lims.participants.models import Participant, Visit
    from lims.samples.models import Sample

    with default_demo.app_context():
        s = db.session
        participants = s.scalars(select(Participant)).all()
        assert len(participants) == 120
        per_site = Counter(p.site.code for p in participants)
        # Site shares .35/.25/.25/.15 of 120: allow sampling noise of about three standard errors.
        for code, share in {"ZJ": 0.35, "NB": 0.25, "WZ": 0.25, "SX": 0.15}.items():
            assert abs(per_site[code] / 120 - share) < 0.13, per_site
        male = sum(p.sex == "M" for p in participants) / 120
        assert 0.70 <= male <= 0.92
        assert all(40 <= p.age <= 75 for p in participants)
        strata = Counter(p.stratum for p in participants)
        ccr = strata["CCR_SURGERY"] + strata["CCR_WW"]
        assert 0.30 <= ccr / 120 <= 0.60, strata
        assert abs(strata["CCR_SURGERY"] - strata["CCR_WW"]) <= 14, strata
        withdrawn = [p for p in participants if p.withdrawn]
        assert 1 <= len(withdrawn) <= 10
        enrol = sorted(p.enrolled_on for p in participants)
        assert (enrol[-1] - enrol[0]).days <= 731

        # Per time point: most visits done, 3-8 % of blood samples missed, stool return about 70 %.
        done = Counter(v.timepoint.code for v in s.scalars(select(Visit).where(Visit.status == "done")))
        assert done["BASELINE"] == 120
        assert 100 <= done["EOT"] <= 120
        assert done["CRE2"] > 0 and done["PRE_OP"] > 0
        primaries = s.scalars(select(Sample).where(Sample.derivation == "primary")).all()
        by_type = Counter((p.sample_type.code, p.status == "missed") for p in primaries)
        blood_missed = by_type[("WHOLE_BLOOD", True)] / (by_type[("WHOLE_BLOOD", True)]
                                                         + by_type[("WHOLE_BLOOD", False)])
        assert 0.02 <= blood_missed <= 0.09
        stool_returned = by_type[("STOOL", False)] / (by_type[("STOOL", True)] + by_type[("STOOL", False)])
        assert 0.60 <= stool_returned <= 0.80
        assert all(p.missed_reason for p in primaries if p.status == "missed")

        derived = s.scalars(select(Sample).where(Sample.derivation != "primary")).all()
        assert len(derived) > 2 * len(primaries)
        assert {d.sample_type.code
                for d in derived} >= {"CTDNA_PLASMA", "SERUM", "BUFFY_COAT", "PBMC", "STOOL"}
        edta_plasma = [d for d in derived if d.sample_type.code == "CTDNA_PLASMA"
                       and d.parent.container_type.code == "K2EDTA"]
        delays = sorted((d.processing_started_at - d.collected_at).total_seconds() / 3600
                        for d in edta_plasma)
        median = delays[len(delays) // 2]
        assert 0.9 <= median <= 2.2
        late = sum(x > 6 for x in delays) / len(delays)
        assert 0.0 < late < 0.15
