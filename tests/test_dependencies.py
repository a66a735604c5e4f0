"""Dependencies as used: every third-party package lims/ and analysis/ import is declared in pyproject.toml,
and every declared package is imported (or named below with what uses it)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Declared but never imported by name: what needs them.
USED_WITHOUT_IMPORT = {
    "psycopg": "SQLAlchemy's PostgreSQL driver (postgresql+psycopg:// URLs)",
    "gunicorn": "the production WSGI server (a command, README)",
    "redis": "Huey's and Flask-Limiter's Redis storage (redis:// URLs)",
    "requests": "Authlib's HTTP client for the OpenID provider",
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [*project["dependencies"], *project["optional-dependencies"]["ldap"]]
    return {_name(r) for r in runtime}


def _imported() -> dict[str, str]:
    """Top-level third-party modules imported anywhere in lims/ and analysis/, with one file importing
    each."""
    found: dict[str, str] = {}
    for folder in ("lims", "analysis"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ("lims", "analysis", "__future__"):
                        found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    undeclared = {
        module: where for module, where in _imported().items()
        if not any(_name(d) in declared for d in distributions.get(module, [module]))
    }
    assert undeclared == {}, "imported but not in [project] dependencies"


def test_every_declared_package_is_used() -> None:
    distributions = importlib.metadata.packages_distributions()
    imported = {_name(d) for module in _imported() for d in distributions.get(module, [module])}
    unused = _declared() - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set(), ("declared but imported nowhere: drop it, or say in USED_WITHOUT_IMPORT what "
                             "uses it")
