"""mypy over lims/ and analysis/ at the level set in pyproject.toml ([tool.mypy]) finds no error.

This test is what runs mypy in CI (.ci/run runs the suite): any error in any module fails it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error: ", re.M)


@pytest.mark.slow
def test_mypy_finds_no_error() -> None:
    from mypy import api

    cache = ROOT / ".mypy_cache"
    cwd = os.getcwd()
    os.chdir(ROOT)  # [tool.mypy] files = lims, analysis, relative to the project root
    try:
        stdout, stderr, status = api.run(["--config-file", "pyproject.toml", "--cache-dir", str(cache)])
    finally:
        os.chdir(cwd)
    assert status in (0, 1), stderr or stdout  # 2 is a crash or a bad configuration, not type errors
    errors = [line for line in stdout.splitlines() if ERROR.match(line)]
    assert errors == [] and status == 0, "\n".join(errors) or stdout
