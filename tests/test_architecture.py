"""Imports point one way: the import-linter contracts of pyproject.toml run here, and the rules they cannot
say."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

from lims.domains import DOMAINS, POLICIES

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _contract(name_start: str) -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"].startswith(name_start))


def test_import_contracts_are_kept(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every contract of [tool.importlinter] holds: analysis is pure, the domain order, policies read models,
    the layers inside each domain (direct, indirect and in-function imports alike)."""
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out


def test_domain_order_contract_is_lims_domains() -> None:
    """The domain order has one source, lims/domains.py: the contract lists the same domains, highest
    first."""
    contract = _contract("domains import only earlier domains")
    assert contract["layers"] == [d for d in reversed(DOMAINS) if d not in POLICIES]


def test_every_domain_has_its_layers_checked() -> None:
    """The contract of the layers inside a domain covers every domain package but core (core is the
    bottom)."""
    contract = _contract("inside a domain")
    assert sorted(contract["containers"]) == sorted(f"lims.{d}" for d in DOMAINS if d != "core")


def test_models_import_no_services() -> None:
    """A model module imports core and other models only."""
    problems = []
    for path in (ROOT / "lims").glob("*/models.py"):
        for name in _imports(path):
            bits = name.split(".")
            if bits[0] == "lims" and len(bits) > 1 and bits[1] != "core" and bits[-1] != "models":
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


def test_templates_ask_the_permission_table_not_role_names() -> None:
    """Menus and forms ask may(action, obj): a role name in a template would copy the permission table."""
    import re

    # A role compared with a role name, or looked up in a list of them (showing a user's role is fine).
    role_check = re.compile(r"\brole\s*(==|!=)\s*['\"]|\brole\s+(not\s+)?in\s*[(\[]")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "templates").rglob("*.html")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if role_check.search(line)]
    assert offenders == []
