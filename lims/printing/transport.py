"""Getting bytes to a printer: raw TCP (port 9100, Zebra and most network label printers) or a CUPS queue.

CUPS is reached through its ``lp`` command (Debian package ``cups-client``) rather than the pycups binding:
``lp`` needs no compiler or libcups headers to install, talks to the local scheduler or a remote one
(``-h host:port``) over IPP, and its exit status and messages are all we need (the CUPS job id on success,
the scheduler's reason on failure). Sheet PDFs are printed at 100 % (``print-scaling=none``): scaling would
make printer dots of the bars uneven again.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass

DEFAULT_TCP_PORT = 9100
CONNECT_TIMEOUT = 3.0
SEND_TIMEOUT = 15.0


class PrintError(RuntimeError):
    """The printer or the print server did not take the job; the message says why."""


@dataclass(frozen=True)
class Destination:
    """Where a job goes, detached from the database (sending happens outside any transaction)."""

    connection: str
    host: str | None
    port: int | None
    queue: str | None
    language: str
    media: str | None = None  # CUPS media name for PDF pages, e.g. 'A4' or 'Custom.50.8x25.4mm'


def send(destination: Destination, content: bytes, *, title: str) -> str | None:
    """Send ``content``; return the print server's job id (None for raw TCP) or raise PrintError."""
    if destination.connection == "tcp":
        send_tcp(destination.host or "", destination.port or DEFAULT_TCP_PORT, content)
        return None
    return send_cups(destination, content, title=title)


def send_tcp(host: str, port: int, content: bytes) -> None:
    """Write ``content`` to a raw TCP printer port and close the connection."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as conn:
            conn.settimeout(SEND_TIMEOUT)
            conn.sendall(content)
            conn.shutdown(socket.SHUT_WR)
    except TimeoutError:
        raise PrintError(f"printer {host}:{port} did not answer within {CONNECT_TIMEOUT:g} s") from None
    except OSError as exc:
        raise PrintError(f"printer {host}:{port}: {exc.strerror or exc}") from None


def cups_arguments(destination: Destination, *, title: str) -> list[str]:
    """Return the ``lp`` command line for ``destination`` (the job itself comes on standard input)."""
    args = ["lp"]
    if destination.host:
        args += ["-h", f"{destination.host}:{destination.port}" if destination.port else destination.host]
    args += ["-d", destination.queue or "", "-t", title]
    if destination.language == "zpl":
        args += ["-o", "raw"]
    else:
        args += ["-o", "print-scaling=none"]
        if destination.media:
            args += ["-o", f"media={destination.media}"]
    return [*args, "-"]


def send_cups(destination: Destination, content: bytes, *, title: str) -> str:
    """Submit ``content`` to a CUPS queue with ``lp``; return the CUPS job id."""
    if shutil.which("lp") is None:
        raise PrintError("the lp command is missing: install CUPS's client (Debian package cups-client)")
    try:
        done = subprocess.run(cups_arguments(destination, title=title), input=content, capture_output=True,
                              timeout=SEND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise PrintError(f"CUPS did not take the job within {SEND_TIMEOUT:g} s") from None
    message = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise PrintError(f"CUPS refused the job: {message or f'lp exited with status {done.returncode}'}")
    found = re.search(r"request id is (\S+)", done.stdout.decode("utf-8", "replace"))
    return found.group(1) if found else ""
