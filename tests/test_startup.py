"""Fast start: building the app and ``lims --help`` leave the analysis stack unimported (issue 17.4).

The statistics, figures and data-frame libraries are imported by the functions that compute, so a web worker
that serves a login page never pays for them (scripts/bench_startup.py prints the time and memory this saves).
Each check runs in a fresh interpreter: this test process has long imported them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Imported when a computation runs, never at start-up.
LAZY = ("matplotlib", "statsmodels", "sklearn", "lifelines", "scipy", "pandas", "numpy", "pyarrow")

# One fresh interpreter builds the app, then runs ``lims --help`` (which builds it again, adding commands).
PROBE = """
import contextlib, io, json, sys

def loaded():
    return sorted({m.split(".")[0] for m in sys.modules} & set(LAZY))

from lims import create_app
app = create_app()
report = {"app": {"loaded": loaded(), "routes": len(list(app.url_map.iter_rules()))}}
from lims.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"], prog_name="lims", standalone_mode=False)
    except SystemExit:
        pass
report["help"] = {"loaded": loaded(), "text": out.getvalue()}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("startup") / "instance")
    result = subprocess.run([sys.executable, "-c", f"LAZY = {LAZY!r}\n{PROBE}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_create_app_leaves_the_analysis_stack_unimported(probe: dict) -> None:
    assert probe["app"]["routes"] > 100  # the whole app was built: every domain's pages and API
    loaded = probe["app"]["loaded"]
    assert loaded == [], f"create_app() imported {loaded}: import them in the functions that compute"


def test_lims_help_leaves_the_analysis_stack_unimported(probe: dict) -> None:
    for command in ("db", "demo", "serve", "worker", "markers", "clinical"):
        assert f"  {command} " in probe["help"]["text"]
    loaded = probe["help"]["loaded"]
    assert loaded == [], f"lims --help imported {loaded}: import them in the functions that compute"
