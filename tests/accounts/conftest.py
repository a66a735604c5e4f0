"""An app with the production defaults the shared test app switches off: rate limits and a second factor for
admins and lab managers. It runs on the run's database, inside each test's rolled-back transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask, g, request_started
from flask.testing import FlaskClient

from lims import create_app
from lims.accounts import limits
from lims.extensions import db
from tests.conftest import PASSWORD


def _forget_user(sender: Flask, **_: Any) -> None:
    g.pop("_login_user", None)
    g.pop("token_error", None)


@pytest.fixture(scope="session")
def strict_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app with rate limits (the real SQL storage, in a file of its own) and MFA for admin,
    lab_manager."""
    tmp = tmp_path_factory.mktemp("strict")
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "strict-test-key", "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_LOGIN_ACCOUNT": "3 per 15 minutes", "RATELIMIT_ACCOUNT": "10 per hour",
        "RATELIMIT_LOGIN_ADDRESS": "15 per minute", "RATELIMIT_SIGNATURE": "3 per 15 minutes",
        "RATELIMIT_SECOND_FACTOR": "3 per 5 minutes", "RATELIMIT_TOKEN": "4 per minute",
    })
    yield app
    app.extensions["lims_db"]["engine"].dispose()
    limits.close(app)


@pytest.fixture()
def strict(strict_app: Flask, connection: Any) -> Iterator[Flask]:
    """The strict app bound to the test's transaction, with fresh rate-limit counters."""
    db.bind_to(strict_app, connection)
    strict_app.extensions["lims_limiter"].reset()
    request_started.connect(_forget_user, strict_app)
    try:
        with strict_app.app_context():
            yield strict_app
    finally:
        request_started.disconnect(_forget_user, strict_app)
        db.bind_to(strict_app, None)


@pytest.fixture()
def browser_at(strict: Flask) -> Callable[[str], FlaskClient]:
    """Return a client of the strict app whose requests come from ``address``."""
    def _client(address: str = "10.0.0.1") -> FlaskClient:
        client = strict.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        return client
    return _client


def post_login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Submit the login form."""
    return client.post("/login", data={"username": username, "password": password})


def current_code(secret: str) -> str:
    """Return the authenticator app's code now."""
    return pyotp.TOTP(secret).now()


def previous_code(secret: str) -> str:
    """Return the code of the previous 30-second step (still accepted once: clock drift)."""
    totp = pyotp.TOTP(secret)
    import time

    return totp.at(time.time() - totp.interval)


ROOT = Path(__file__).resolve().parents[2]
