"""The rate limits hold across several gunicorn workers: the counters live in shared storage (the database by
default, or Redis), not in each worker's memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from lims.core.migrate import upgrade
from tests.conftest import PG_URL, fresh_database
from tests.identity.servers import free_port, missing, stop, wait_for

LIMIT = 4


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """Run a throwaway redis-server on a free loopback port."""
    binary = shutil.which("redis-server")
    if binary is None:
        missing("redis-server (apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                import time

                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(process)


def _no_control_socket() -> list[str]:
    """gunicorn 24+ opens a control socket in ~/.gunicorn; a test server needs none."""
    help_text = subprocess.run([sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True,
                               check=False).stdout
    return ["--no-control-socket"] if "--no-control-socket" in help_text else []


@contextmanager
def gunicorn(tmp: Path, env: dict[str, str], name: str) -> Iterator[tuple[str, Path]]:
    """Serve lims.wsgi:app with gunicorn; yield its URL and the access log (worker pid, status)."""
    port = free_port()
    log = tmp / f"access-{name}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}", "--access-logfile",
         str(log), "--access-logformat", "%(p)s %(s)s %(U)s", "--error-logfile",
         str(tmp / f"error-{name}.log"),
         "--graceful-timeout", "3", *_no_control_socket(), "lims.wsgi:app"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", seconds=60)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop(process)


def _guess(urls: list[str], username: str, rounds: int) -> list[int]:
    """Guess passwords, taking turns between the servers (separate processes, each with its own memory)."""
    statuses = []
    for i in range(rounds):
        with requests.Session() as browser:
            r = browser.post(f"{urls[i % len(urls)]}/login",
                             data={"username": username, "password": f"guess {i} !"},
                             timeout=30)
            statuses.append(r.status_code)
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["database", "redis"])
def test_limits_hold_across_workers(storage: str, tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url)
        env = {"LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(tmp_path / "instance"),
               "LIMS_SECRET_KEY": "workers-test", "LIMS_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
               "LIMS_WTF_CSRF_ENABLED": "false",
               "LIMS_RATELIMIT_LOGIN_ACCOUNT": f"{LIMIT} per 15 minutes",
               "LIMS_RATELIMIT_ACCOUNT": "100 per hour",
               "LIMS_RATELIMIT_LOGIN_ADDRESS": "100 per minute"}
        with contextmanager_for(storage, tmp_path) as storage_uri:
            if storage_uri:
                env["LIMS_RATELIMIT_STORAGE_URI"] = storage_uri
            # Two worker processes that share nothing but the storage: the guesses alternate between them.
            with gunicorn(tmp_path, env,
                          "a") as (first, log_a), gunicorn(tmp_path, env, "b") as (second, log_b):
                statuses = _guess([first, second], "victim", 3 * LIMIT)
                assert statuses == [401] * LIMIT + [429] * (2 * LIMIT), statuses
                pids = {line.split()[0] for log in (log_a, log_b) for line in log.read_text().splitlines()
                        if " /login" in line}
                assert len(pids) == 2, pids


@contextmanager
def contextmanager_for(storage: str, tmp: Path) -> Iterator[str | None]:
    if storage == "redis":
        with redis_server(tmp) as uri:
            yield uri
    else:
        yield None


