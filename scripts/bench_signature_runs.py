"""Time signature runs through the page on the demo trial: the POST answer, the background run, the re-run.

    .venv/bin/python scripts/bench_signature_runs.py [--participants 120] [--outcome pcr] [--timepoint EOT]

Loads the demo into a throwaway SQLite database, logs in as the PI and submits a quick and a full run (5 x
5-fold nested CV, 200 permutations) of a serum + plasma panel with age forced in. Prints how long the POST
took to answer (the run is computed in a background thread), how long each run took to finish, its AUC and
permutation p, and whether re-running the full run reproduced every number.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lims import create_app
from lims.cli import main as cli
from lims.extensions import db
from lims.signatures.models import SignatureRun


def _wait(run_id: int) -> None:
    worker = next((t for t in threading.enumerate() if t.name == f"signature-run-{run_id}"), None)
    if worker is not None:
        worker.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=120)
    parser.add_argument("--outcome", default="pcr")
    parser.add_argument("--timepoint", default="EOT")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "INSTANCE_PATH": f"{tmp}/instance",
                          "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
        runner = app.test_cli_runner()
        t0 = time.perf_counter()
        for command in (["db", "upgrade"], ["demo", "--participants", str(args.participants)]):
            result = runner.invoke(cli, command)
            assert result.exit_code == 0, result.output
        print(f"demo with {args.participants} participants loaded in {time.perf_counter() - t0:.1f} s")
        password = next(line.split(":", 1)[1].strip() for line in
                        (Path(tmp) / "instance" / "demo-credentials.txt").read_text().splitlines()
                        if line.startswith("password:"))
        client = app.test_client()
        assert client.post("/login", data={"username": "pi", "password": password}).status_code == 302
        form = {"outcome": args.outcome, "timepoint": args.timepoint,
                "sample_types": ["SERUM", "CTDNA_PLASMA"],
                "covariates": ["age"], "transform": "log2", "penalty": "l1", "outer_folds": "5",
                "inner_folds": "4", "thresholds": "0.1, 0.2, 0.3"}
        full_id = None
        for mode in ("quick", "full"):
            t0 = time.perf_counter()
            posted = client.post("/signatures/", data={**form, "mode": mode})
            answered = time.perf_counter() - t0
            assert posted.status_code == 302, posted.get_data(as_text=True)[:2000]
            run_id = int(posted.headers["Location"].rsplit("/", 1)[1])
            _wait(run_id)
            finished = time.perf_counter() - t0
            with app.app_context():
                run = db.session.get(SignatureRun, run_id)
                if run.status != "done":
                    print(f"{mode}: {run.status}: {run.error}")
                    continue
                res = run.result
                print(f"{mode:5}: POST answered in {answered:.2f} s; run done after {finished:.1f} s "
                      f"(n={res['n']}, {res['n_events']} events, {len(res['selection'])} markers, "
                      f"AUC {res['auc']:.3f} [{res['auc_ci'][0]:.3f}, {res['auc_ci'][1]:.3f}], "
                      f"permutation p {res['permutation_p']:.3f} over {res['provenance']['permutations']})")
            if mode == "full":
                full_id = run_id
        if full_id is not None:
            t0 = time.perf_counter()
            again = client.post(f"/signatures/runs/{full_id}/rerun")
            rerun_id = int(again.headers["Location"].rsplit("/", 1)[1])
            _wait(rerun_id)
            page = client.get(f"/signatures/runs/{rerun_id}").get_data(as_text=True)
            same = re.search(r"Identical to run #\d+", page) is not None
            print(f"re-run of the full run: {time.perf_counter() - t0:.1f} s, identical numbers: {same}")
        app.extensions["lims_db"]["engine"].dispose()


if __name__ == "__main__":
    main()
