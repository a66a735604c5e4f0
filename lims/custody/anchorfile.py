"""The anchor file: one line per checkpoint, appended outside the database, read from its tail."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lims.custody import chain

_LINE = re.compile(r"^trialbank-custody-anchor v1 at=(\S+) checkpoint=(\d+) epoch=(\d+) heads=(\d+) "
                   r"mac=([0-9a-f]{64})$")


@dataclass(frozen=True)
class Anchor:
    """What an anchor line records: a checkpoint's number, time, key epoch, head count and MAC."""

    checkpoint: int
    at: datetime
    epoch: int
    heads: int
    mac: str

    @property
    def line(self) -> str:
        """Return the line written to the anchor file (and printed for a paper or e-mail record)."""
        return (f"trialbank-custody-anchor v1 at={chain.format_at(self.at)} checkpoint={self.checkpoint} "
                f"epoch={self.epoch} heads={self.heads} mac={self.mac}")

    @classmethod
    def parse(cls, line: str) -> Anchor:
        """Read an anchor line; ValueError when it is not one."""
        match = _LINE.match(line.strip())
        if match is None:
            raise ValueError("not an anchor line")
        at = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return cls(int(match.group(2)), at, int(match.group(3)), int(match.group(4)), match.group(5))


def append_line(path: Path, line: str) -> None:
    """Append one line to the anchor file and make it durable."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def newest_lines(path: Path, count: int, block: int = 65536) -> list[str]:
    """Return the last ``count`` non-empty lines of the file, oldest first, reading only its tail."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = pos = fh.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= count:
            pos = max(0, pos - block)
            fh.seek(pos)
            data = fh.read(end - pos)
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    if pos > 0:
        lines = lines[1:]  # the first one may be cut
    return lines[-count:]
