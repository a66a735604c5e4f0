"""Browser tests: a live Trialbank on 127.0.0.1 with the demo trial, driven by Debian's Chromium.

Screenshots are kept under ``test-artifacts/`` (CI keeps them as artefacts).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lims import create_app
from tests.conftest import PG_URL
from tests.demo_db import DemoDatabase
from tests.e2e import topology

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("LIMS_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


# The journeys log in as demo users of every role; tests/e2e/test_identity.py covers the second factor itself.
JOURNEY_SETTINGS = {"MFA_ROLES": "", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e drives a browser: ``-m "not browser"`` leaves them all out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    url: str
    app: object
    password: str
    topology: str = "inprocess"
    facts: dict[str, object] = field(default_factory=dict)


@pytest.fixture(scope="session")
def live_server(demo_database: DemoDatabase,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Serve a copy of the run's demo database (a small demo trial) on a free loopback port.

    In-process by default; ``LIMS_E2E_TOPOLOGY=embedded`` or ``production`` runs the same journeys against
    real web servers and job workers (see tests/e2e/topology.py).
    """
    kind = topology.chosen()
    if kind == "production" and not PG_URL:
        pytest.fail("the production topology needs PostgreSQL: set LIMS_TEST_DATABASE_URL (CI does)")
    tmp = tmp_path_factory.mktemp("live")
    with demo_database.copy(tmp) as (url, instance):
        password = demo_database.password
        if kind == "inprocess":
            app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                              "SECRET_KEY": "e2e-secret-key",
                              "QUEUE_URL": "immediate", **JOURNEY_SETTINGS})
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield LiveServer(url=f"http://127.0.0.1:{server.server_port}", app=app, password=password)
            finally:
                server.shutdown()
                thread.join(timeout=10)
                app.extensions["lims_db"]["engine"].dispose()
            return
        with topology.serve(kind, tmp, url, instance) as (served, facts):
            app = create_app(facts["config"])  # the test's own view of the same database and queue
            try:
                yield LiveServer(url=served, app=app, password=password, topology=kind, facts=facts)
            finally:
                app.extensions["lims_db"]["engine"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium from Debian's package (skips with a reason when it is missing)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs Debian's chromium")
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
        ])
        yield b
        b.close()


@pytest.fixture()
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser page; its screenshot is saved under test-artifacts/ after the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def log_in(page: object, server: LiveServer, username: str) -> None:
    """Log in through the login form the way a person would."""
    page.goto(f"{server.url}/login")  # type: ignore[attr-defined]
    page.get_by_label("User name").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(server.password)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
