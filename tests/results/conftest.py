"""A demo trial (40 participants) with RX_* marker results in its own database, for the results pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient

from lims import create_app
from lims.cli import main
from lims.extensions import db
from lims.studies.service import get_study
from tests.conftest import PG_URL, fresh_database
from tests.demo_db import CHEAP_HASH
from tests.results.factories import seed_marker_results


@dataclass
class DemoTrial:
    app: Any
    password: str


@pytest.fixture(scope="session")
def demo_trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTrial]:
    """Migrate a fresh database, load a 40-participant demo and add marker results."""
    tmp = tmp_path_factory.mktemp("results")
    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp / "instance"),
                          "SECRET_KEY": "results-test-key", "WTF_CSRF_ENABLED": False,
                          "QUEUE_URL": "immediate", "PASSWORD_HASH_METHOD": CHEAP_HASH,
                          # every test logs in afresh from one address: on a fast machine the suite passes
                          # the login limit (30 a minute; tests/identity checks the limits themselves)
                          "RATELIMIT_LOGIN_ADDRESS": "1000 per minute"})
        runner = app.test_cli_runner()
        for args in (["db", "upgrade"], ["demo", "--participants", "40"]):
            result = runner.invoke(main, args)
            assert result.exit_code == 0, result.output
        with app.app_context():
            seed_marker_results(db.session, get_study(db.session))
            db.session.commit()
        password = next(line.split(":", 1)[1].strip()
                        for line in (tmp / "instance" / "demo-credentials.txt").read_text().splitlines()
                        if line.startswith("password:"))
        yield DemoTrial(app=app, password=password)
        app.extensions["lims_db"]["engine"].dispose()


@pytest.fixture()
def demo_client(demo_trial: DemoTrial) -> Any:
    """Return a function logging a fresh test client of the demo app in as a demo user."""

    def _login(username: str = "pi") -> FlaskClient:
        client = demo_trial.app.test_client()
        response = client.post("/login", data={"username": username, "password": demo_trial.password})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _login
