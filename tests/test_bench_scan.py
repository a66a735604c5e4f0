"""The scan-at-scale benchmark at a tiny size: scanners mixing look-ups and stores lose nothing.

A few thousand samples, four scanners for a few seconds on two gunicorn workers (on PostgreSQL when
``LIMS_TEST_DATABASE_URL`` is set: the COPY fill). Every answer is the expected one and every store answered
201 is the tube's placement with its own verified custody event. Latencies are printed by the script, never
asserted here; the full size (10M samples, 20 scanners, 60 s) is run by hand: ``scripts/bench_scan.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL, fresh_database

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_scanners_mixing_lookups_and_stores_lose_nothing(tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        out = tmp_path / "bench.json"
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "bench_scan.py"), "--database-url", url, "--samples",
             "3000",
             "--clients", "4", "--tubes", "10", "--seconds", "4", "--warmup", "0", "--workers", "2",
             "--port", str(_free_port()), "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
        assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
        figures = json.loads(out.read_text())
    assert figures["errors"] == 0 and figures["problems"] == [], figures["problems"]
    assert figures["lookup"]["n"] > 0 and figures["ping"]["n"] > 0 and figures["stores_201"] > 0, figures
    assert figures["ok"] and done.returncode == 0, done.stdout[-3000:]
