"""Two edges the live schemathesis run found in the unit of work (both answered 500 on SQLite under load)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from lims.accounts.models import ApiToken
from lims.accounts.service import create_token
from lims.core.models import AuditEvent
from lims.core.uow import run, takes_write_lock
from lims.extensions import db


def test_a_unit_run_again_after_a_collision_takes_the_write_lock_first(app_ctx) -> None:
    # A read-then-write transaction that lost the race once would lose it again under steady writes: the
    # attempts after a collision begin with SQLite's write lock (BEGIN IMMEDIATE) instead.
    seen: list[bool] = []

    def work() -> str:
        seen.append(takes_write_lock())
        if len(seen) == 1:
            raise OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert run(db.session, work) == "done"
    assert seen == [False, True] and takes_write_lock() is False


def test_a_page_no_view_matches_answers_404_and_keeps_the_token_bookkeeping(client, session, user) -> None:
    token, secret = create_token(session, user("admin"), name="script", days=1)
    session.commit()  # into the test's outer transaction: the failed request below rolls back only itself
    response = client.get("/no/such/page", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404 and "<html" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(ApiToken, token.id).last_used_at is not None
    used = session.scalars(select(AuditEvent).where(AuditEvent.action == "token_used")).all()
    assert [e.detail for e in used][-1:] == ["/no/such/page"]
