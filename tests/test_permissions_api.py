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
