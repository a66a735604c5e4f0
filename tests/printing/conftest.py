"""A Zebra stand-in (a TCP listener on 127.0.0.1 that keeps what it receives), a real CUPS scheduler of our
own on 127.0.0.1 whose queues write jobs to files, and a bench with samples and a box to label."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lims.printing.models import Printer
from lims.printing.printers import create_printer
from tests.station.conftest import Bench, make_bench


class Listener:
    """Accepts connections on a free port of 127.0.0.1 and keeps the bytes of each one."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
            with self._done:
                self.received.append(b"".join(chunks))
                self._done.notify_all()

    def wait(self, count: int = 1, timeout: float = 10) -> list[bytes]:
        """Return the first ``count`` jobs received, waiting for them up to ``timeout`` seconds."""
        with self._done:
            assert self._done.wait_for(lambda: len(self.received) >= count, timeout), self.received
            return self.received[:count]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self.sock.close()
        self._thread.join(5)


@pytest.fixture()
def zebra() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CAPTURE = """#!/bin/sh
# Trialbank test backend: append the job to the file named by the device URI (capture:/path).
if [ $# -eq 0 ]; then echo 'direct capture "Unknown" "Write jobs to a file"'; exit 0; fi
out="${DEVICE_URI#capture:}"
if [ -n "$6" ]; then cat "$6" >> "$out.part"; else cat >> "$out.part"; fi
mv "$out.part" "$out"
"""


class Cups:
    """A cupsd of our own on 127.0.0.1 with a temporary configuration; queues write jobs to files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.server = f"127.0.0.1:{self.port}"
        for name in ("conf", "spool", "cache", "state", "log", "out", "bin/backend"):
            (root / name).mkdir(parents=True, exist_ok=True)
        os.chmod(root / "out", 0o777)  # noqa: S103 - a throwaway spool the test scheduler writes as lp
        for name in ("cgi-bin", "daemon", "driver", "filter", "monitor", "notifier"):
            if Path(f"/usr/lib/cups/{name}").exists():
                (root / "bin" / name).symlink_to(f"/usr/lib/cups/{name}")
        backend = root / "bin" / "backend" / "capture"
        backend.write_text(CAPTURE)
        backend.chmod(0o700)  # owned by whoever runs cupsd, writable by nobody else (cupsd checks)
        (root / "conf" / "cupsd.conf").write_text(
            f"Listen 127.0.0.1:{self.port}\nLogLevel info\nWebInterface No\nBrowsing No\nDefaultAuthType "
            "None\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n"
            "<Policy default>\n  <Limit All>\n    Order allow,deny\n    Allow all\n  </Limit>\n</Policy>\n")
        (root / "conf" / "cups-files.conf").write_text(
            f"ServerRoot {root}/conf\nServerBin {root}/bin\nRequestRoot {root}/spool\nCacheDir {root}/cache\n"
            f"StateDir {root}/state\nTempDir {root}/spool\nAccessLog {root}/log/access_log\n"
            f"ErrorLog {root}/log/error_log\nPageLog {root}/log/page_log\nPrintcap {root}/printcap\n"
            "Sandboxing Relaxed\n")
        self.process = subprocess.Popen(
            ["cupsd", "-f", "-c", str(root / "conf" / "cupsd.conf"), "-s",
             str(root / "conf" / "cups-files.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while subprocess.run(["lpstat", "-h", self.server, "-r"], capture_output=True, text=True,
                             check=False).stdout.strip() != "scheduler is running":
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cupsd did not start: {self.log()}")
            time.sleep(0.1)

    def add_queue(self, name: str) -> Path:
        """Add a raw queue whose jobs land in a file; return the file's path."""
        out = self.root / "out" / f"{name}.out"
        subprocess.run(["lpadmin", "-h", self.server, "-p", name, "-E", "-v", f"capture:{out}", "-m", "raw"],
                       capture_output=True, check=True)
        return out

    def log(self) -> str:
        path = self.root / "log" / "error_log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="session")
def cups() -> Iterator[Cups]:
    if shutil.which("cupsd") is None or shutil.which("lp") is None:
        pytest.skip("needs CUPS (Debian packages cups and cups-client; CI installs them)")
    root = Path(tempfile.mkdtemp(prefix="trialbank-cups-"))
    server = Cups(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def wait_for_file(path: Path, timeout: float = 15) -> bytes:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"no job arrived in {path}"
        time.sleep(0.05)
    return path.read_bytes()


@pytest.fixture()
def bench(session, study, make_participant, user) -> Bench:
    return make_bench(session, study, make_participant, user)


@pytest.fixture()
def make_printer(session, user):
    """Return a factory adding a printer at ZJ (as the lab manager)."""
    from sqlalchemy import select

    from lims.studies.models import Site

    def _make(name: str = "Bench Zebra", **values) -> Printer:
        site = session.scalar(select(Site).where(Site.code == values.pop("site", "ZJ")))
        settings = {"connection": "tcp", "language": "zpl", "host": "127.0.0.1", "stock": "50x25", "dpi": 300,
                    **values}
        return create_printer(session, site=site, by=user("lab_manager"), name=name, **settings)

    return _make
