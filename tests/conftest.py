"""Shared fixtures: one migrated database per run, one rolled-back transaction per test.

The database is an SQLite file by default; set ``LIMS_TEST_DATABASE_URL`` to run the same suite
on PostgreSQL (``.ci/run`` does both).
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, request_started
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lims import create_app
from lims.config import DEFAULT_PROTOCOL
from lims.core.database import make_engine
from lims.core.migrate import upgrade
from lims.extensions import db
from tests.demo_db import (
    CHEAP_HASH,
    DEMO_PARTICIPANTS,
    DemoDatabase,
    demo_password,
    drop_database,
    drop_shared_demo,
    exclusive,
    record_shared_demo,
    shared_demo,
)

PASSWORD = "correct horse battery"
# Site-bound roles work at sites: the test technician at ZJ, the lab manager at every site (as in the demo).
SITES_OF = {"technician": ("ZJ",), "lab_manager": ("ZJ", "NB", "WZ", "SX")}
PG_URL = os.environ.get("LIMS_TEST_DATABASE_URL", "")


def pytest_report_header(config: pytest.Config) -> str:
    url = make_url(PG_URL).render_as_string(hide_password=True) if PG_URL else "SQLite (temporary file)"
    return f"Trialbank test database: {url}"


# Tests that open no database (analysis/ is pure; label geometry and symbols; the static checks of the
# code) would repeat themselves unchanged on PostgreSQL: the PostgreSQL pass leaves them to the SQLite one.
# The guard below keeps the list honest: a test here that asks for a database fixture stops the collection.
NO_DATABASE = ("tests/analysis/", "tests/labels/", "tests/test_typing.py", "tests/test_architecture.py",
               "tests/test_dependencies.py")
DATABASE_FIXTURES = frozenset({"database_url", "app", "engine", "connection", "app_ctx", "session", "client",
                               "runner", "login", "demo_database"})


def _opens_no_database(item: pytest.Item, root: Path) -> bool:
    where = Path(str(item.path)).relative_to(root).as_posix()
    if not where.startswith(NO_DATABASE):
        return False
    asked = DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if asked:
        raise pytest.UsageError(f"{item.nodeid} is listed in NO_DATABASE (tests/conftest.py) but uses "
                                f"{', '.join(sorted(asked))}")
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    no_database = [item for item in items if _opens_no_database(item, root)]
    if is_postgres() and no_database:
        config.hook.pytest_deselected(items=no_database)
        left = set(no_database)
        items[:] = [item for item in items if item not in left]


def is_postgres() -> bool:
    """Tell whether this run uses PostgreSQL."""
    return PG_URL.startswith("postgresql")


requires_postgres = pytest.mark.skipif(
    not is_postgres(), reason="needs PostgreSQL: set LIMS_TEST_DATABASE_URL (CI does)"
)


@contextmanager
def fresh_database(base_url: str, tmp: Path, *, keep: bool = False) -> Iterator[str]:
    """Yield the URL of a new, empty database of the same kind as ``base_url`` (dropped after, unless
    ``keep``)."""
    if base_url.startswith("postgresql"):
        name = f"lims_t_{uuid.uuid4().hex[:10]}"
        admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        yield f"sqlite:///{tmp / f'{uuid.uuid4().hex[:8]}.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Create the run's database, migrate it to head, and install the default protocol."""
    tmp = tmp_path_factory.mktemp("db")
    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app on the run's database, with the protocol and one user per role committed."""
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "SECRET_KEY": "test-secret-key-not-for-production",
        # Fast hashes, no second factor and no rate limits for the shared test users; tests/accounts and
        # tests/identity switch them on where they test them.
        "PASSWORD_HASH_METHOD": CHEAP_HASH,
        "MFA_ROLES": "",
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_ENABLED": False,
        "QUEUE_URL": "immediate",  # jobs run right after the request commits; tests/jobs starts real workers
    })
    with app.app_context():
        from lims.accounts.service import add_user
        from lims.studies.protocol import load_protocol
        from lims.studies.service import install_protocol

        install_protocol(db.session, load_protocol(DEFAULT_PROTOCOL))
        for role in ("admin", "lab_manager", "technician", "data_manager", "researcher", "pi", "monitor"):
            add_user(db.session, username=role, password=PASSWORD, role=role, full_name=role.title(),
                     site_codes=SITES_OF.get(role, ()))
        add_user(db.session, username="technician_nb", password=PASSWORD, role="technician",
                 full_name="NB Technician", site_codes=("NB",))
        db.session.commit()
    yield app
    app.extensions["lims_db"]["engine"].dispose()


def _load_demo(url: str, instance: Path) -> DemoDatabase:
    """Load the demo trial into the empty database at ``url`` through the CLI, as a user would."""
    from lims.cli import main

    loader = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(instance),
                         "SECRET_KEY": "demo-test-key", "QUEUE_URL": "immediate",
                         "PASSWORD_HASH_METHOD": CHEAP_HASH})
    runner = loader.test_cli_runner()
    reports = []
    for args in (["db", "upgrade"], ["demo", "--participants", str(DEMO_PARTICIPANTS)]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        reports.append(result.output)
    loader.extensions["lims_db"]["engine"].dispose()
    return DemoDatabase(url=url, instance=instance, password=demo_password(instance), report=reports[-1])


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[DemoDatabase]:
    """The demo trial, loaded once per run through the CLI; its users get copies (tests/demo_db.py).

    With pytest-xdist the workers share one: the first loads it, the controller drops it at the end.
    """
    if not hasattr(request.config, "workerinput"):  # one process (-n 0, -p no:xdist): load, use, drop
        tmp = tmp_path_factory.mktemp("demo")
        with fresh_database(PG_URL or "sqlite://", tmp) as url:
            yield _load_demo(url, tmp / "instance")
        return
    root = tmp_path_factory.getbasetemp().parent
    with exclusive(root / "demo.lock"):
        demo = shared_demo(root)
        if demo is None:
            # a worker whose load failed left its folder (and on PostgreSQL dropped its database): start anew
            tmp = Path(tempfile.mkdtemp(prefix="shared-demo-", dir=root))
            with fresh_database(PG_URL or "sqlite://", tmp, keep=True) as url:
                try:
                    demo = _load_demo(url, tmp / "instance")
                except BaseException:
                    drop_database(url)
                    raise
            record_shared_demo(root, demo)
    yield demo


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller of an xdist run drops the demo database its workers shared."""
    controller = not hasattr(session.config, "workerinput")
    if is_postgres() and controller and session.config.pluginmanager.has_plugin("xdist"):
        drop_shared_demo(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def engine(app: Flask) -> Engine:
    with app.app_context():
        return db.engine


@pytest.fixture()
def connection(app: Flask, engine: Engine) -> Iterator[Any]:
    """Bind every session of the app to one connection whose transaction is rolled back."""
    conn = engine.connect()
    trans = conn.begin()
    db.bind_to(app, conn)
    try:
        yield conn
    finally:
        db.bind_to(app, None)
        if trans.is_active:
            trans.rollback()
        conn.close()


@contextmanager
def module_transaction(app: Flask, engine: Engine) -> Iterator[Any]:
    """Bind the app to one connection for a whole module; its transaction is rolled back at the end.

    Modules that build one larger world for many tests use it with :func:`rolled_back` around each request.
    """
    conn = engine.connect()
    trans = conn.begin()
    db.bind_to(app, conn)
    try:
        yield conn
    finally:
        db.bind_to(app, None)
        if trans.is_active:
            trans.rollback()
        conn.close()


@contextmanager
def rolled_back(conn: Any) -> Iterator[None]:
    """Run the block in a savepoint of ``conn`` that is rolled back afterwards (whatever the block
    committed)."""
    savepoint = conn.begin_nested()
    try:
        yield
    finally:
        if savepoint.is_active:
            savepoint.rollback()


@pytest.fixture()
def app_ctx(app: Flask, connection: Any) -> Iterator[Flask]:
    with app.app_context():
        yield app


@pytest.fixture()
def session(app_ctx: Flask) -> Session:
    """The app context's session inside the test's rolled-back transaction."""
    return db.session


def _fresh_request_user(sender: Flask, **_: Any) -> None:
    # Tests that hold an app context (the ``session`` fixture) share ``g`` with the requests they make;
    # forget the user Flask-Login cached there so every request authenticates on its own, as in production.
    g.pop("_login_user", None)
    g.pop("token_error", None)


@pytest.fixture()
def client(app: Flask, connection: Any) -> Iterator[FlaskClient]:
    request_started.connect(_fresh_request_user, app)
    try:
        yield app.test_client()
    finally:
        request_started.disconnect(_fresh_request_user, app)


@pytest.fixture()
def runner(app: Flask, connection: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture()
def study(session: Session) -> Any:
    from lims.studies.service import get_study

    return get_study(session, "ESCC-WW")


@pytest.fixture()
def login(client: FlaskClient) -> Callable[[str], FlaskClient]:
    """Log the test client in as the user named after ``role`` (see the ``app`` fixture)."""

    def _login(username: str = "admin") -> FlaskClient:
        client.post("/logout")
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return _login


@pytest.fixture()
def make_participant(session: Session, study: Any) -> Callable[..., Any]:
    """Return a factory that enrols a participant (with consent and planned visits)."""
    from lims.participants.service import enrol, plan_visits, record_consent
    from lims.studies.models import Site

    counter = {"n": 900}

    def _make(site: str = "ZJ", code: str | None = None, enrolled_on: date = date(2025, 1, 6),
              stratum: str | None = None, **anchors: Any) -> Any:
        counter["n"] += 1
        site_obj = session.scalar(select(Site).where(Site.code == site))
        p = enrol(session, study, site=site_obj, code=code or f"{site}-{counter['n']}",
                  enrolled_on=enrolled_on,
                  sex="M", age=61, ecog=0)
        record_consent(session, p, version="2.1", signed_on=enrolled_on,
                       scopes={"MARKER_RESEARCH": True, "GENETIC_RESEARCH": True})
        p.stratum = stratum
        for key, value in anchors.items():
            setattr(p, key, value)
        session.flush()
        plan_visits(session, p)
        return p

    return _make


@pytest.fixture()
def user(session: Session) -> Callable[[str], Any]:
    from lims.accounts.models import User

    def _user(username: str = "technician") -> Any:
        return session.scalar(select(User).where(User.username == username))

    return _user
