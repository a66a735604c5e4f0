"""Who may do what: one role x action table that the code checks and the documentation is made from.

``permission_required("action")`` guards a view; ``allowed(role, action)`` answers for a role, and
:mod:`lims.access` adds the site scope for a user and an object (templates ask ``may(action, obj)``);
``lims permissions`` prints the table as Markdown (docs/permissions.md is generated from it and a test
keeps the two equal). Admins may do everything. Site-bound roles work only at their own sites.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lims.core.auth import role_required

ROLES = ("admin", "lab_manager", "technician", "data_manager", "researcher", "pi", "monitor")
EVERYONE = ROLES
# Roles that work at sites: they see and act on their own sites' samples, storage and shipments only.
# The other roles are study-wide (central data management, investigators, monitors).
SITE_BOUND_ROLES = ("technician", "lab_manager")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Permission:
    description: str
    roles: tuple[str, ...]
    signature: bool = False  # needs an e-signature (password re-entered, meaning chosen)


PERMISSIONS: dict[str, Permission] = {
    "read": Permission("Read participants, samples, storage, custody and results", EVERYONE),
    "samples.register": Permission("Register, process, aliquot and label samples",
                                   ("technician", "lab_manager")),
    "station.act": Permission("Receive, check out, check in and thaw samples at the scan station",
                              ("technician", "lab_manager")),
    "samples.dispose": Permission("Dispose of a sample, with the reason", ("technician", "lab_manager")),
    "disposal.approve": Permission("Approve the disposal of samples", ("lab_manager",), signature=True),
    "storage.manage": Permission("Place, move and scan samples into storage", ("technician", "lab_manager")),
    "storage.configure": Permission("Create freezers, racks, boxes and other storage units",
                                    ("lab_manager",)),
    "printers.manage": Permission("Set up the label printers of a site or bench", ("lab_manager",)),
    "shipments.build": Permission("Build and receive shipments", ("technician", "lab_manager")),
    "shipments.release": Permission("Release a shipment to the courier", ("lab_manager",), signature=True),
    "shipments.import": Permission("Import another installation's shipment manifest", ("lab_manager",)),
    "manifests.keys": Permission("See this installation's manifest signing key; trust and revoke partner "
                                 "installations' keys", ()),
    "consent.withdraw": Permission("Record a consent withdrawal", ("data_manager", "lab_manager", "pi")),
    "clinical.read": Permission("Read clinical data, derived endpoints and timelines",
                                ("data_manager", "pi", "researcher", "monitor")),
    "clinical.queries": Permission("Read the data-quality queries of the sites",
                                   ("data_manager", "pi", "monitor")),
    "clinical.import": Permission("Import clinical data from the EDC", ("data_manager",), signature=True),
    "clinical.lock": Permission("Lock a participant's clinical data", ("data_manager",), signature=True),
    "markers.manage": Permission("Edit the marker catalogue", ("data_manager",)),
    "markers.import": Permission("Import marker results", ("data_manager", "researcher")),
    "export.dataset": Permission("Export linked, pseudonymised datasets", ("researcher", "pi")),
    "dates.exact": Permission("See participants' calendar dates (pages, API, exports, figures); "
                              "otherwise study days",
                              ("pi", "data_manager", "monitor", "lab_manager", "technician")),
    "results.read": Permission("See the trial readout, associations and marker reports",
                               ("pi", "researcher", "monitor")),
    "signatures.read": Permission("See multi-marker signature runs", ("pi", "researcher")),
    "analysis.run": Permission("Run and save marker-outcome analyses and signatures", ("researcher", "pi")),
    "audit.read": Permission("Read and export the audit trail", ("monitor", "lab_manager")),
    "tokens.own": Permission("Create and revoke one's own API tokens", EVERYONE),
    "account.self": Permission("Change one's own password and second factor; see and end one's own sessions",
                               EVERYONE),
    "users.manage": Permission("Administer users: create, deactivate, reset a password, remove a lost second "
                               "factor; change role or sites, or reactivate (signed)", (), signature=True),
    "jobs.admin": Permission("See every background job and run the workers' self-test", ()),
}


def allowed(role: str | None, action: str) -> bool:
    """Tell whether ``role`` may perform ``action`` (admins may do everything)."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}: add it to lims.core.permissions.PERMISSIONS")
    return role == "admin" or role in PERMISSIONS[action].roles


def permission_required(action: str) -> Callable[[F], F]:
    """Guard a view with the roles the table gives ``action``."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}: add it to lims.core.permissions.PERMISSIONS")

    def decorator(view: F) -> F:
        guarded = role_required(*(PERMISSIONS[action].roles or ("admin",)))(view)
        guarded.permission = action  # type: ignore[attr-defined]
        return guarded

    return decorator


def markdown() -> str:
    """Render the table as Markdown for docs/permissions.md."""
    head = "| action | what it allows | " + " | ".join(r.replace("_", " ")
                                                       for r in ROLES) + " | e-signature |"
    sep = "|---|---|" + "---|" * len(ROLES) + "---|"
    lines = ["# Permissions", "",
             "Generated from `lims/core/permissions.py` by `lims permissions`; do not edit by hand.",
             "Site-bound roles (" + ", ".join(r.replace("_", " ") for r in SITE_BOUND_ROLES)
             + ") see and act "
             "on the samples, storage and shipments of their own sites only; the other roles are study-wide.",
             "", head, sep]
    for action, perm in PERMISSIONS.items():
        cells = " | ".join("✓" if allowed(role, action) else "" for role in ROLES)
        lines.append(f"| `{action}` | {perm.description} | {cells} | {'required' if perm.signature else ''} "
                     "|")
    return "\n".join(lines) + "\n"

