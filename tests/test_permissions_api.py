"""Every cell of the role x action table that has an endpoint, exercised through HTTP.

Allowed roles must get past the guard (any status but 401/403); the others get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lims.core.permissions import ROLES, allowed
from tests.station.conftest import make_bench

USERNAMES = {"admin": "admin", "lab_manager": "lab_manager", "technician": "technician",
             "data_manager": "data_manager", "researcher": "researcher", "pi": "pi", "monitor": "monitor"}


def _probes(bench: Any) -> dict[str, Callable[[Any], Any]]:
    code = bench.plasma[0].accession
    return {
        "read": lambda c: c.get("/api/v1/participants/"),
        "station.act": lambda c: c.post("/api/v1/station/scan", json={"code": code, "mode": "lookup_x"}),
        "samples.register": lambda c: c.post("/samples/labels", data={"accession": [code], "format": "nope"}),
        "audit.read": lambda c: c.get("/audit/"),
        "tokens.own": lambda c: c.get("/account/tokens"),
        "account.self": lambda c: c.get("/account/password"),
        "users.manage": lambda c: c.get("/admin/users/"),
        "samples.dispose": lambda c: c.post("/api/v1/station/scan", json={"code": code, "mode": "dispose"}),
        "disposal.approve": lambda c: c.get("/disposal/requests"),
        "storage.manage": lambda c: c.post(f"/api/v1/storage/units/{bench.box.id}/place", json={}),
        "storage.configure": lambda c: c.post("/api/v1/storage/units", json={}),
        "printers.manage": lambda c: c.post("/api/v1/printing/printers", json={}),
        "shipments.build": lambda c: c.post("/api/v1/shipments/", json={}),
        "shipments.release": lambda c: c.post("/api/v1/shipments/2147483000/release"),
        "shipments.import": lambda c: c.post("/api/v1/shipments/import", json={}),
        "manifests.keys": lambda c: c.get("/api/v1/shipments/keys/"),
        "consent.withdraw": lambda c: c.post("/api/v1/consent/ZJ-PERM/withdraw", json={}),
        "clinical.read": lambda c: c.get("/api/v1/clinical/endpoints"),
        "clinical.queries": lambda c: c.get("/api/v1/clinical/queries"),
        "clinical.import": lambda c: c.get("/api/v1/clinical/imports"),
        "clinical.lock": lambda c: c.post("/clinical/ZJ-NOBODY/lock", data={}),
        "markers.manage": lambda c: c.post("/api/v1/markers/", json={}),
        "markers.import": lambda c: c.post("/api/v1/markers/imports"),
        "export.dataset": lambda c: c.post("/api/v1/markers/exports", json={"form": "tall"}),
        "results.read": lambda c: c.get("/api/v1/results/runs"),
        "signatures.read": lambda c: c.get("/api/v1/signatures/runs"),
        "analysis.run": lambda c: c.post("/api/v1/results/runs", json={}),
        "jobs.admin": lambda c: c.post("/api/v1/jobs/selftest", json={"seconds": -1}),
    }


@pytest.mark.parametrize("role", ROLES)
def test_each_cell(role: str, login, session, study, make_participant, user) -> None:
    bench = make_bench(session, study, make_participant, user, site="ZJ", code="ZJ-PERM")
    client = login(USERNAMES[role])
    for action, probe in _probes(bench).items():
        status = probe(client).status_code
        if allowed(role, action):
            assert status not in (401, 403), f"{role} should be allowed to {action} (got {status})"
        else:
            assert status == 403, f"{role} must be refused {action} (got {status})"


def test_every_action_with_an_endpoint_is_probed() -> None:
    """A new action in the table must come with its probe here (export dates are a choice inside the
    export, tested by the markers export tests)."""
    from types import SimpleNamespace

    from lims.core.permissions import PERMISSIONS

    fake = SimpleNamespace(plasma=[SimpleNamespace(accession="TB-0000001-L")], box=SimpleNamespace(id=1))
    assert set(PERMISSIONS) - set(_probes(fake)) == {"dates.exact"}
