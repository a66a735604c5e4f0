"""Imports point one way: analysis never imports lims, Flask or SQLAlchemy; domains follow STYLE.md."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from lims.domains import DOMAINS, POLICIES

ORDER = list(DOMAINS)
EDGE = ("views.py", "api.py", "cli.py", "blueprints.py", "schemas.py")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_analysis_is_pure() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.split(".")[0] in {"lims", "flask", "sqlalchemy", "flask_smorest"})
        for p in (ROOT / "analysis").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_domains_import_only_earlier_domains() -> None:
    """Domains import earlier domains only; the policy packages (access, consent) may be asked by anyone."""
    problems = []
    for path in (ROOT / "lims").rglob("*.py"):
        parts = path.relative_to(ROOT / "lims").parts
        if len(parts) < 2 or parts[0] not in ORDER:
            continue
        rank = ORDER.index(parts[0])
        for name in _imports(path):
            bits = name.split(".")
            if bits[0] != "lims" or len(bits) < 2 or bits[1] not in ORDER or bits[1] in POLICIES:
                continue
            if ORDER.index(bits[1]) > rank:
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


def test_policies_read_only_models() -> None:
    """The policy packages sit below every service that asks them, so they may read only models and core."""
    problems = []
    for policy in POLICIES:
        for path in (ROOT / "lims" / policy).rglob("*.py"):
            if path.name in EDGE:
                continue
            for name in _imports(path):
                bits = name.split(".")
                if bits[0] != "lims" or len(bits) < 2 or bits[1] in ("core", policy) or name == "lims":
                    continue
                if bits[-1] != "models" and name != "lims.custody.service":
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


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
