"""The domain packages in import order, and discovery of what each one contributes.

Each domain may provide ``lims/<domain>/models.py`` (tables), ``lims/<domain>/blueprints.py`` with
``register(app, api)`` (pages, JSON API, navigation), and ``lims/<domain>/demo.py`` with
``generate(ctx)`` (its part of the demo trial). Adding a domain means adding its name here.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.machinery import PathFinder
from types import ModuleType

DOMAINS = ("core", "labels", "studies", "accounts", "jobs", "participants", "custody", "samples", "storage",
           "printing", "shipments", "access", "disposal", "consent", "station", "worklists", "clinical",
           "markers",
           "results", "signatures", "audit")
# Policy packages: the rules every path asks (who may see what, what consent allows). They read only models
# (and core), so any domain's services and pages may import them whatever their place in the order above.
POLICIES = ("access", "consent")


def domain_modules(suffix: str) -> list[ModuleType]:
    """Import ``lims.<domain>.<suffix>`` for every domain that has one, in domain order."""
    modules = []
    for domain in DOMAINS:
        package = importlib.util.find_spec(f"lims.{domain}")
        # Looked up in the package's folder: a package without the module is not imported for nothing
        # (``lims --help`` reads only the domains' cli modules; issue 17.4).
        if package is None or PathFinder.find_spec(suffix, package.submodule_search_locations) is None:
            continue
        modules.append(importlib.import_module(f"lims.{domain}.{suffix}"))
    return modules
