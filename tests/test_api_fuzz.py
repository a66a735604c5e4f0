"""Fuzz every operation of the OpenAPI document (schemathesis): no server errors, responses match schemas.

Authenticated as an admin through an API token, on the run's database holding a few participants and
samples; every request runs inside the test's rolled-back transaction. Generation is derandomised so CI is
repeatable; run with ``--hypothesis-seed=random`` (and remove ``derandomize``) locally to explore further.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from lims import create_app
from lims.accounts.service import create_token
from lims.extensions import db
from tests.station.conftest import make_bench

MAX_EXAMPLES = 15

# The schema is read from an app made at import time; the fixture binds that app to the test's
# connection, so the requests see (and roll back) the same data as the test.
fuzz_app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "WTF_CSRF_ENABLED": False,
                       "INSTANCE_PATH": tempfile.mkdtemp(prefix="lims-fuzz-"), "SECRET_KEY": "fuzz"})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)


@pytest.fixture()
def token(connection, session, study, make_participant, user) -> Iterator[str]:
    make_bench(session, study, make_participant, user, site="ZJ", code="ZJ-FUZZ")
    _, secret = create_token(session, user("admin"), name="fuzz", days=1)
    session.flush()
    db.bind_to(fuzz_app, connection)
    try:
        yield secret
    finally:
        db.bind_to(fuzz_app, None)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_api_never_errors_and_keeps_its_schemas(case, token) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"},
                           checks=[not_a_server_error, response_schema_conformance])
