#!/usr/bin/env python
"""Time the PI's result pages on the demo: the endpoints readout, the associations page and a marker report.

Builds the demo trial in a throwaway SQLite database (or uses ``--database-url`` holding one already), logs
the PI in with the Flask test client, saves one association screen, then requests each page ``--repeat`` times
after a first (cold) request and prints p50/p95 per page, their ratio to a trivial endpoint measured in the
same run (GET /api/v1/station/ping: same app, same authentication, no work) and PASS/FAIL against 0.5 s at
p95. A page's figures are separate image requests; ``--figures`` times them too (not part of the target).
"cold" is a page's first request in the process; "after write" its first request after the clinical and marker
data versions changed (as any clinical import does), when every derived value is computed again.

    .venv/bin/python scripts/bench_pages.py                          # builds the 120-participant demo
    .venv/bin/python scripts/bench_pages.py --database-url sqlite:////tmp/demo.db --instance /tmp/instance
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lims import create_app
from lims.cli import main as cli

TARGET = 0.5  # seconds at p95


def _build(url: str, instance: Path, participants: int) -> None:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance)})
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["demo", "--participants", str(participants)]):
        result = runner.invoke(cli, args)
        if result.exit_code != 0:
            raise SystemExit(result.output)
    app.extensions["lims_db"]["engine"].dispose()


def _password(instance: Path) -> str:
    text = (instance / "demo-credentials.txt").read_text()
    return next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("password:"))


def _timed(get: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    response = get()
    cold = time.perf_counter() - t0
    assert response.status_code == 200, response.status_code
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = get()
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    return cold, times


def _after_write(app: Any, client: Any, path: str) -> float:
    """Seconds of the first request after the clinical and marker data changed (every cached value
    replaced)."""
    from lims.core import versions
    from lims.extensions import db

    with app.app_context():
        versions.bump(db.session, "clinical", "markers")  # what any clinical or marker write does
        db.session.commit()
    t0 = time.perf_counter()
    assert client.get(path).status_code == 200
    return time.perf_counter() - t0


def _p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _pages(client: Any, figures: bool) -> dict[str, str]:
    posted = client.post("/results/associations", data={
        "outcome": "os", "timepoint": "BASELINE", "sample_type": "SERUM", "transform": "log2",
        "cut": "median"})
    assert posted.status_code == 302, posted.get_data(as_text=True)[:2000]
    run = posted.headers["Location"]
    page = client.get(run).get_data(as_text=True)
    marker = re.search(r'href="([^"]*/markers/[^"/]+)"', page)
    assert marker, "the run page links no marker report"
    pages = {"endpoints readout": "/results/endpoints", "associations": "/results/associations",
             "marker report": marker.group(1), "run page": run}
    if figures:
        pages.update({"fig: KM os": "/results/endpoints/os.png", "fig: flow": "/results/endpoints/flow.png",
                      "fig: marker km": marker.group(1) + "/km.png"})
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a database that holds the demo already")
    parser.add_argument("--instance", type=Path, help="its instance folder (demo-credentials.txt)")
    parser.add_argument("--participants", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--figures", action="store_true", help="time some figure requests too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        url, instance = args.database_url, args.instance
        if url is None:
            url, instance = f"sqlite:///{tmp}/demo.db", Path(tmp) / "instance"
            t0 = time.perf_counter()
            _build(url, instance, args.participants)
            print(f"demo of {args.participants} participants built in {time.perf_counter() - t0:.1f} s")
        assert instance is not None, "--instance is needed with --database-url"
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(instance), "WTF_CSRF_ENABLED": False,
                          "QUEUE_URL": "immediate", "RATELIMIT_ENABLED": False})
        client = app.test_client()
        login = client.post("/login", data={"username": "pi", "password": _password(instance)})
        assert login.status_code == 302, login.status_code
        pages = _pages(client, args.figures)
        _cold, base = _timed(lambda: client.get("/api/v1/station/ping"), args.repeat)
        base50, base95 = _p(base, 0.5), _p(base, 0.95)
        print(f"{'page':22} {'cold s':>7} {'p50 s':>7} {'p95 s':>7} {'p50/ping':>9} {'p95/ping':>9} "
              f"{'after write s':>13}")
        print(f"{'trivial (ping)':22} {_cold:7.3f} {base50:7.3f} {base95:7.3f} {1:9.1f} {1:9.1f}")
        failed = False
        for name, path in pages.items():
            cold, times = _timed(lambda p=path: client.get(p), args.repeat)
            p50, p95 = _p(times, 0.5), _p(times, 0.95)
            verdict = ""
            if not name.startswith("fig:"):
                verdict = "PASS" if p95 < TARGET else "FAIL"
                failed |= p95 >= TARGET
            written = _after_write(app, client, path)
            print(f"{name:22} {cold:7.3f} {p50:7.3f} {p95:7.3f} {p50 / base50:9.1f} {p95 / base95:9.1f} "
                  f"{written:13.3f}  {verdict}")
        print(f"target: p95 < {TARGET} s per page over {args.repeat} warm requests: "
              f"{'FAIL' if failed else 'PASS'} (mean ping {statistics.mean(base) * 1000:.1f} ms)")
        app.extensions["lims_db"]["engine"].dispose()


if __name__ == "__main__":
    main()
