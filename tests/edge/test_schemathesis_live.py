"""schemathesis over the whole API, as a client would run it: its CLI against gunicorn on 127.0.0.1.

Every check (``--checks all``), with an admin token and a site-bound technician token at the same time, each
run with several workers, seeded and bounded (``--max-examples``): no server error, no schema violation.
The in-process fuzz test (tests/test_api_fuzz.py) stays the fast one.
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.edge.live import live_server

CLI = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = 15
WORKERS = 2


def _run(url: str, token: str, seed: int, report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--no-color", "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json",
         "--checks", "all", "--workers", str(WORKERS), "--max-examples", str(MAX_EXAMPLES), "--seed",
         str(seed),
         "--header", f"Authorization: Bearer {token}", "--request-timeout", "60",
         "--report", "junit", "--report-junit-path", str(report)],
        # its cache stays in tmp
        check=False, capture_output=True, text=True, timeout=1500, cwd=report.parent)


def _tracebacks(log: str) -> str:
    """The server's tracebacks (what a 500 was), or the log's tail when it has none."""
    start = log.find("Traceback")
    return log[start:start + 8000] if start >= 0 else log[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(not CLI.exists(),
                    reason="the schemathesis CLI is not installed (pip install schemathesis)")
def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path) -> None:
    with live_server(tmp_path, workers=2, usernames=("admin", "tech.zj")) as server:
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = {name: pool.submit(_run, server.url, server.tokens[name], seed, tmp_path / f"{name}.xml")
                    for name, seed in (("admin", 1), ("tech.zj", 2))}
            results = {name: future.result() for name, future in runs.items()}
        log = server.log.read_text(errors="replace")
    for name, result in results.items():
        failures = result.stdout[result.stdout.find(
            "FAILURES"):] if "FAILURES" in result.stdout else result.stdout
        assert result.returncode == 0, ("schemathesis as "
                                        f"{name}:\n{failures[-20000:]}\n{result.stderr[-3000:]}"
                                        f"\nserver log:\n{_tracebacks(log)}")
        assert "54 selected" in result.stdout or "selected / " in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in log, log[-5000:]
