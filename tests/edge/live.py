"""A real Trialbank server for tests that talk HTTP: a fresh database with a small demo trial, API tokens, and
gunicorn with several workers on 127.0.0.1 (stopped, and the database dropped, when the block ends)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from lims import create_app
from lims.config import DEFAULT_PROTOCOL
from lims.core.migrate import upgrade
from lims.extensions import db
from tests.conftest import PG_URL, fresh_database

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveServer:
    """Where the server listens and the API tokens of its users (username -> secret)."""

    url: str
    tokens: dict[str, str]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(url: str, instance: Path, participants: int, usernames: tuple[str, ...]) -> dict[str, str]:
    """Load a small demo trial and return an API token for each user."""
    from lims import demo
    from lims.accounts.models import User
    from lims.accounts.service import create_token

    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "live-test"})
    with app.app_context():
        demo.load(db.session, participants=participants, instance_path=str(instance),
                  protocol_path=DEFAULT_PROTOCOL)
        tokens = {}
        for username in usernames:
            user = db.session.scalar(select(User).where(User.username == username))
            tokens[username] = create_token(db.session, user, name="live test", days=1)[1]
        db.session.commit()
        app.extensions["lims_db"]["engine"].dispose()
    return tokens


def _wait(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text()[-2000:]}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /health within 30 s")


@contextmanager
def live_server(tmp: Path, *, workers: int = 2, participants: int = 6,
                usernames: tuple[str, ...] = ("admin",)) -> Iterator[LiveServer]:
    """Run gunicorn on a fresh database (SQLite, or PostgreSQL when the suite runs on it)."""
    instance = tmp / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    with fresh_database(PG_URL or "sqlite://", tmp) as url:
        upgrade(url)
        tokens = _seed(url, instance, participants, usernames)
        port = _free_port()
        log = tmp / "gunicorn.log"
        env = {**os.environ, "LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(instance),
               "LIMS_SECRET_KEY": "live-test",
               # the fuzzer sends thousands of requests from one address, many with a wrong token on purpose:
               # the rate limits (tested in tests/accounts/test_limits.py) would answer 429 to the rest
               "LIMS_RATELIMIT_TOKEN": "100000 per minute",
               "LIMS_RATELIMIT_LOGIN_ADDRESS": "100000 per minute"}
        with log.open("wb") as out:
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout",
                 "120",
                 "--log-level", "warning", "lims.wsgi:app"], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT)
        try:
            _wait(port, server, log)
            yield LiveServer(f"http://127.0.0.1:{port}", tokens, log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
