"""Fast start: building the app and ``lims --help`` leave the heavy libraries unimported (issue 17.4).

The statistics, figures and data-frame libraries are imported by the functions that compute, so a web worker
that serves a login page never pays for them; so are the libraries of one feature each (the REDCap client
and its HTTP stack, the manifest signatures' cryptography, the barcode tables and the images they bring, the
QR code of a second factor). ``lims --help`` lists the commands without building the app, and the OpenAPI
document is written when it is first read (scripts/bench_startup.py prints the time and memory this saves).
Each check runs in a fresh interpreter: this test process has long imported them all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Imported when a computation runs, never at start-up.
LAZY = ("matplotlib", "statsmodels", "sklearn", "lifelines", "scipy", "pandas", "numpy", "pyarrow")
# Imported by the one feature that uses each: REDCap pulls (PyCap, requests), manifest keys (cryptography),
# label bars (python-barcode, which brings PIL), the QR code of an authenticator enrolment (segno).
DEFERRED = ("redcap", "requests", "urllib3", "cryptography", "barcode", "PIL", "segno")

LOADED = """
import sys

def loaded(names):
    return sorted({m.split(".")[0] for m in sys.modules} & set(names))
"""
# A fresh interpreter builds the app; then two threads read the OpenAPI document it serves, at once.
APP_PROBE = LOADED + """
import json, threading
from lims import create_app
app = create_app()
report = {"loaded": loaded(LAZY), "deferred": loaded(DEFERRED), "cli": sorted(app.cli.commands),
          "routes": len(list(app.url_map.iter_rules())),
          "api_rules": sorted({r.rule for r in app.url_map.iter_rules() if r.endpoint.split(".")[0]
                               in app.extensions["flask-smorest"]["blp_name_to_api"]})}
specs = []

def read():
    specs.append(app.test_client().get("/api/v1/openapi.json").get_json())

readers = [threading.Thread(target=read) for _ in range(2)]
for reader in readers:
    reader.start()
for reader in readers:
    reader.join()
report["same"] = len(specs) == 2 and specs[0] == specs[1]
report["documented"] = sorted(specs[0]["paths"])
report["tags"] = [tag["name"] for tag in specs[0]["tags"]]
print(json.dumps(report))
"""
# Another one runs ``lims --help`` alone.
HELP_PROBE = LOADED + """
import contextlib, io, json
from lims.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(["--help"], prog_name="lims", standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps({"loaded": loaded(LAZY), "deferred": loaded(DEFERRED), "text": out.getvalue(),
                  "app_built": "lims.app" in sys.modules}))
"""


def _run(probe: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env["LIMS_INSTANCE_PATH"] = str(tmp_path_factory.mktemp("startup") / "instance")
    result = subprocess.run([sys.executable, "-c", f"LAZY = {LAZY!r}\nDEFERRED = {DEFERRED!r}\n{probe}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def app_probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(APP_PROBE, tmp_path_factory)


@pytest.fixture(scope="module")
def help_probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(HELP_PROBE, tmp_path_factory)


def test_create_app_leaves_the_analysis_stack_unimported(app_probe: dict[str, Any]) -> None:
    assert app_probe["routes"] > 100  # the whole app was built: every domain's pages and API
    loaded = app_probe["loaded"]
    assert loaded == [], f"create_app() imported {loaded}: import them in the functions that compute"


def test_create_app_leaves_the_feature_libraries_unimported(app_probe: dict[str, Any]) -> None:
    loaded = app_probe["deferred"]
    assert loaded == [], f"create_app() imported {loaded}: import them in the functions that use them"


def test_lims_help_leaves_the_analysis_stack_unimported(help_probe: dict[str, Any]) -> None:
    for command in ("db", "demo", "serve", "worker", "markers", "clinical", "openapi", "limiter"):
        assert f"  {command} " in help_probe["text"]
    loaded = help_probe["loaded"] + help_probe["deferred"]
    assert loaded == [], f"lims --help imported {loaded}: import them in the functions that use them"


def test_lims_help_lists_the_commands_without_building_the_app(help_probe: dict[str, Any],
                                                               app_probe: dict[str, Any]) -> None:
    assert not help_probe["app_built"]
    # The app's own commands (added to app.cli by extensions or blueprints) are listed only if the lims group
    # has them too (lims/cli.py): a command missing here would be left out of --help.
    for command in app_probe["cli"]:
        assert f"  {command} " in help_probe["text"], f"{command} (app.cli) is missing from lims --help"


def test_openapi_document_written_on_first_read_has_every_api_route(app_probe: dict[str, Any]) -> None:
    assert app_probe["same"]  # two first readers at once both get the whole document
    # Each API rule /api/v1/x/<int:id> is documented as /api/v1/x/{id}, under its blueprint's tag.
    rules = {re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule) for rule in app_probe["api_rules"]}
    assert rules and rules == set(app_probe["documented"])
    assert len(app_probe["tags"]) == len(set(app_probe["tags"])) >= 10
