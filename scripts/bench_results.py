"""Time the results pages on a loaded demo database: run a screen per outcome, open the run, draw its volcano.

Usage: LIMS_DATABASE_URL=sqlite:////path/demo.db LIMS_INSTANCE_PATH=/path/instance \
       .venv/bin/python scripts/bench_results.py
Prints, per outcome, the seconds from submitting the form to having the run page and its volcano PNG (a cold
first request derives the endpoints; later ones reuse them while the clinical data are unchanged).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lims import create_app


def main() -> None:
    instance = Path(os.environ.get("LIMS_INSTANCE_PATH", "instance"))
    password = next(line.split(":", 1)[1].strip() for line in (instance / "demo-credentials.txt").read_text()
                    .splitlines() if line.startswith("password:"))
    app = create_app({"WTF_CSRF_ENABLED": False})
    client = app.test_client()
    assert client.post("/login", data={"username": "researcher", "password": password}).status_code == 302
    t0 = time.perf_counter()
    assert client.get("/results/endpoints").status_code == 200
    print(f"trial endpoints page: {time.perf_counter() - t0:.2f} s")
    for outcome in ("ccr", "pcr", "mpr", "dfs_a", "dfs_b", "os", "efs"):
        for sample_type in ("SERUM", "CTDNA_PLASMA", "STOOL"):
            t0 = time.perf_counter()
            posted = client.post("/results/associations", data={
                "outcome": outcome, "timepoint": "BASELINE", "sample_type": sample_type, "transform": "log2",
                "cut": "median"})
            if posted.status_code != 302:
                print(f"{outcome:6} {sample_type:13} refused: {posted.status_code}")
                continue
            page = client.get(posted.headers["Location"])
            volcano = client.get(posted.headers["Location"] + "/volcano.png")
            elapsed = time.perf_counter() - t0
            markers = page.get_data(as_text=True).count("/markers/")
            assert page.status_code == 200 and volcano.status_code == 200
            print(f"{outcome:6} {sample_type:13} {markers:3d} markers: {elapsed:.2f} s (form -> run page + "
                  "volcano)")


if __name__ == "__main__":
    main()
