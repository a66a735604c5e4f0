"""Where the browser journeys run: in-process (fast, the default), or as real processes the way sites run
Trialbank (chosen with ``LIMS_E2E_TOPOLOGY``):

- ``embedded``: what ``./scripts/serve`` starts: one web server and one ``lims worker`` on the embedded
  SQLite database and Huey's SQLite queue.
- ``production``: two gunicorn web servers and two ``lims worker`` processes sharing one PostgreSQL database
  and a Redis queue (Debian's ``redis-server``, started here on 127.0.0.1), behind a round-robin proxy so that
  consecutive requests of one browser land on different web servers.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import pytest
import requests

TOPOLOGIES = ("inprocess", "embedded", "production")


def chosen() -> str:
    """Return the topology the journeys run on (``LIMS_E2E_TOPOLOGY``, default in-process)."""
    value = os.environ.get("LIMS_E2E_TOPOLOGY", "inprocess")
    if value not in TOPOLOGIES:
        raise pytest.UsageError(f"LIMS_E2E_TOPOLOGY={value!r}: use one of {', '.join(TOPOLOGIES)}")
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process for the life of the block; stop it gently, then firmly."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: the production topology needs it (apt-get install "
                    "redis-server)")
    port = free_port()
    with process([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                  "--dir", str(tmp)], dict(os.environ), tmp / "redis.log"):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"


class RoundRobinProxy:
    """Hand each new client connection to the next web server in turn (a test's stand-in for nginx)."""

    def __init__(self, backends: list[int]) -> None:
        self._next = itertools.cycle(backends)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.served: dict[int, int] = dict.fromkeys(backends, 0)
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            backend = next(self._next)
            self.served[backend] += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", backend))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._stop.set()
        self._server.close()


def _env(config: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **{f"LIMS_{k}": v for k, v in config.items()}}


@contextmanager
def serve(kind: str, tmp: Path, database_url: str, instance: Path) -> Iterator[tuple[str, dict[str, object]]]:
    """Start the topology ``kind`` on an already migrated database holding the demo; yield its URL and
    facts."""
    python = sys.executable
    from tests.e2e.conftest import JOURNEY_SETTINGS

    config = {"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "e2e-secret-key",
              **JOURNEY_SETTINGS}
    facts: dict[str, object] = {"kind": kind}
    with ExitStack() as stack:
        if kind == "embedded":
            config["QUEUE_URL"] = f"sqlite:///{instance / 'queue.db'}"
            port = free_port()
            env = _env(config)
            worker = stack.enter_context(process([python, "-m", "lims.cli", "worker"], env,
                                                 tmp / "worker.log"))
            facts["workers"] = [worker.pid]
            stack.enter_context(process([python, "-m", "lims.cli", "serve", "--port", str(port)], env,
                                        tmp / "web.log"))
            url = f"http://127.0.0.1:{port}"
            _wait_http(f"{url}/health")
        else:
            config["QUEUE_URL"] = stack.enter_context(redis_server(tmp))
            env = _env(config)
            ports = [free_port(), free_port()]
            for n, port in enumerate(ports):
                stack.enter_context(process(
                    [python, "-m", "gunicorn", "-w", "2", "--timeout", "120", "-b", f"127.0.0.1:{port}",
                     "lims.wsgi:app"], env, tmp / f"web{n}.log"))
            facts["workers"] = [
                stack.enter_context(process([python, "-m", "lims.cli", "worker"]
                                            + (["--no-periodic"] if n else []),
                                            env, tmp / f"worker{n}.log")).pid for n in range(2)]
            for port in ports:
                _wait_http(f"http://127.0.0.1:{port}/health")
            proxy = RoundRobinProxy(ports)
            stack.callback(proxy.close)
            facts["proxy"] = proxy
            url = f"http://127.0.0.1:{proxy.port}"
        facts["config"] = config
        yield url, facts
