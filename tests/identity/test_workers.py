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

WORKERS = 2
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
def gunicorn(tmp: Path, env: dict[str, str]) -> Iterator[tuple[str, Path]]:
    """Serve lims.wsgi:app with several workers; yield its URL and the access log (worker pid, status)."""
    port = free_port()
    log = tmp / "access.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}", "--access-logfile",
         str(log), "--access-logformat", "%(p)s %(s)s %(U)s", "--error-logfile", str(tmp / "error.log"),
         "--graceful-timeout", "3", *_no_control_socket(), "lims.wsgi:app"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", seconds=60)
        yield f"http://127.0.0.1:{port}", log
    finally:
        stop(process)


def _guess(url: str, username: str, rounds: int) -> list[int]:
    """Guess passwords two at a time (new connections), so that both workers take requests even when one of
    them would otherwise win every accept on a busy machine."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> int:
        with requests.Session() as browser:
            return browser.post(f"{url}/login", data={"username": username, "password": f"guess {i} !"},
                                timeout=30).status_code
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, range(rounds)))


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["database", "redis"])
def test_limits_hold_across_workers(storage: str, tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        upgrade(url)
        env = {"LIMS_DATABASE_URL": url, "LIMS_INSTANCE_PATH": str(tmp_path / "instance"),
               "LIMS_SECRET_KEY": "workers-test", "LIMS_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
               "LIMS_WTF_CSRF_ENABLED": "false",
               "LIMS_RATELIMIT_LOGIN_ACCOUNT": f"{LIMIT} per 15 minutes", "LIMS_RATELIMIT_ACCOUNT": "100 per hour",
               "LIMS_RATELIMIT_LOGIN_ADDRESS": "100 per minute"}
        with contextmanager_for(storage, tmp_path) as storage_uri:
            if storage_uri:
                env["LIMS_RATELIMIT_STORAGE_URI"] = storage_uri
            with gunicorn(tmp_path, env) as (base, log):
                for attempt in range(3):
                    statuses = _guess(base, f"victim{attempt}", 3 * LIMIT)
                    # Two at a time: a failure is counted after its check, so two guesses racing past the last
                    # free slot may both be tried (at most one more than the limit); every other one is refused.
                    refused = statuses.count(429)
                    assert set(statuses) == {401, 429} and 2 * LIMIT - 1 <= refused <= 2 * LIMIT, statuses
                    pids = {line.split()[0] for line in log.read_text().splitlines() if " /login" in line}
                    if len(pids) >= 2:
                        break
                assert len(pids) >= 2, f"every request went to one worker ({pids}); the test proved nothing"


@contextmanager
def contextmanager_for(storage: str, tmp: Path) -> Iterator[str | None]:
    if storage == "redis":
        with redis_server(tmp) as uri:
            yield uri
    else:
        yield None


