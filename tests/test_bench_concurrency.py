"""The concurrency benchmark at CI size: gunicorn with 4 workers, 20 scanners for 10 s, a 50-way race.

Half the scanners use a cookie session, half an API token. No answer may be a server error, every store
answered 201 must be in the database with its custody event, and exactly one client wins the position race.
The full size (60 s) is run by hand: ``scripts/bench_concurrency.py`` (see its docstring).
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
def test_concurrent_scanners_lose_nothing_and_one_client_wins_the_race(tmp_path: Path) -> None:
    with fresh_database(PG_URL or "sqlite://", tmp_path) as url:
        out = tmp_path / "bench.json"
        done = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "bench_concurrency.py"), "--database-url", url,
             "--clients", "20", "--seconds", "10", "--tubes", "10", "--race", "50", "--workers", "4",
             "--port", str(_free_port()), "--json", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        assert out.exists(), done.stdout[-3000:] + done.stderr[-3000:]
        figures = json.loads(out.read_text())
    assert figures["server_errors"] == 0, figures["problems"]
    assert figures["requests"] > 0 and figures["stores_201"] > 0, figures
    assert figures["problems"] == [], figures["problems"]  # every 201 store placed and in custody, in order
    race = figures["race"]
    assert race["winners"] == 1 and race["server_errors"] == 0 and race["answers"] == {"201": 1,
                                                                                       "409": 49}, race
    assert figures["ok"] and done.returncode == 0, done.stdout[-3000:]
